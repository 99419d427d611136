"""`key=value` lines (logfmt): structlog's `LogfmtRenderer` and `KeyValueRenderer`, Go-style services.

structlog's renderers (real output, tests/real_lines):
`timestamp=2026-12-03T18:54:58.562559Z level=info event="request finished" method=GET status=200`
(LogfmtRenderer) and `timestamp='2026-12-03T18:54:58.562322Z' level='info' event='request finished' ...`
(KeyValueRenderer, values as Python reprs). A line is logfmt when it starts with
a time or level key; the message is `event`/`msg`/`message`, the logger
`logger`/`logger_name`/`name`. HTTP fields, durations and request IDs come
from the shared steps (analyzer.ingest.normalize).
"""

from __future__ import annotations

import polars as pl

from analyzer.ingest.formats import common
from analyzer.ingest.formats.base import Format

_KEY = r"(?:timestamp|time|ts|t|level|lvl|severity)"
HEADER = rf"""^{_KEY}=(?:"[^"]*"|'[^']*'|\S+) [\w.@-]+="""  # a time or level key, then another key


def _value(*keys: str) -> pl.Expr:
    """The first of `keys` present, unquoted."""
    head = pl.col("head")
    found = [
        head.str.extract(rf"""(?:^| ){key}=(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|(\S*))""", i)
        for key in keys for i in (1, 2, 3)
    ]
    return pl.coalesce(found)


def parse(records: pl.DataFrame) -> pl.DataFrame:
    fields = records.select(
        _value("timestamp", "time", "ts", "t").alias("time"),
        _value("level", "lvl", "severity").alias("lvl"),
        _value("event", "msg", "message").alias("message"),
        _value("logger", "logger_name", "name").alias("logger"),
    )
    return fields.select(
        pl.coalesce(pl.col("message"), records.get_column("head")).alias("message"), "logger"
    ).with_columns(
        common.iso_times(fields.get_column("time")).alias("ts"),
        common.levels(fields.get_column("lvl")).alias("level"),
    )


FORMAT = Format("logfmt", HEADER, parse)
