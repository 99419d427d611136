"""PostgreSQL's csvlog: 24 columns on 13, 26 on 14+ (reference 3.2).

Records span lines inside quoted fields, so framing joins lines by quote
balance (`quoted=True`) and the parser reads the joined records with a real CSV
reader (Polars', in Rust).
"""

from __future__ import annotations

import csv
import io

import polars as pl

from analyzer.formats import common
from analyzer.formats.base import Format
from analyzer.formats.postgres import record_text, statement_duration

HEADER = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [A-Za-z0-9+:-]+,"
COLUMNS = (
    "log_time", "user_name", "database_name", "process_id", "connection_from", "session_id",
    "session_line_num", "command_tag", "session_start_time", "virtual_transaction_id", "transaction_id",
    "error_severity", "sql_state_code", "message", "detail", "hint", "internal_query", "internal_query_pos",
    "context", "query", "query_pos", "location", "application_name", "backend_type", "leader_pid", "query_id",
)
_SCHEMA = {name: pl.String for name in COLUMNS}


def _read(texts: list[str]) -> pl.DataFrame:
    """One CSV row per record; the slow exact reader if the fast one disagrees (damaged quoting)."""
    if texts:
        try:
            frame = pl.read_csv(
                "\n".join(texts).encode(), has_header=False, schema=_SCHEMA, truncate_ragged_lines=True,
                raise_if_empty=False,
            )
            if frame.height == len(texts):
                return frame
        except pl.exceptions.PolarsError:
            pass
    rows = []
    for text in texts:
        row = next(csv.reader(io.StringIO(text)), [])
        rows.append({name: (row[i] if i < len(row) and row[i] != "" else None) for i, name in enumerate(COLUMNS)})
    return pl.DataFrame(rows, schema=_SCHEMA)


def parse(records: pl.DataFrame) -> pl.DataFrame:
    rows = _read(records.get_column("text").to_list())
    c = pl.col
    zone = c("log_time").str.extract(r" (\S+)$", 1)
    return rows.select(
        common.zoned_ts(c("log_time").str.replace(r" \S+$", ""), "%Y-%m-%d %H:%M:%S%.f", zone).alias("ts"),
        c("process_id").cast(pl.Int64, strict=False).alias("pid"),
        common.level(c("error_severity")).alias("level"),
        c("message").str.split("\n").list.first().alias("message"),
        c("sql_state_code").alias("sqlstate"),
        c("user_name").alias("db_user"),
        c("database_name").alias("db_name"),
        pl.coalesce(c("backend_type"), pl.lit("postgres")).alias("logger"),
        statement_duration(c("message")).alias("duration_ms"),
        record_text(
            c("log_time"), c("process_id"), c("error_severity"), c("message"),
            {"DETAIL": c("detail"), "HINT": c("hint"), "QUERY": c("internal_query"), "CONTEXT": c("context"),
             "LOCATION": c("location"), "STATEMENT": c("query")},
        ).alias("text"),
    )


FORMAT = Format("postgres_csv", HEADER, parse, quoted=True)
