"""uvicorn's default log lines: `INFO:     ...` lifecycle/error lines and access lines.

Neither kind carries a timestamp, logger name or PID (reference 1.1); access
lines may also appear un-decorated (`127.0.0.1:1 - "GET / HTTP/1.1" 200`) when
routed through gunicorn or a custom formatter (reference 1.2, 1.5).
"""

from __future__ import annotations

import polars as pl

from analyzer.ingest.formats import common
from analyzer.ingest.formats.base import Format

_LEVELS = ["TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
HEADER = r'^(?:(?:TRACE|DEBUG|INFO|WARNING|ERROR|CRITICAL): +|\S+ - "[A-Z]+ \S* HTTP/[0-9.]+" [0-9]{3}(?: |$))'


def parse(records: pl.DataFrame) -> pl.DataFrame:
    head, word = pl.col("head"), pl.col("word")
    # `WORD: ` at the start of a line (the level prefix when WORD is a level; none: an access line)
    lines = records.select(
        head,
        pl.when(head.str.contains(r"^[A-Z]+: ")).then(head.str.slice(0, head.str.find(": ", literal=True))).alias("word"),
    )
    events = lines.select(
        pl.when(word.is_in(_LEVELS))
        .then(head.str.slice(word.str.len_chars() + 1).str.strip_chars_start(" "))
        .otherwise(head)
        .alias("message"),
        head.str.extract(r"(?:Started|Finished) server process \[([0-9]+)\]", 1).cast(pl.Float64, strict=False).alias("pid"),
    )
    events = events.hstack(common.access_fields(events.get_column("message")).get_columns())
    level = common.levels(lines.get_column("word"))
    return events.with_columns(
        pl.when(lines.get_column("word").is_null()).then(pl.lit("info")).otherwise(level).alias("level"),
        pl.when(pl.col("http_status").is_not_null())
        .then(pl.lit("uvicorn.access"))
        .otherwise(pl.lit("uvicorn.error"))
        .alias("logger"),
    )


def light(records: pl.DataFrame) -> pl.DataFrame:
    """What the screen's light parse needs (analyzer.ingest.formats.base.Format.light): no time of its own, a
    record of this header always parses, and a pid only where one may be out of range (ten digits or more; a
    status out of range makes the record a candidate: analyzer.ingest.screen.STATUS)."""
    head = pl.col("head")
    huge = head.str.contains(r"(?:Started|Finished) server process \[[0-9]{10,}\]")
    return records.select(
        pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("ts"), pl.lit("").alias("message"),
        pl.when(huge).then(head.str.extract(r"(?:Started|Finished) server process \[([0-9]+)\]", 1)
                           .cast(pl.Float64, strict=False)).alias("pid"),
    )


FORMAT = Format("uvicorn", HEADER, parse, light=light, rank=100)
