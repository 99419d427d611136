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
        pl.when(zone.str.contains(r"^[+-][0-9][0-9]:?[0-9][0-9]$"))
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
    cleaned = expr.str.replace(r"^([0-9]{4}-[0-9][0-9]-[0-9][0-9]) ", "${1}T").str.replace(r"Z$", "+00:00").str.replace(
        r"([+-][0-9][0-9])([0-9][0-9])$", "${1}:${2}"
    )
    with_zone = cleaned.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", time_unit="us", time_zone="UTC", strict=False)
    without = cleaned.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us", strict=False).dt.replace_time_zone("UTC")
    return pl.coalesce(with_zone, without)


#: Shapes of ISO text whose format `iso_ts` reads them with: parsing them directly gives the same time.
_ISO_SHAPES: Final = (
    (r"^[0-9]{4}-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9](?:\.[0-9]+)?$", "%Y-%m-%d %H:%M:%S%.f"),
    (r"^[0-9]{4}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9](?:\.[0-9]+)?Z$", "%Y-%m-%dT%H:%M:%S%.fZ"),
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
REQUEST_LINE: Final = r'^[A-Z]+ \S* HTTP/[0-9.]+" [0-9]{3}'


def _request_fields(request: pl.DataFrame) -> pl.DataFrame:
    """HTTP fields of request lines (column `v`); nulls where the text is not one."""
    v, ok = pl.col("v"), pl.col("ok")
    return request.with_columns(v.str.contains(REQUEST_LINE).alias("ok")).select(
        pl.when(ok).then(v.str.extract(r"^([A-Z]+) ", 1)).alias("http_method"),
        pl.when(ok).then(v.str.extract(r"^[A-Z]+ ([^\s?]*)", 1)).alias("http_path"),
        pl.when(ok).then(v.str.extract(r'^[A-Z]+ \S* HTTP/[0-9.]+" ([0-9]{3})(?: |$)', 1)).cast(pl.Int32, strict=False).alias("http_status"),
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


#: A value shaped like a generated request/correlation ID: a UUID, or 16 to 64 hex digits (`uuid4().hex`,
#: a trace ID). Where a layout prints an ID without its key (`[%(correlation_id)s]`, a header in an access
#: line), only such a value is taken for one.
ID_SHAPE: Final = r"(?:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|[0-9A-Fa-f]{16,64})"


#: Keys of a request's ID; a background job's or task's ID (`job_id=`, `task_id`: RQ, Celery, arq, a worker's
#: own loop) plays the same part for the work a worker does, and ties its records together the same way; so does
#: an Elastic APM transaction's (`transaction.id=`: the agent's text log formatter), one request this service served.
_OWN_ID_WORDS: Final = (
    r"req(?:uest)?[_-]?id|correlation[_-]?id|x-request-id|x-correlation-id|job[_-]?id|task[_-]?id|transaction[._-]?id"
)
#: Keys of a distributed trace's ID, which ties a request's records together where the app logs no ID of its own:
#: OpenTelemetry's logging instrumentation (`[trace_id=... span_id=...]`, `otelTraceID`), Datadog's log
#: injection (`dd.trace_id=`), structlog/python-json-logger processors (`trace_id`, `traceId`), `X-Trace-Id`,
#: Elastic APM's text log formatter (`trace.id=`).
_TRACE_ID_WORDS: Final = r"(?:otel)?trace[._-]?id"
_KEY_END: Final = r"""['"]?\s*[=:]\s*['"]?"""
#: Any key of a request's ID (its own or its trace's), with what separates it from the value.
REQUEST_ID_KEY: Final = rf"(?i)(?-u:\b)(?:{_OWN_ID_WORDS}|{_TRACE_ID_WORDS}){_KEY_END}"
_TRACE_ID_KEY: Final = rf"(?i)^(?:{_TRACE_ID_WORDS}){_KEY_END}"
REQUEST_ID_PATTERN: Final = REQUEST_ID_KEY + "([A-Za-z0-9][A-Za-z0-9._:/-]{2,127})"
#: The JSON keys (top level; Loguru's `record.extra`) of a trace's ID, read after every request ID key.
TRACE_ID_KEYS: Final = ("trace_id", "traceId", "otelTraceID", "dd.trace_id")
#: An ID of zeros only, or Python's `None` / JSON's `null` written out, is no ID: OpenTelemetry prints `trace_id=0`
#: (or 32 zeros, its invalid trace ID) and Datadog `dd.trace_id=0` on every record written outside a span, Elastic
#: APM's text formatter `transaction.id=None trace.id=None`, a `%(request_id)s` filter with no request `None`;
#: taken for an ID, each would make all of those records one giant request.
_NO_ID: Final = r"^(?:0+|None|none|null|NULL)$"


def real_id(value: pl.Expr) -> pl.Expr:
    """`value`, or null where it is no ID (`_NO_ID`)."""
    return pl.when(value.str.contains(_NO_ID)).then(None).otherwise(value)


def request_ids(text: pl.Series) -> pl.Series:
    """A request/correlation ID written as `req_id=...`, `request_id: ...`, `{'request_id': '...'}`,
    `X-Request-ID: ...`, `job_id=...`, `transaction.id=...`, or else a trace ID (`trace_id=...`,
    `dd.trace_id=...`, `trace.id=...`), per text: the group of `REQUEST_ID_PATTERN`, found as matches without
    capture groups (faster) less their leading key part, which a match begins with and which cannot end anywhere
    else. Null where no ID is written, and for no ID written out (`_NO_ID`: zeros only, `None`). Only the texts
    that write more than one ID are ranked (few: per-list work costs on every row).

    Where a record names both, its own request ID wins over the trace ID wherever each is written: the
    request ID is the app's unit of work, one per request it served, while one trace may hold several of the
    app's requests (a client's retries, a caller's fan-out in one trace), which the trace ID would count as
    one. A trace ID that spans services still ties their records together when it is all they print.
    """
    w, e = pl.col("w"), pl.element()
    written = text.to_frame("t").select(pl.col("t").str.extract_all(REQUEST_ID_PATTERN).alias("w"))
    ids, several = written.select(
        real_id(w.list.first().str.replace("^" + REQUEST_ID_KEY, "")), w.list.len() > 1).get_columns()
    if not several.any():
        return ids
    value = real_id(e.str.replace("^" + REQUEST_ID_KEY, ""))
    ranked = value.sort_by(e.str.contains(_TRACE_ID_KEY), maintain_order=True).drop_nulls().first()
    return ids.scatter(several.arg_true(), written.filter(several).select(w.list.eval(ranked).list.first()).to_series())


#: Keys of a request's duration, with the unit a bare number has under each (a unit after the value,
#: `1530ms`, `1.53s`, or in the key, `duration_ms`, `elapsed_s`, wins). Seconds where the usual writer
#: stores `time.perf_counter()` differences (`process_time` as in FastAPI's docs, `elapsed`) or
#: follows nginx (`request_time`); milliseconds for the rest.
_DURATION_KEY: Final = (
    r"(?i)(?-u:\b)(?:(?:duration|elapsed|took|latency|process_time|processing_time|response_time|request_time"
    r"|time_taken)(?:_(?:ms|s|us|ns|sec|secs|seconds|millis))?|time_(?:ms|us|ns))['\"]?\s*[=:]\s*['\"]?"
)
DURATION_PATTERN: Final = _DURATION_KEY + r"([0-9]+(?:\.[0-9]+)?\s*(?:ms|s|us|µs|ns)?)(?-u:\b)"
_SECONDS_KEYS: Final = r"(?i)^(?:elapsed|process_time|processing_time|request_time)['\"]?\s*[=:]"


def to_ms(found: pl.Expr, seconds_by_default: pl.Expr | bool = False) -> pl.Expr:
    """A duration text (`12.5`, `1.2s`, `120ms`, `3 ms`, `250us`) in milliseconds; a bare number is
    milliseconds, or seconds where `seconds_by_default` holds."""
    value = found.str.extract(r"^([0-9.]+)", 1).cast(pl.Float64, strict=False)
    unit = found.str.extract(r"([a-zµ]+)$", 1)
    default = seconds_by_default if isinstance(seconds_by_default, pl.Expr) else pl.lit(seconds_by_default)
    bare = pl.when(default).then(value * 1000).otherwise(value)
    return (
        pl.when(unit == "s").then(value * 1000)
        .when(unit.is_in(["us", "µs"])).then(value / 1000)
        .when(unit == "ns").then(value / 1_000_000)
        .when(unit == "ms").then(value)
        .otherwise(bare)
    )


_UNIT_MS: Final[dict[str, float]] = {"ms": 1.0, "millis": 1.0, "s": 1000.0, "sec": 1000.0, "secs": 1000.0,
                                     "seconds": 1000.0, "us": 0.001, "µs": 0.001, "ns": 0.000001}


def _key_factors(keys: pl.DataFrame) -> pl.DataFrame:
    """Milliseconds per unit of a bare number under each distinct key text (column `v`: `duration_ms=`...)."""
    v = pl.col("v")
    unit = v.str.extract(r"_(ms|s|us|ns|sec|secs|seconds|millis)['\"]?\s*[=:]", 1)
    seconds = v.str.contains(_SECONDS_KEYS)
    default = pl.when(seconds).then(pl.lit(1000.0)).otherwise(pl.lit(1.0))
    return keys.select(pl.coalesce(unit.replace_strict(_UNIT_MS, default=None, return_dtype=pl.Float64), default).alias("f"))


def durations_ms(text: pl.Series) -> pl.Series:
    """A request duration written as `duration_ms=12.5`, `duration=1.2s`, `took: 120ms`, `"elapsed": 0.42`...
    in milliseconds (the unit of a bare number: see `_DURATION_KEY`). The key and the unit have few distinct
    values: their factors are worked out once per value."""
    t, m = pl.col("t"), pl.col("m")
    found = text.to_frame("t").select(t.str.extract(DURATION_PATTERN, 0).alias("m"))
    parts = found.select(
        m.str.extract(r"^(.*?[=:]\s*['\"]?)[0-9]", 1).alias("key"),
        m.str.extract(r"([0-9]+(?:\.[0-9]+)?)\s*[a-zµ]*$", 1).cast(pl.Float64, strict=False).alias("n"),
        m.str.extract(r"[0-9]\s*([a-zµ]+)$", 1).alias("unit"),
    )
    by_key = by_value(parts.get_column("key").str.to_lowercase(), _key_factors).to_series()
    by_unit = per_value(parts.get_column("unit"), pl.col("v").replace_strict(_UNIT_MS, default=None, return_dtype=pl.Float64))
    return parts.select(pl.col("n") * pl.coalesce(by_unit, by_key)).to_series()


#: The header of a traceback as Python prints it.
TRACEBACK: Final = "Traceback (most recent call last):"
#: An exception group as `traceback` prints it: its lines and its members' behind a `| ` gutter (one per
#: line, however deep), members between `+-+---- 1 ----` rules.
_GROUP_GUTTER = regex.compile(r"^ *\| ")
_GROUP_RULE = regex.compile(r"^ *\+[-+]")
_EXC_LINE = regex.compile(r"^(?:\| )?([A-Za-z_][\w.]*)(?::\s|:$|$)")


def _after_last_traceback(text: str) -> Iterator[str]:
    """The unindented lines after a record's last `Traceback` header: the exception line comes first.

    Frames (indented), Loguru's `> File` and caret lines, and chained-exception
    separators are skipped; an exception group's gutter is read through. Nothing when the record holds no
    traceback.
    """
    start = text.rfind(TRACEBACK)
    if start < 0:
        return
    for line in text[start + len(TRACEBACK) :].splitlines():
        if _GROUP_RULE.match(line):
            continue
        line = _GROUP_GUTTER.sub("", line, count=1)
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
    has_tb = text.str.contains(TRACEBACK, literal=True).fill_null(False)
    out = pl.repeat(None, len(text), dtype=pl.String, eager=True).alias(name)
    if has_tb.any():
        idx = has_tb.arg_true()
        out = out.scatter(idx, pl.Series([read(t) for t in text.gather(idx).to_list()], dtype=pl.String))
    return out


def exception_types(text: pl.Series) -> pl.Series:
    """Exception type per record (null where the record has no traceback)."""
    return per_traceback(text, "exc_type", _last_exception)


#: A record that is a Python exception line on its own (`sqlalchemy.exc.TimeoutError: QueuePool limit ...`,
#: `KeyError: 'theme'`): what is left of a traceback whose head another process's or stream's lines cut off
#: (two workers printing at once into one pipe). A qualified class name (`pkg.mod.Class`), or a bare one
#: named like an exception, then `: ` or the end of the line.
BARE_EXCEPTION: Final = (
    r"^((?:[a-z_][a-z0-9_]*\.)+[A-Z][A-Za-z0-9_]*|[A-Z][A-Za-z0-9_]*(?:Error|Exception|Exit|Interrupt|Timeout))(?:: |$)"
)


def bare_exception_types(head: pl.Series) -> pl.Series:
    """The exception type of records whose first line is a Python exception line (null for the others)."""
    return head.to_frame("h").select(pl.col("h").str.extract(BARE_EXCEPTION, 1)).to_series().alias("exc_type")


def exception_lines(text: pl.Series) -> pl.Series:
    """The exception line per record (null where the record has no traceback)."""
    return per_traceback(text, "exc_line", exception_line)


_Q: Final = r"""['"]?\s*[=:]\s*['"]?"""  # between a key and its value: `k=v`, `k: v`, `"k": "v"`, `'k': 'v'`
_KV_METHOD: Final = r"(?-u:\b)(?:method|http_method|request_method|verb)" + _Q + r"([A-Z]{3,7})(?-u:\b)"
_KV_PATH: Final = (
    r"(?-u:\b)(?:path|http_path|url_path|endpoint|url|uri|target|request_path)" + _Q + r"(/[^\s'\",?]*)"
)
_KV_ROUTE: Final = r"(?-u:\b)(?:route|http_route|path_template|route_template)" + _Q + r"(/[^\s'\",?]*)"
_KV_STATUS: Final = (
    r"(?-u:\b)(?:status|status_code|http_status|response_status|statuscode)" + _Q + r"([1-5][0-9][0-9])(?-u:\b)"
)
_METHODS: Final = "GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS"
#: A request line anywhere in a record: `"GET /x?y=1 HTTP/1.1" 200` (uvicorn's access message after any
#: prefix, gunicorn's `%(r)s %(s)s`), hypercorn's `%(r)s %(s)s` whose protocol is the bare version
#: (`"GET /x 1.1" 500`, `"GET /x 2" 200`), or a middleware's own `GET /reports/daily status=200
#: duration=1530ms`, `POST /orders 422 3ms`, `GET /x -> 200`.
_REQUEST_ANYWHERE: Final = (
    rf'(?:^|[\s"\'])"?({_METHODS}) (/[^\s"?]*)[^\s"]*(?: HTTP/[0-9.]+"?| (?:1\.[01]|2|3)"|"?)(?: -+>| =>| ->|:)? '
    r'(?:status(?:_code)?=)?([1-5][0-9][0-9])(?: |$|,)'
)
#: What a record must hold for the request step to read it at all: one cheap pass over every record (a
#: case-sensitive regex of literals runs about three times as fast here as a case-insensitive word search).
_DURATION_WORDS: Final = r"[Dd]uration|DURATION|[Ee]lapsed|ELAPSED|[Tt]ook|[Ll]atency|LATENCY|_time|time_|_TIME|TIME_"
REQUEST_WORDS: Final = r'HTTP/| 1\.1" | 2" |[Ss]tatus|STATUS|' + _DURATION_WORDS
_PART_WORDS: Final = _DURATION_WORDS + r"|url|uri|route|path|target|method"


def kv_http_fields(text: pl.Series) -> pl.DataFrame:
    """HTTP fields an application writes as key=value (`method=GET path=/x status=500 duration_ms=12`), JSON
    fields under their common names (nested ones too: `"http.status_code": 200`, `{"http": {"status_code": 200}}`),
    or a request line anywhere in the record (`GET /reports/daily status=200 duration=1530ms`,
    `"POST /orders HTTP/1.1" 422`). A status counts only with a method or a path beside it: it then tells
    a request's outcome. Durations count wherever they are (see `durations_ms`)."""
    t = pl.col("t")
    fields = text.to_frame("t").select(
        t.str.extract(_KV_METHOD, 1).alias("http_method"),
        t.str.extract(_KV_PATH, 1).alias("http_path"),
        t.str.extract(_KV_STATUS, 1).cast(pl.Int32, strict=False).alias("http_status"),
    )
    route = text.to_frame("t").select(t.str.extract(_KV_ROUTE, 1)).to_series()
    fields = fields.with_columns(pl.coalesce(pl.col("http_path"), route))  # a route alone stands for the path
    method, path, status = pl.col("http_method"), pl.col("http_path"), pl.col("http_status")
    short = fields.select(status.is_null() | method.is_null() | path.is_null()).to_series()
    short = short & text.str.contains_any([f"{m} /" for m in _METHODS.split("|")]).fill_null(False)
    if short.any():  # a request line where the keys fell short
        line = text.filter(short).to_frame("t").select(t.str.extract_groups(_REQUEST_ANYWHERE).struct.unnest())
        line = line.select(pl.col("1").alias("http_method"), pl.col("2").alias("http_path"),
                           pl.col("3").cast(pl.Int32, strict=False).alias("http_status"))
        own = fields.filter(short)
        fields = patch(fields, short, own.select(pl.coalesce(own.get_column(c), line.get_column(c)).alias(c) for c in own.columns))
    told = status.is_not_null() & (method.is_not_null() | path.is_not_null())
    fields = fields.with_columns(pl.when(told).then(status).alias("http_status"))
    return fields.with_columns(durations_ms(text).alias("duration_ms"), route.alias("http_route"))


_REQUEST_COLUMNS: Final = ("http_method", "http_path", "http_status", "duration_ms")


def request_fields(events: pl.DataFrame, text: pl.Series, candidates: pl.Series | None = None) -> pl.DataFrame:
    """The one request model: fill the HTTP method, path, status and duration (and the route template, when
    the record names one) of every record that tells a request's outcome, whichever format and logger wrote
    it, where the format's own parser left them null.

    `events` holds the parsed columns (`message` among them); `text` is each record's first line as written
    (a JSON object, a Loguru line...). Access messages (`127.0.0.1:1 - "GET /x HTTP/1.1" 200`, as uvicorn logs
    them through Loguru, stdlib or JSON formatters) are read from the message, the rest from `text` by
    `kv_http_fields`. Only records where `REQUEST_WORDS` matches are read: one pass over the batch (over
    the `candidates` rows only, when given).
    """
    own = events.select(_REQUEST_COLUMNS)
    has_status = own.get_column("http_status").is_not_null()
    no_status = ~has_status
    partial = has_status & own.select(pl.any_horizontal(pl.all().is_null())).to_series()
    if "format" in events.columns:  # uvicorn's access line says all it has: no duration to look for
        partial = partial & (events.get_column("format") != "uvicorn")
    if candidates is not None:
        no_status, partial = no_status & candidates, partial & candidates
    if no_status.all():
        rows = text.str.contains(REQUEST_WORDS).fill_null(False)
    else:
        seen = text.filter(no_status).str.contains(REQUEST_WORDS)
        rows = on_rows(no_status, seen.fill_null(False), False)
    if partial.any():  # a parser read the status but not every field: look for the others' keys only
        more = text.filter(partial).str.contains(_PART_WORDS).fill_null(False)
        rows = rows | on_rows(partial, more, False)
    if not rows.any():
        return events
    said = text.filter(rows)
    message = events.get_column("message").filter(rows)
    access = access_fields(pl.select(pl.when(said.str.contains("HTTP/", literal=True)).then(message)).to_series())
    other = access.get_column("http_status").is_null()  # not an access message: keys, JSON fields, a request line
    found = access.with_columns(pl.lit(None, dtype=pl.Float64).alias("duration_ms"), pl.lit(None, dtype=pl.String).alias("http_route"))
    if other.any():
        found = patch(found, other, kv_http_fields(said.filter(other)))
    if not other.all():  # access messages with a duration after them (a formatter adding one)
        timed = ~other & said.str.contains(_DURATION_WORDS).fill_null(False)
        if timed.any():
            found = patch(found, timed, durations_ms(said.filter(timed)).to_frame("duration_ms"))
    own = own.filter(rows)
    values = own.select(pl.coalesce(pl.col(c), found.get_column(c).cast(own.schema[c])).alias(c) for c in _REQUEST_COLUMNS)
    if "http_route" in events.columns:
        values = values.with_columns(pl.coalesce(events.get_column("http_route").filter(rows), found.get_column("http_route")))
    return patch(events, rows, values)
