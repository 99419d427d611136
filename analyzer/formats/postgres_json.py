"""PostgreSQL's jsonlog (15+): one object per line, keys present only when set (reference 3.3)."""

from __future__ import annotations

import polars as pl

from analyzer.formats import common
from analyzer.formats.base import Format
from analyzer.jsonrows import decode
from analyzer.formats.postgres import record_text, statement_duration

HEADER = r'^\{"timestamp":"\d{4}-\d\d-\d\d '
_KEYS = (
    "timestamp", "user", "dbname", "pid", "remote_host", "session_id", "error_severity", "state_code", "message",
    "detail", "hint", "internal_query", "context", "statement", "func_name", "file_name", "application_name",
    "backend_type",
)
_SCHEMA = pl.Struct({key: pl.String for key in _KEYS})


def parse(records: pl.DataFrame) -> pl.DataFrame:
    rows = decode(records.get_column("head"), _SCHEMA)
    c = pl.col
    zone = c("timestamp").str.extract(r" (\S+)$", 1)
    return rows.select(
        common.zoned_ts(c("timestamp").str.replace(r" \S+$", ""), "%Y-%m-%d %H:%M:%S%.f", zone).alias("ts"),
        c("pid").cast(pl.Int64, strict=False).alias("pid"),
        common.level(c("error_severity")).alias("level"),
        c("message").str.split("\n").list.first().alias("message"),
        c("state_code").alias("sqlstate"),
        c("user").alias("db_user"),
        c("dbname").alias("db_name"),
        pl.coalesce(c("backend_type"), pl.lit("postgres")).alias("logger"),
        statement_duration(c("message")).alias("duration_ms"),
        record_text(
            c("timestamp"), c("pid"), c("error_severity"), c("message"),
            {"DETAIL": c("detail"), "HINT": c("hint"), "QUERY": c("internal_query"), "CONTEXT": c("context"),
             "STATEMENT": c("statement")},
        ).alias("text"),
    )


FORMAT = Format("postgres_json", HEADER, parse)
