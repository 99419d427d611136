"""PostgreSQL's csvlog: 24 columns on 13, 26 on 14+ (reference 3.2).

Records span lines inside quoted fields, so framing joins lines by quote
balance (`quoted=True`) and the parser reads the joined records with a real CSV
reader (Polars', in Rust).
"""

from __future__ import annotations

import csv
import io

import polars as pl

from analyzer.ingest.formats.base import Format
from analyzer.ingest.formats.postgres import structured_events

HEADER = r"^[0-9]{4}-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9]{3} [A-Za-z0-9+:-]+,"
COLUMNS = (
    "log_time", "user_name", "database_name", "process_id", "connection_from", "session_id",
    "session_line_num", "command_tag", "session_start_time", "virtual_transaction_id", "transaction_id",
    "error_severity", "sql_state_code", "message", "detail", "hint", "internal_query", "internal_query_pos",
    "context", "query", "query_pos", "location", "application_name", "backend_type", "leader_pid", "query_id",
)
_SCHEMA = {name: pl.String for name in COLUMNS}


def _read(texts: pl.Series) -> pl.DataFrame:
    """One CSV row per record; the slow exact reader if the fast one disagrees (damaged quoting)."""
    if len(texts):
        data = io.BytesIO()
        texts.to_frame().write_csv(data, include_header=False, quote_style="never")  # each record as it is, one per line
        try:
            frame = pl.read_csv(data.getvalue(), has_header=False, schema=_SCHEMA, truncate_ragged_lines=True,
                                raise_if_empty=False)
            if frame.height == len(texts):
                return frame
        except pl.exceptions.PolarsError:
            pass
    rows = []
    for text in texts.to_list():
        try:
            row = next(csv.reader(io.StringIO(text)), [])
        except csv.Error:  # e.g. a CR in an unquoted field: all null, so the record is kept as plain and counted
            row = []
        rows.append({name: (row[i] if i < len(row) and row[i] != "" else None) for i, name in enumerate(COLUMNS)})
    return pl.DataFrame(rows, schema=_SCHEMA)


def parse(records: pl.DataFrame) -> pl.DataFrame:
    rows = _read(records.get_column("text"))
    return structured_events(
        rows,
        {"time": "log_time", "pid": "process_id", "severity": "error_severity", "message": "message",
         "sqlstate": "sql_state_code", "user": "user_name", "db": "database_name", "backend": "backend_type"},
        {"DETAIL": "detail", "HINT": "hint", "QUERY": "internal_query", "CONTEXT": "context",
         "LOCATION": "location", "STATEMENT": "query"},
    )


FORMAT = Format("postgres_csv", HEADER, parse, quoted=True, rank=40, database=True)
