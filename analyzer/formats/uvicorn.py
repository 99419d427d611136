"""uvicorn's default log lines: `INFO:     ...` lifecycle/error lines and access lines.

Neither kind carries a timestamp, logger name or PID (reference 1.1); access
lines may also appear un-decorated (`127.0.0.1:1 - "GET / HTTP/1.1" 200`) when
routed through gunicorn or a custom formatter (reference 1.2, 1.5).
"""

from __future__ import annotations

import polars as pl

from analyzer.formats import common
from analyzer.formats.base import Format

_PREFIX = r"^(?:TRACE|DEBUG|INFO|WARNING|ERROR|CRITICAL): +"
HEADER = r'^(?:(?:TRACE|DEBUG|INFO|WARNING|ERROR|CRITICAL): +|\S+ - "[A-Z]+ \S* HTTP/[0-9.]+" \d{3}(?: |$))'


def parse(records: pl.DataFrame) -> pl.DataFrame:
    head = pl.col("head")
    word = head.str.extract(r"^([A-Z]+): ", 1)
    message = pl.when(word.is_not_null()).then(head.str.replace(_PREFIX, "")).otherwise(head)
    return records.select(
        message.alias("message"),
        pl.when(word.is_null()).then(pl.lit("info")).otherwise(common.level(word)).alias("level"),
        *common.access_fields(message),
        head.str.extract(r"(?:Started|Finished) server process \[(\d+)\]", 1).cast(pl.Int64, strict=False).alias("pid"),
    ).with_columns(
        pl.when(pl.col("http_status").is_not_null())
        .then(pl.lit("uvicorn.access"))
        .otherwise(pl.lit("uvicorn.error"))
        .alias("logger"),
    )


FORMAT = Format("uvicorn", HEADER, parse)
