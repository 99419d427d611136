"""Untrusted values: every event field with a range is checked once, after parsing, before any stage uses it.

A log line can hold anything: `"timestamp": 1e300`, a year-10000 Docker time,
a pid of 99999999999999999999, a status of 70000, a negative duration. Turned
into a Python datetime, or added to a window, such a value raised (Polars'
`InvalidOperationError`, `OverflowError: date value out of range`) and the
whole run ended without a report. So parsers convert without failing
(`strict=False`; epoch seconds saturate instead of overflowing, numbers stay
`Float64` until here) and keep an out-of-range value as written, and `check`
sets every value outside its field's range to null and counts it in
`Diagnostics.unparsed` as `"<format>: <field> out of range (<range>), left empty"`:
the record is kept, and the summary says why one of its fields is missing.

Ranges: times (the record's own and the Docker/Compose envelope's) from 1970
to the end of 2199, so that no window or recency arithmetic can leave what
Python's datetime holds; pid a whole number from 0 to 2^31-1; HTTP status a
whole number from 100 to 599; duration from 0 to 10^10 ms (about 115 days).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import polars as pl

from analyzer.diagnostics import Diagnostics
from analyzer.events import SCHEMA, UTC_TS

EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(2199, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

#: Field -> (least, greatest, whole numbers only, how the range reads in the reason).
NUMBERS: Final[dict[str, tuple[float, float, bool, str]]] = {
    "pid": (0, 2**31 - 1, True, "a whole number from 0 to 2147483647"),
    "http_status": (100, 599, True, "a whole number from 100 to 599"),
    "duration_ms": (0, 1e10, False, "0 to 1e10 ms"),
}
#: Time columns -> what the reason calls them (`env_ts`: the Docker json-file or `compose logs -t` time).
TIMES: Final = {"ts": "time", "env_ts": "Docker/Compose time"}
_TIME_RANGE: Final = "1970 to 2199"


def _usable(name: str, dtype: pl.DataType) -> pl.Expr:
    """True where column `name` (of `dtype`) is null or within its range."""
    value = pl.col(name)
    if name in TIMES:
        inside = value.is_between(pl.lit(EARLIEST, dtype=UTC_TS), pl.lit(LATEST, dtype=UTC_TS))
    else:
        least, greatest, whole, _ = NUMBERS[name]
        inside = value.is_between(least, greatest)
        if whole and dtype.is_float():
            inside &= value == value.floor()
    return value.is_null() | inside.fill_null(False)  # NaN compares false: out of range


def _reason(name: str) -> str:
    if name in TIMES:
        return f"{TIMES[name]} out of range ({_TIME_RANGE}), left empty"
    return f"{name} out of range ({NUMBERS[name][3]}), left empty"


def check(events: pl.DataFrame, diag: Diagnostics) -> pl.DataFrame:
    """`events` (with a `format` column) with each out-of-range value set to null, typed as the event schema
    says, and each one counted in `diag.unparsed` by format and field."""
    names = [name for name in (*TIMES, *NUMBERS) if name in events.columns]
    usable = events.select(_usable(name, events.schema[name]).alias(name) for name in names)
    bad = [name for name in names if not usable.get_column(name).all()]
    for name in bad:
        counts = events.filter(~usable.get_column(name)).group_by("format").len()
        for fmt, n in counts.iter_rows():
            diag.unparsed[f"{fmt}: {_reason(name)}"] += n
    dtypes = {**SCHEMA, "env_ts": UTC_TS}
    changed = [name for name in names if name in bad or events.schema[name] != dtypes[name]]
    return events.with_columns(
        pl.when(usable.get_column(name)).then(pl.col(name)).cast(dtypes[name]).alias(name) for name in changed
    )
