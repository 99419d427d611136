"""PostgreSQL's jsonlog (15+): one object per line, keys present only when set (reference 3.3)."""

from __future__ import annotations

import polars as pl

from analyzer.ingest.formats.base import Format
from analyzer.ingest.formats.postgres import structured_events
from analyzer.ingest.jsonrows import decode

HEADER = r'^\{"timestamp":"[0-9]{4}-[0-9][0-9]-[0-9][0-9] '
_KEYS = (
    "timestamp", "user", "dbname", "pid", "remote_host", "session_id", "error_severity", "state_code", "message",
    "detail", "hint", "internal_query", "context", "statement", "func_name", "file_name", "application_name",
    "backend_type",
)
_SCHEMA = pl.Struct({key: pl.String for key in _KEYS})


def parse(records: pl.DataFrame) -> pl.DataFrame:
    rows = decode(records.get_column("head"), _SCHEMA)
    events = structured_events(
        rows,
        {"time": "timestamp", "pid": "pid", "severity": "error_severity", "message": "message",
         "sqlstate": "state_code", "user": "user", "db": "dbname", "backend": "backend_type"},
        {"DETAIL": "detail", "HINT": "hint", "QUERY": "internal_query", "CONTEXT": "context", "STATEMENT": "statement"},
    )
    return events.with_columns(pl.when(rows.get_column("_valid")).then(pl.col("message").fill_null("")).alias("message"))


FORMAT = Format("postgres_json", HEADER, parse, one_line=True, rank=20, database=True)
