"""Loguru's text output: the default format and the common variants that add `{extra}` or `req_id=`.

Default: `{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {name}:{function}:{line} - {message}`
(reference 2.1): local time without zone, read as UTC. Request IDs appear only
when the format prints them (`| req_id=...`, `{'request_id': '...'}`).
"""

from __future__ import annotations

import polars as pl

from analyzer.formats import common
from analyzer.formats.base import Format

HEADER = r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)? \| [A-Za-z0-9_]+ *\| "
_CALLER = r"^([^\s:|]+):[^\s:|]+:\d+ - "


def parse(records: pl.DataFrame) -> pl.DataFrame:
    head = pl.col("head")
    parts = head.str.splitn(" | ", 3)
    rest = parts.struct.field("field_2")
    logger = rest.str.extract(_CALLER, 1)
    return records.select(
        common.iso_ts(parts.struct.field("field_0")).alias("ts"),
        common.level(parts.struct.field("field_1")).alias("level"),
        logger.alias("logger"),
        pl.when(logger.is_not_null()).then(rest.str.slice(rest.str.find(" - ", literal=True) + 3)).otherwise(rest).alias("message"),
        common.request_id(head).alias("request_id"),
        *common.kv_http_fields(head),
    )


FORMAT = Format("loguru", HEADER, parse)
