"""gunicorn's error log (its own lines and uvicorn workers' records routed through it).

Format `%(asctime)s [%(process)d] [%(levelname)s] %(message)s` with datefmt
`[%Y-%m-%d %H:%M:%S %z]` (reference 1.6).
"""

from __future__ import annotations

import polars as pl

from analyzer.formats import common
from analyzer.formats.base import Format

HEADER = r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[[A-Z]+\] "
_PREFIX = r"^\[[^\]]*\] \[\d+\] \[[A-Z]+\] "


def parse(records: pl.DataFrame) -> pl.DataFrame:
    head = pl.col("head")
    return records.select(
        common.zoned_ts(head.str.slice(1, 19), "%Y-%m-%d %H:%M:%S", head.str.slice(21, 5)).alias("ts"),
        head.str.extract(r"^\[[^\]]*\] \[(\d+)\]", 1).cast(pl.Int64, strict=False).alias("pid"),
        common.level(head.str.extract(r"^\[[^\]]*\] \[\d+\] \[([A-Z]+)\]", 1)).alias("level"),
        head.str.replace(_PREFIX, "").alias("message"),
        pl.lit("gunicorn.error").alias("logger"),
    )


FORMAT = Format("gunicorn", HEADER, parse)
