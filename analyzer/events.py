"""The normalized event: the one Polars schema every stage after framing speaks.

Every format parser produces a frame with exactly these columns (missing values
are nulls, never guesses), so matching, correlation and reports never need to
know which format a record came from. Import the names from here; do not
re-declare columns elsewhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import polars as pl

from analyzer.vocabulary import COLUMN_TYPES, FORMAT_NAMES, LEVELS, SEVERITIES  # noqa: F401 - re-exported


UTC_TS: Final = pl.Datetime("us", "UTC")

#: Column name -> dtype, in report order: the Polars type analyzer.vocabulary's `COLUMN_TYPES` names (there,
#: what each column holds); `ts` is in UTC, to the microsecond.
SCHEMA: Final[dict[str, pl.DataType]] = {
    name: UTC_TS if type_name == "Datetime" else getattr(pl, type_name)() for name, type_name in COLUMN_TYPES.items()
}

COLUMNS: Final = tuple(SCHEMA)


def within_period(since: datetime | None, until: datetime | None) -> pl.Expr | None:
    """The rows whose time is within [since, until) (`--since`/`--until`; a row without a time is not), or
    None when neither bounds it: the one test the analysis, the summary's tally and the record filters share."""
    if since is None and until is None:
        return None
    ts = pl.col("ts")
    keep = ts.is_not_null()
    if since is not None:
        keep &= ts >= since
    if until is not None:
        keep &= ts < until
    return keep


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
