"""The normalized event: the one Polars schema every stage after framing speaks.

Every format parser produces a frame with exactly these columns (missing values
are nulls, never guesses), so matching, correlation and reports never need to
know which format a record came from. Import the names from here; do not
re-declare columns elsewhere.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from analyzer.vocabulary import FORMAT_NAMES, LEVELS, SEVERITIES  # noqa: F401 - re-exported: the columns' vocabulary


UTC_TS: Final = pl.Datetime("us", "UTC")

#: Column name -> dtype, in report order.
SCHEMA: Final[dict[str, pl.DataType]] = {
    "ts": UTC_TS,  # UTC; null when nothing gives a time
    "ts_inferred": pl.Boolean(),  # ts taken from a neighbour, not the record itself
    "source": pl.String(),  # file path, or "-" for stdin
    "line_no": pl.Int64(),  # 1-based line of the record's first line in `source`
    "line_count": pl.Int32(),  # physical lines joined into this record
    "service": pl.String(),  # compose service / container / file stem
    "stream": pl.String(),  # stdout / stderr when the envelope says so
    "format": pl.String(),
    "level": pl.String(),  # one of LEVELS, or null
    "logger": pl.String(),
    "pid": pl.Int64(),
    "message": pl.String(),  # first line of the record's message
    "text": pl.String(),  # the whole record, prefix included
    "request_id": pl.String(),
    "http_method": pl.String(),
    "http_path": pl.String(),  # without the query string
    "http_route": pl.String(),  # the route template (`/orders/{order_id}`) when the record names it
    "http_status": pl.Int32(),
    "duration_ms": pl.Float64(),
    "exc_type": pl.String(),  # last exception type of a traceback
    "sqlstate": pl.String(),  # PostgreSQL SQLSTATE when the log carries it
    "db_user": pl.String(),
    "db_name": pl.String(),
}

COLUMNS: Final = tuple(SCHEMA)


def empty_events() -> pl.DataFrame:
    """An event frame with no rows and the full schema."""
    return pl.DataFrame(schema=SCHEMA)


def conform(frame: pl.DataFrame) -> pl.DataFrame:
    """Return `frame` with exactly the event columns, in order, with their dtypes.

    Columns a parser did not produce become nulls; extra columns are dropped.
    """
    exprs = []
    for name, dtype in SCHEMA.items():
        if name in frame.columns:
            exprs.append(pl.col(name).cast(dtype, strict=False))
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
    return frame.select(exprs)
