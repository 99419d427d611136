"""Generic JSON lines: python-json-logger, structlog, ECS and similar.

Keys are taken by their common names: time from `timestamp`/`time`/`@timestamp`/
`ts`/`asctime`, level from `level`/`levelname`/`severity`/`log.level`, message
from `message`/`msg`/`event`, logger from `logger`/`name`/`logger_name`/
`log.logger`, exception text from `exc_info`/`exception`/`stack_trace`/
`error.stack_trace` (appended to `text` so tracebacks can be matched; structlog's
`dict_tracebacks` lists are written back as traceback text, analyzer.ingest.formats.dict_traceback).
Request IDs from `request_id`/`req_id`/`correlation_id`/`requestId`/`x_request_id`,
else a trace ID (`trace_id`/`traceId`/`otelTraceID`/`dd.trace_id`; zeros only are no ID:
analyzer.ingest.formats.common.request_ids says why the request ID wins);
`with_request_id_keys` gives a variant that reads more keys first (config
`request_id_keys`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial

import polars as pl

from analyzer.ingest.formats import common, dict_traceback
from analyzer.ingest.formats.base import Format
from analyzer.ingest.jsonrows import decode

HEADER = r'^\{\s*"'
_S = pl.String
_REQUEST_ID_KEYS = ("request_id", "req_id", "correlation_id", "requestId", "x_request_id", *common.TRACE_ID_KEYS)
_TOP = (
    "timestamp", "time", "@timestamp", "ts", "asctime", "level", "levelname", "severity", "message", "msg", "event",
    "logger", "name", "logger_name", *_REQUEST_ID_KEYS,
    "exc_info", "exception", "stack_trace", "traceback", "pid", "process", "status_code", "status", "method",
    "path", "duration_ms", "duration", "elapsed_ms", "service", "route",
)
_SCHEMA = pl.Struct(
    {
        **{key: _S for key in _TOP},
        "log": pl.Struct({"level": _S, "logger": _S}),
        "error": pl.Struct({"stack_trace": _S, "type": _S, "message": _S}),
        "http": pl.Struct({"request": pl.Struct({"method": _S}), "response": pl.Struct({"status_code": _S})}),
        "url": pl.Struct({"path": _S}),
        "event_duration": _S,
    }
)


def _first(*names: str) -> pl.Expr:
    return pl.coalesce([pl.col(n) for n in names])


def _schema(extra_keys: Sequence[str]) -> pl.Struct:
    """The decoding schema plus top-level String fields for `extra_keys` (those it does not have yet)."""
    fields = {f.name: f.dtype for f in _SCHEMA.fields}
    return pl.Struct({**fields, **{key: _S for key in extra_keys if key not in fields}})


def parse(records: pl.DataFrame, request_id_keys: Sequence[str] = ()) -> pl.DataFrame:
    """Event columns of JSON-lines records; `request_id_keys` are read before the built-in request ID keys."""
    schema = _schema(request_id_keys) if request_id_keys else _SCHEMA
    rows = decode(records.get_column("head"), schema)
    c = pl.col
    log = c("log")
    rows = rows.with_columns(
        _first("timestamp", "time", "@timestamp", "ts", "asctime").alias("_when"),
        _first("message", "msg", "event").alias("_message"),
        pl.coalesce(c("exc_info"), c("exception"), c("stack_trace"), c("traceback"), c("error").struct.field("stack_trace")).alias("_exc"),
    )
    rows = rows.with_columns(_rendered_tracebacks(rows.get_column("_exc")))
    when, message, exc = c("_when"), c("_message"), c("_exc")
    status = pl.coalesce(c("status_code"), c("status"), c("http").struct.field("response").struct.field("status_code"))
    events = rows.select(
        pl.coalesce(c("logger"), c("name"), c("logger_name"), log.struct.field("logger")).alias("logger"),
        pl.when(c("_valid")).then(message.str.splitn("\n", 2).struct.field("field_0").fill_null("")).alias("message"),
        pl.coalesce(common.real_id(c(key)) for key in dict.fromkeys((*request_id_keys, *_REQUEST_ID_KEYS))).alias("request_id"),
        pl.coalesce(c("method"), c("http").struct.field("request").struct.field("method")).alias("http_method"),
        pl.coalesce(c("path"), c("url").struct.field("path")).str.replace(r"\?.*$", "").alias("http_path"),
        c("route").alias("http_route"),
        status.cast(pl.Float64, strict=False).alias("http_status"),
        _first("duration_ms", "elapsed_ms").cast(pl.Float64, strict=False).alias("duration_ms"),
        _first("pid", "process").cast(pl.Float64, strict=False).alias("pid"),
        pl.when(exc.is_not_null())
        .then(pl.concat_str([message.fill_null(""), exc], separator="\n"))
        .otherwise(records.get_column("head"))
        .alias("text"),
    )
    # epoch seconds: a number of 9 digits or more before its point, however written (`1e16`, `-1.7e9`)
    times = rows.select((when.cast(pl.Float64, strict=False).abs() >= 1e8).fill_null(False).alias("epoch"), when)
    epoch = times.get_column("epoch")
    text = times.select(pl.when(~epoch).then(when.str.replace(",", ".", literal=True))).to_series()
    level = rows.select(pl.coalesce(c("level"), c("levelname"), c("severity"), log.struct.field("level"))).to_series()
    return events.with_columns(
        pl.when(epoch).then(times.select(common.epoch_ts(when)).to_series()).otherwise(common.iso_times(text)).alias("ts"),
        common.levels(level).alias("level"),
    )


def _rendered_tracebacks(exc: pl.Series) -> pl.Series:
    """`exc` with structlog's `dict_tracebacks` lists written as traceback text (Python only on those rows)."""
    listed = exc.str.starts_with("[{").fill_null(False)
    if not listed.any():
        return exc
    return exc.clone().scatter(listed.arg_true(), [dict_traceback.render(value) for value in exc.filter(listed)])


FORMAT = Format("json", HEADER, parse, one_line=True, rank=30)


def with_request_id_keys(keys: Sequence[str]) -> Format:
    """The json format reading `keys` (top-level) as request IDs before the built-in ones."""
    return replace(FORMAT, parse=partial(parse, request_id_keys=tuple(keys)))
