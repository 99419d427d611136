"""gunicorn's error log (its own lines and uvicorn workers' records routed through it).

Format `%(asctime)s [%(process)d] [%(levelname)s] %(message)s` with datefmt
`[%Y-%m-%d %H:%M:%S %z]` (reference 1.6).
"""

from __future__ import annotations

import polars as pl

from analyzer.ingest.formats import common
from analyzer.ingest.formats.base import Format

HEADER = r"^\[[0-9]{4}-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9] [+-][0-9]{4}\] \[[0-9]+\] \[[A-Z]+\] "


def parse(records: pl.DataFrame) -> pl.DataFrame:
    head = pl.col("head")
    # the header fixes the layout: `[time zone] [pid] [LEVEL] message`, fields ended by the first `] `s
    parts = records.select(head.str.slice(1, 19).alias("time"), head.str.slice(21, 5).alias("zone"),
                           head.str.splitn("] ", 4).struct.unnest())
    return parts.select(
        pl.col("field_1").str.slice(1).cast(pl.Float64, strict=False).alias("pid"),
        pl.col("field_3").alias("message"),
        pl.lit("gunicorn.error").alias("logger"),
    ).with_columns(
        common.zoned_times(parts.get_column("time"), "%Y-%m-%d %H:%M:%S", parts.get_column("zone")).alias("ts"),
        common.levels(parts.get_column("field_2").str.slice(1)).alias("level"),
    )


FORMAT = Format("gunicorn", HEADER, parse, rank=60)
