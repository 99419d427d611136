"""Granian's own log lines and its access log (granian/log.py, Granian 2.x).

Granian's `LOGGING_CONFIG` prints its own records as `[%(levelname)s] %(message)s`,
with no time: `[ERROR] Application callable raised an exception`, the traceback on
the lines after it. Its access log (`--access-log`) prints
`DEFAULT_ACCESSLOG_FMT`, `[%(time)s] %(addr)s - "%(method)s %(path)s
%(protocol)s" %(status)d %(dt_ms).3f`, the time as `%Y-%m-%d %H:%M:%S %z` and the
duration in milliseconds:
`[2026-12-04 00:50:20 +0000] 127.0.0.1 - "GET /promo/x HTTP/1.1" 500 0.484`.
The message keeps `addr - "request" status`, the access shape the shared request
step reads (analyzer.ingest.formats.common.request_fields); the duration is read
here, the one field only this layout gives. Records without a time take their
neighbours' (as every time-less record does).
"""

from __future__ import annotations

import polars as pl

from analyzer.ingest.formats import common
from analyzer.ingest.formats.base import Format

_OWN = r"\[(?:CRITICAL|ERROR|WARNING|WARN|INFO|DEBUG)\] "
_ACCESS = r'\[[0-9]{4}-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9] [+-][0-9]{4}\] \S+ - "[A-Z]+ '
HEADER = rf"^(?:{_OWN}|{_ACCESS})"


def parse(records: pl.DataFrame) -> pl.DataFrame:
    head = pl.col("head")
    access = head.str.starts_with("[") & head.str.slice(1, 1).str.contains(r"[0-9]")
    parts = records.select(
        access.alias("access"),
        head.str.slice(1, 19).alias("time"),
        pl.when(access).then(head.str.slice(21, 5)).alias("zone"),  # none: no time
        head.str.splitn("] ", 2).struct.rename_fields(["word", "rest"]).struct.unnest(),  # `[word`, split once
    ).with_columns(pl.col("word").str.slice(1))
    is_access = pl.col("access")
    fields = parts.select(
        pl.col("rest").alias("message"),
        pl.when(is_access).then(pl.lit("granian.access")).otherwise(pl.lit("granian")).alias("logger"),
        pl.when(is_access).then(pl.col("rest").str.extract(r'" [0-9]{3} ([0-9]+(?:\.[0-9]+)?)$', 1).cast(pl.Float64, strict=False))
        .alias("duration_ms"),
    )
    return fields.with_columns(
        common.zoned_times(parts.get_column("time"), "%Y-%m-%d %H:%M:%S", parts.get_column("zone")).alias("ts"),
        common.levels(parts.select(pl.when(is_access).then(pl.lit("INFO")).otherwise(pl.col("word"))).to_series()).alias("level"),
    )


FORMAT = Format("granian", HEADER, parse, rank=65)
