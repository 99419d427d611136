"""Building blocks every format parser shares: levels, timestamps, HTTP access
fields, request IDs, durations and traceback exception types.

All of it works on Polars over whole columns; `exception_types` runs Python
only on the few records that hold a traceback. Where a rule is costly per row,
the column functions here (`levels`, `zoned_times`, `iso_times`, `request_ids`,
...) give exactly what the expression of the same rule gives, more cheaply:
work that depends only on a value is done once per distinct value, common
shapes are parsed directly and the general rule runs on the other rows only,
and patterns are matched without capture groups where the match itself tells
the value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


# Column helpers: rules computed once per distinct value, or only on the rows that need them.


def level(expr: pl.Expr) -> pl.Expr:
    """Canonical level from a level word (any case, padded); unknown words give null."""
    return expr.str.strip_chars().str.to_uppercase().replace_strict(LEVEL_MAP, default=None, return_dtype=pl.String)


def by_value(values: pl.Series, rules: Callable[[pl.DataFrame], pl.DataFrame]) -> pl.DataFrame:
    """Columns that depend only on a value, computed once per distinct value and spread to every row.

    `rules` gets the distinct values as column `v` and returns one row per value.
    Nulls give nulls.
    """
    distinct = values.unique().drop_nulls()
    fields = rules(distinct.to_frame("v"))
    codes = values.cast(pl.Enum(distinct)).to_physical()
    return fields.select(pl.all().gather(codes))


def per_value(values: pl.Series, rule: pl.Expr) -> pl.Series:
    """`rule` (an expression of `pl.col("v")`) applied to every value, computed once per distinct value."""
    return by_value(values, lambda distinct: distinct.select(rule)).to_series()


def levels(words: pl.Series) -> pl.Series:
    """`level` of each word (there are few distinct words)."""
    return per_value(words, level(pl.col("v")))


def patch(frame: pl.DataFrame, rows: pl.Series, values: pl.DataFrame) -> pl.DataFrame:
    """`frame` with the columns of `values` replaced at `rows` (row indices, or a mask) by `values`, in order."""
    at = rows.arg_true() if rows.dtype == pl.Boolean else rows
    return frame.with_columns(frame.get_column(c).clone().scatter(at, values.get_column(c)) for c in values.columns)


def on_rows(mask: pl.Series, values: pl.Series, default: object) -> pl.Series:
    """A column holding `values` (one per true value of `mask`, in order) at those rows and `default` elsewhere."""
    return pl.repeat(default, len(mask), dtype=values.dtype, eager=True).scatter(mask.arg_true(), values)


def fill_nulls(values: pl.Series, rows: pl.DataFrame, rule: pl.Expr) -> pl.Series:
    """`values`, its nulls replaced by `rule` evaluated on those rows of `rows` only."""
    missing = values.is_null()
    if not missing.any():
        return values
    if missing.all():
        return rows.select(rule).to_series().cast(values.dtype)
    return values.clone().scatter(missing.arg_true(), rows.filter(missing).select(rule).to_series())


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


def _zone_minutes(zone: pl.Expr) -> pl.Expr:
    """Minutes east of UTC of a zone abbreviation or ±hh[:]mm text (unknown abbreviations: 0)."""
    offset = (
        pl.when(zone.str.contains(r"^[+-]\d\d:?\d\d$"))
        .then(
            zone.str.slice(1, 2).cast(pl.Int32, strict=False) * 60
            + zone.str.slice(-2, 2).cast(pl.Int32, strict=False)
        )
        .otherwise(zone.replace_strict(ZONE_OFFSETS, default=0, return_dtype=pl.Int32))
    )
    return offset * pl.when(zone.str.starts_with("-")).then(-1).otherwise(1)


def zoned_times(local: pl.Series, fmt: str, zone: pl.Series) -> pl.Series:
    """Parse local timestamps whose zone is a separate abbreviation or ±hh[:]mm text (a null zone gives null).

    The zone's offset is worked out once per distinct zone.
    """
    minutes = per_value(zone, _zone_minutes(pl.col("v")))
    frame = pl.DataFrame({"t": local, "m": minutes})
    return frame.select((naive_ts(pl.col("t"), fmt) - pl.duration(minutes=pl.col("m"))).cast(UTC_TS)).to_series()


def iso_ts(expr: pl.Expr) -> pl.Expr:
    """Parse ISO 8601 / RFC 3339 text (with or without zone, any fraction) to UTC."""
    cleaned = expr.str.replace(r"^(\d{4}-\d\d-\d\d) ", "${1}T").str.replace(r"Z$", "+00:00").str.replace(
        r"([+-]\d\d)(\d\d)$", "${1}:${2}"
    )
    with_zone = cleaned.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", time_unit="us", time_zone="UTC", strict=False)
    without = cleaned.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us", strict=False).dt.replace_time_zone("UTC")
    return pl.coalesce(with_zone, without)


#: Shapes of ISO text whose format `iso_ts` reads them with: parsing them directly gives the same time.
_ISO_SHAPES: Final = (
    (r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?$", "%Y-%m-%d %H:%M:%S%.f"),
    (r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$", "%Y-%m-%dT%H:%M:%S%.fZ"),
)


def iso_times(text: pl.Series) -> pl.Series:
    """`iso_ts` of a column: the usual shapes (zone-less, or `Z`) are parsed directly, each on the rows
    still without a time, and `iso_ts` reads the rest."""
    t = pl.col("t")
    frame = text.to_frame("t")
    times = pl.repeat(None, len(text), dtype=UTC_TS, eager=True)
    for shape, fmt in _ISO_SHAPES:
        times = fill_nulls(times, frame, pl.when(t.str.contains(shape)).then(naive_ts(t, fmt)))
    return fill_nulls(times, frame, iso_ts(t))


def epoch_ts(expr: pl.Expr) -> pl.Expr:
    """Seconds since the epoch (float) to a UTC timestamp; text that is no number gives null.

    Never fails: a value beyond what a timestamp holds (`1e300`, `inf`) saturates at about ±285,000
    years, so that analyzer.ingest.bounds finds it out of range and says so.
    """
    micros = expr.cast(pl.Float64, strict=False).fill_nan(None) * 1_000_000
    return micros.clip(-9e18, 9e18).cast(pl.Int64).cast(UTC_TS)


#: An access-line message after its client (`127.0.0.1:43540 - "`), up to its status: `POST /items?x=1 HTTP/1.1" 422`.
REQUEST_LINE: Final = r'^[A-Z]+ \S* HTTP/[0-9.]+" \d{3}'


def _request_fields(request: pl.DataFrame) -> pl.DataFrame:
    """HTTP fields of request lines (column `v`); nulls where the text is not one."""
    v, ok = pl.col("v"), pl.col("ok")
    return request.with_columns(v.str.contains(REQUEST_LINE).alias("ok")).select(
        pl.when(ok).then(v.str.extract(r"^([A-Z]+) ", 1)).alias("http_method"),
        pl.when(ok).then(v.str.extract(r"^[A-Z]+ ([^\s?]*)", 1)).alias("http_path"),
        pl.when(ok).then(v.str.extract(r'^[A-Z]+ \S* HTTP/[0-9.]+" (\d{3})(?: |$)', 1)).cast(pl.Int32, strict=False).alias("http_status"),
    )


def access_fields(message: pl.Series) -> pl.DataFrame:
    """HTTP method, path (without query string) and status of access-line messages (nulls for other messages).

    Matches uvicorn's access message with or without its reason phrase
    (`127.0.0.1:43540 - "POST /items HTTP/1.1" 422 Unprocessable Entity`); the
    status only counts when a space or the end of the message follows it. The
    client has no whitespace, so it ends at the first ` - "`; what follows is
    one of a few hundred request lines, each read once.
    """
    m = pl.col("m")
    parts = message.to_frame("m").select(m.str.splitn(' - "', 2).struct.unnest())
    client_ok = parts.select(pl.col("field_0").str.contains(r"\s").not_()).to_series()
    request = parts.select(pl.when(client_ok).then(pl.col("field_1"))).to_series()
    return by_value(request, _request_fields)


_REQUEST_ID_KEY: Final = (
    r"""(?i)(?-u:\b)(?:req(?:uest)?[_-]?id|correlation[_-]?id|x-request-id|x-correlation-id)['"]?\s*[=:]\s*['"]?"""
)
REQUEST_ID_PATTERN: Final = _REQUEST_ID_KEY + "([A-Za-z0-9][A-Za-z0-9._:/-]{2,127})"


def _after_key(text: pl.Series, pattern: str, key: str) -> pl.Series:
    """The group that ends `pattern` (its first match in each value): the match found without capture
    groups, less its leading `key` part, which the match begins with and which cannot end anywhere else."""
    t = pl.col("t")
    return text.to_frame("t").select(t.str.extract_all(pattern).list.first().str.replace("^" + key, "")).to_series()


def request_ids(text: pl.Series) -> pl.Series:
    """A request/correlation ID written as `req_id=...`, `request_id: ...`, `{'request_id': '...'}`,
    `X-Request-ID: ...`: the group of `REQUEST_ID_PATTERN` in its first match."""
    return _after_key(text, REQUEST_ID_PATTERN, _REQUEST_ID_KEY)


_DURATION_KEY: Final = r"(?i)(?-u:\b)(?:duration(?:_ms)?|elapsed(?:_ms)?|took|latency(?:_ms)?|time_ms)[=:]\s*"
DURATION_PATTERN: Final = _DURATION_KEY + r"([0-9]+(?:\.[0-9]+)?\s*(?:ms|s)?)(?-u:\b)"


def to_ms(found: pl.Expr) -> pl.Expr:
    """A duration text (`12.5`, `1.2s`, `120ms`, `3 ms`) in milliseconds."""
    value = found.str.extract(r"^([0-9.]+)", 1).cast(pl.Float64, strict=False)
    seconds = found.str.ends_with("s") & ~found.str.ends_with("ms")
    return pl.when(seconds).then(value * 1000).otherwise(value)


def durations_ms(text: pl.Series) -> pl.Series:
    """A request duration written as `duration_ms=12.5`, `duration=1.2s`, `took: 120ms`... in milliseconds."""
    found = _after_key(text, DURATION_PATTERN, _DURATION_KEY)
    return found.to_frame("d").select(to_ms(pl.col("d"))).to_series()


_TRACEBACK = "Traceback (most recent call last):"
_EXC_LINE = regex.compile(r"^(?:\| )?([A-Za-z_][\w.]*)(?::\s|:$|$)")


def _after_last_traceback(text: str) -> Iterator[str]:
    """The unindented lines after a record's last `Traceback` header: the exception line comes first.

    Frames (indented), Loguru's `> File` and caret lines, and chained-exception
    separators are skipped. Nothing when the record holds no traceback.
    """
    start = text.rfind(_TRACEBACK)
    if start < 0:
        return
    for line in text[start + len(_TRACEBACK) :].splitlines():
        if line and line[0] not in " \t>^~" and not line.startswith(("During handling", "The above exception")):
            yield line


def _last_exception(text: str) -> str | None:
    """Type of the exception a (possibly chained) traceback ends with."""
    for line in _after_last_traceback(text):
        m = _EXC_LINE.match(line)
        if m:
            return m.group(1)
    return None


def exception_line(text: str) -> str | None:
    """The `Type: message` line a (possibly chained) traceback ends with, or None."""
    return next((line.removeprefix("| ").strip() for line in _after_last_traceback(text)), None)


def per_traceback(text: pl.Series, name: str, read: Callable[[str], str | None]) -> pl.Series:
    """`read` applied to the records that hold a traceback (in Python, few rows); null elsewhere."""
    has_tb = text.str.contains(_TRACEBACK, literal=True).fill_null(False)
    out = pl.repeat(None, len(text), dtype=pl.String, eager=True).alias(name)
    if has_tb.any():
        idx = has_tb.arg_true()
        out = out.scatter(idx, pl.Series([read(t) for t in text.gather(idx).to_list()], dtype=pl.String))
    return out


def exception_types(text: pl.Series) -> pl.Series:
    """Exception type per record (null where the record has no traceback)."""
    return per_traceback(text, "exc_type", _last_exception)


def exception_lines(text: pl.Series) -> pl.Series:
    """The exception line per record (null where the record has no traceback)."""
    return per_traceback(text, "exc_line", exception_line)


_KV_METHOD: Final = r"""(?-u:\b)(?:method|http_method)['"]?[=:]\s*['"]?([A-Z]{3,7})(?-u:\b)"""
_KV_PATH: Final = r"""(?-u:\b)(?:path|route|http_path|url_path|endpoint)['"]?[=:]\s*['"]?(/[^\s'",?]*)"""
_KV_STATUS: Final = r"""(?-u:\b)(?:status|status_code|http_status)['"]?[=:]\s*['"]?([1-5]\d\d)(?-u:\b)"""


def kv_http_fields(text: pl.Series) -> pl.DataFrame:
    """HTTP fields an application writes as key=value (`method=GET path=/x status=500 duration_ms=12`)."""
    t = pl.col("t")
    fields = text.to_frame("t").select(
        t.str.extract(_KV_METHOD, 1).alias("http_method"),
        t.str.extract(_KV_PATH, 1).alias("http_path"),
        t.str.extract(_KV_STATUS, 1).cast(pl.Int32, strict=False).alias("http_status"),
    )
    return fields.with_columns(durations_ms(text).alias("duration_ms"))
