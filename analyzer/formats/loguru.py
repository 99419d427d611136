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
_FIELDS = (
    r"^(?P<ts>\S+(?: \d\d:\d\d:\d\d\S*)?) \| (?P<level>[A-Za-z0-9_]+) *\| "
    r"(?:(?P<name>[^\s:|]+):(?P<function>[^\s:|]+):(?P<line>\d+) - )?(?P<msg>.*)$"
)


def parse(records: pl.DataFrame) -> pl.DataFrame:
    g = pl.col("head").str.extract_groups(_FIELDS)
    return records.select(
        common.iso_ts(g.struct.field("ts")).alias("ts"),
        common.level(g.struct.field("level")).alias("level"),
        g.struct.field("name").alias("logger"),
        g.struct.field("msg").alias("message"),
        common.request_id(pl.col("head")).alias("request_id"),
        *common.kv_http_fields(pl.col("head")),
    )


FORMAT = Format("loguru", HEADER, parse)
