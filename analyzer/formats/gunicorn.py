"""gunicorn's error log (its own lines and uvicorn workers' records routed through it).

Format `%(asctime)s [%(process)d] [%(levelname)s] %(message)s` with datefmt
`[%Y-%m-%d %H:%M:%S %z]` (reference 1.6).
"""

from __future__ import annotations

import polars as pl

from analyzer.formats import common
from analyzer.formats.base import Format

HEADER = r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[[A-Z]+\] "
_FIELDS = r"^\[(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (?P<tz>[+-]\d{4})\] \[(?P<pid>\d+)\] \[(?P<level>[A-Z]+)\] (?P<msg>.*)$"


def parse(records: pl.DataFrame) -> pl.DataFrame:
    g = pl.col("head").str.extract_groups(_FIELDS)
    return records.select(
        common.zoned_ts(g.struct.field("ts"), "%Y-%m-%d %H:%M:%S", g.struct.field("tz")).alias("ts"),
        g.struct.field("pid").cast(pl.Int64, strict=False).alias("pid"),
        common.level(g.struct.field("level")).alias("level"),
        g.struct.field("msg").alias("message"),
        pl.lit("gunicorn.error").alias("logger"),
    )


FORMAT = Format("gunicorn", HEADER, parse)
