"""Loguru's text output: the default format and the common variants that add `{extra}` or `req_id=`.

Default: `{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {name}:{function}:{line} - {message}`
(reference 2.1): local time without zone, read as UTC. Request IDs appear only
when the format prints them (`| req_id=...`, `{'request_id': '...'}`) and are
read from the text like every format's (analyzer.ingest.normalize).
"""

from __future__ import annotations

import polars as pl

from analyzer.ingest.formats import common
from analyzer.ingest.formats.base import Format

HEADER = r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)? \| [A-Za-z0-9_]+ *\| "
_CALLER = r"^([^\s:|]+):[^\s:|]+:\d+ - "


def parse(records: pl.DataFrame) -> pl.DataFrame:
    head = records.get_column("head")
    parts = head.to_frame().select(pl.col("head").str.splitn(" | ", 3).struct.unnest())
    rest, logger = pl.col("field_2"), pl.col("logger")
    events = parts.with_columns(rest.str.extract(_CALLER, 1).alias("logger")).select(
        logger,
        pl.when(logger.is_not_null()).then(rest.str.slice(rest.str.find(" - ", literal=True) + 3)).otherwise(rest).alias("message"),
    )
    return events.with_columns(
        common.iso_times(parts.get_column("field_0")).alias("ts"),
        common.levels(parts.get_column("field_1")).alias("level"),
    ).hstack(common.kv_http_fields(head).get_columns())


FORMAT = Format("loguru", HEADER, parse)
