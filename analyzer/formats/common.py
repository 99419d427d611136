"""Building blocks every format parser shares: levels, timestamps, HTTP access
fields, request IDs and traceback exception types.

All of it works on Polars expressions over whole columns, except
`exception_types`, which runs Python only on the few records that hold a
traceback.
"""

from __future__ import annotations

from typing import Final

import polars as pl
import regex

from analyzer.events import UTC_TS

#: Level words of every supported format -> canonical level.
LEVEL_MAP: Final[dict[str, str]] = {
    "TRACE": "debug",
    "DEBUG": "debug",
    "DEBUG1": "debug",
    "DEBUG2": "debug",
    "DEBUG3": "debug",
    "DEBUG4": "debug",
    "DEBUG5": "debug",
    "INFO": "info",
    "SUCCESS": "info",
    "NOTICE": "info",
    "LOG": "info",
    "WARNING": "warning",
    "WARN": "warning",
    "WARNI": "warning",  # alembic's %(levelname)-5.5s
    "ERROR": "error",
    "ERR": "error",
    "FATAL": "critical",
    "PANIC": "critical",
    "CRITICAL": "critical",
    "CRITI": "critical",
    "CRIT": "critical",
    "ALERT": "critical",
    "EMERGENCY": "critical",
    "EXCEPTION": "error",
}


def level(expr: pl.Expr) -> pl.Expr:
    """Canonical level from a level word (any case, padded); unknown words give null."""
    return expr.str.strip_chars().str.to_uppercase().replace_strict(LEVEL_MAP, default=None, return_dtype=pl.String)


#: Zone abbreviations PostgreSQL's %m/%t may print, in minutes east of UTC.
ZONE_OFFSETS: Final[dict[str, int]] = {
    "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 60, "CET": 60, "CEST": 120, "MET": 60, "MEST": 120,
    "EET": 120, "EEST": 180, "MSK": 180, "IST": 330, "CST": -360, "CDT": -300, "EST": -300, "EDT": -240,
    "MST": -420, "MDT": -360, "PST": -480, "PDT": -420, "AKST": -540, "AKDT": -480, "HST": -600,
    "JST": 540, "KST": 540, "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780, "BST": 60,
}


def naive_ts(expr: pl.Expr, fmt: str) -> pl.Expr:
    """Parse a zone-less timestamp as UTC (the assumption for logs that print local time)."""
    return expr.str.to_datetime(fmt, time_unit="us", strict=False).dt.replace_time_zone("UTC")


def zoned_ts(expr: pl.Expr, fmt: str, zone: pl.Expr) -> pl.Expr:
    """Parse a timestamp whose zone is a separate abbreviation or ±hh[:]mm text."""
    base = naive_ts(expr, fmt)
    offset = (
        pl.when(zone.str.contains(r"^[+-]\d\d:?\d\d$"))
        .then(
            zone.str.slice(1, 2).cast(pl.Int32, strict=False) * 60
            + zone.str.slice(-2, 2).cast(pl.Int32, strict=False)
        )
        .otherwise(zone.replace_strict(ZONE_OFFSETS, default=0, return_dtype=pl.Int32))
    )
    sign = pl.when(zone.str.starts_with("-")).then(-1).otherwise(1)
    return (base - pl.duration(minutes=offset * sign)).cast(UTC_TS)


def iso_ts(expr: pl.Expr) -> pl.Expr:
    """Parse ISO 8601 / RFC 3339 text (with or without zone, any fraction) to UTC."""
    cleaned = expr.str.replace(r"^(\d{4}-\d\d-\d\d) ", "${1}T").str.replace(r"Z$", "+00:00").str.replace(
        r"([+-]\d\d)(\d\d)$", "${1}:${2}"
    )
    with_zone = cleaned.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", time_unit="us", time_zone="UTC", strict=False)
    without = cleaned.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us", strict=False).dt.replace_time_zone("UTC")
    return pl.coalesce(with_zone, without)


def epoch_ts(expr: pl.Expr) -> pl.Expr:
    """Seconds since the epoch (float) to a UTC timestamp."""
    return (expr.cast(pl.Float64, strict=False) * 1_000_000).cast(pl.Int64).cast(UTC_TS)


ACCESS_PATTERN: Final = r'^\S* - "[A-Z]+ \S* HTTP/[0-9.]+" \d{3}(?: |$)'


def access_fields(message: pl.Expr) -> list[pl.Expr]:
    """HTTP method, path (without query string) and status of an access-line message.

    Matches uvicorn's access message with or without its reason phrase
    (`127.0.0.1:43540 - "POST /items HTTP/1.1" 422 Unprocessable Entity`).
    """
    is_access = message.str.contains(ACCESS_PATTERN)
    request = message.str.extract(r'^\S* - "([A-Z]+ \S*) HTTP/[0-9.]+" \d{3}', 1)
    space = request.str.find(" ", literal=True)
    return [
        request.str.slice(0, space).alias("http_method"),
        request.str.slice(space + 1).str.replace(r"\?.*$", "").alias("http_path"),
        pl.when(is_access).then(message.str.extract(r'HTTP/[0-9.]+" (\d{3})', 1)).cast(pl.Int32, strict=False).alias("http_status"),
    ]


REQUEST_ID_PATTERN: Final = (
    r"(?i)(?-u:\b)(?:req(?:uest)?[_-]?id|correlation[_-]?id|x-request-id|x-correlation-id)"
    r"""['"]?\s*[=:]\s*['"]?([A-Za-z0-9][A-Za-z0-9._:/-]{2,127})"""
)


def request_id(text: pl.Expr) -> pl.Expr:
    """A request/correlation ID written as `req_id=...`, `request_id: ...`, `{'request_id': '...'}`, `X-Request-ID: ...`."""
    return text.str.extract(REQUEST_ID_PATTERN, 1)


DURATION_PATTERN: Final = (
    r"(?i)(?-u:\b)(?:duration(?:_ms)?|elapsed(?:_ms)?|took|latency(?:_ms)?|time_ms)[=:]\s*([0-9]+(?:\.[0-9]+)?\s*(?:ms|s)?)(?-u:\b)"
)


def duration_ms(text: pl.Expr) -> pl.Expr:
    """A request duration written as `duration_ms=12.5`, `duration=1.2s`, `took: 120ms`... in milliseconds."""
    found = text.str.extract(DURATION_PATTERN, 1)
    value = found.str.extract(r"^([0-9.]+)", 1).cast(pl.Float64, strict=False)
    seconds = found.str.ends_with("s") & ~found.str.ends_with("ms")
    return pl.when(seconds).then(value * 1000).otherwise(value)


_TRACEBACK = "Traceback (most recent call last):"
_EXC_LINE = regex.compile(r"^(?:\| )?([A-Za-z_][\w.]*)(?::\s|:$|$)")


def _last_exception(text: str) -> str | None:
    """Type of the exception a (possibly chained) traceback ends with."""
    start = text.rfind(_TRACEBACK)
    if start < 0:
        return None
    for line in text[start + len(_TRACEBACK) :].splitlines():
        if not line or line[0] in " \t>" or line.startswith(("During handling", "The above exception")):
            continue
        m = _EXC_LINE.match(line)
        if m:
            return m.group(1)
    return None


def exception_types(text: pl.Series) -> pl.Series:
    """Exception type per record (null where the record has no traceback).

    Only records containing a traceback are visited in Python; the rest stay null.
    """
    has_tb = text.str.contains(_TRACEBACK, literal=True).fill_null(False)
    out = pl.Series("exc_type", [None] * len(text), dtype=pl.String)
    if has_tb.any():
        idx = has_tb.arg_true()
        values = [_last_exception(t) for t in text.gather(idx).to_list()]
        out = out.scatter(idx, pl.Series(values, dtype=pl.String))
    return out


_KV_METHOD: Final = r"""(?-u:\b)(?:method|http_method)['"]?[=:]\s*['"]?([A-Z]{3,7})(?-u:\b)"""
_KV_PATH: Final = r"""(?-u:\b)(?:path|route|http_path|url_path|endpoint)['"]?[=:]\s*['"]?(/[^\s'",?]*)"""
_KV_STATUS: Final = r"""(?-u:\b)(?:status|status_code|http_status)['"]?[=:]\s*['"]?([1-5]\d\d)(?-u:\b)"""


def kv_http_fields(text: pl.Expr) -> list[pl.Expr]:
    """HTTP fields an application writes as key=value (`method=GET path=/x status=500 duration_ms=12`)."""
    return [
        text.str.extract(_KV_METHOD, 1).alias("http_method"),
        text.str.extract(_KV_PATH, 1).alias("http_path"),
        text.str.extract(_KV_STATUS, 1).cast(pl.Int32, strict=False).alias("http_status"),
        duration_ms(text).alias("duration_ms"),
    ]
