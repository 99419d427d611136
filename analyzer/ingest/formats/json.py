"""Generic JSON lines: python-json-logger, structlog, ECS (Elastic's ecs-logging) and similar.

Keys are taken by their common names: time from `timestamp`/`time`/`@timestamp`/
`ts`/`asctime`, level from `level`/`levelname`/`severity`/`log.level` (ecs-logging
writes it as one dotted top-level key; nested `{"log": {"level": ...}}` is read too),
message from `message`/`msg`/`event`, logger from `logger`/`name`/`logger_name`/
`log.logger`, pid from `pid`/`process` (a number, or ECS's `{"process": {"pid": ...}}`),
exception text from `exc_info`/`exception`/`stack_trace`/`error.stack_trace`
(appended to `text` so tracebacks can be matched; structlog's `dict_tracebacks` lists
are written back as traceback text, analyzer.ingest.formats.dict_traceback, and ECS's
`error` as the traceback Python prints: `_ecs_traceback`), the exception type from
ECS's `error.type` too.
Request IDs from `request_id`/`req_id`/`correlation_id`/`requestId`/`x_request_id`,
else an Elastic APM `transaction.id` (one request this service served), else a trace ID
(`trace_id`/`traceId`/`otelTraceID`/`dd.trace_id`/`trace.id`; zeros only or `None` are no ID:
analyzer.ingest.formats.common.request_ids says why the request ID wins);
`with_request_id_keys` gives a variant that reads more keys first (config
`request_id_keys`).

ECS records (`"ecs.version"` in the line) nest what other writers keep flat (`"process": 12`
elsewhere, `{"process": {"pid": 12}}` there; the APM agent's `{"trace": {"id": ...}}`): they are
decoded with a schema of their own (`_ecs_schema`), so that neither kind sends a batch to the
row-by-row decoder (analyzer.ingest.jsonrows).
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
#: An Elastic APM transaction is one request this service served: after the app's own request ID, before any
#: trace ID (dotted as the agent's structlog processor writes them; ECS records nest them, `_ecs_schema`).
_REQUEST_ID_KEYS = (
    "request_id", "req_id", "correlation_id", "requestId", "x_request_id", "transaction.id",
    *common.TRACE_ID_KEYS, "trace.id",
)
_TOP = (
    "timestamp", "time", "@timestamp", "ts", "asctime", "level", "levelname", "severity", "log.level", "message",
    "msg", "event", "logger", "name", "logger_name", *_REQUEST_ID_KEYS,
    "exc_info", "exception", "stack_trace", "traceback", "pid", "process", "status_code", "status", "method",
    "path", "duration_ms", "duration", "elapsed_ms", "route",
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


#: In a line, only as an ECS record's key: inside a JSON string its quotes are escaped.
_ECS_MARK = '"ecs.version"'
#: ECS objects where the generic schema has a string: `event` is ECS's event category (`event.dataset`), never
#: the message; the APM agent's IDs.
_ECS_NESTED = {
    "process": pl.Struct({"pid": _S}), "event": pl.Struct({"dataset": _S}),
    "trace": pl.Struct({"id": _S}), "transaction": pl.Struct({"id": _S}),
}


def _ecs_schema(schema: pl.Struct) -> pl.Struct:
    """`schema` with ECS's objects (`_ECS_NESTED`) in place of the generic strings."""
    return pl.Struct({**{f.name: f.dtype for f in schema.fields}, **_ECS_NESTED})


def _decoded(head: pl.Series, schema: pl.Struct) -> pl.DataFrame:
    """`decode` of every line, ECS records (`_ECS_MARK`) by `_ecs_schema`, their objects then flattened to the
    columns of `schema` (`process` the pid, `trace.id`, `transaction.id`), in line order."""
    ecs = head.str.contains(_ECS_MARK, literal=True).fill_null(False)
    if not ecs.any():
        return decode(head, schema)
    c = pl.col
    flat = decode(head.filter(ecs), _ecs_schema(schema)).with_columns(
        c("process").struct.field("pid").alias("process"),
        pl.lit(None, dtype=_S).alias("event"),
        pl.coalesce(c("transaction.id"), c("transaction").struct.field("id")).alias("transaction.id"),
        pl.coalesce(c("trace.id"), c("trace").struct.field("id")).alias("trace.id"),
    ).select(*(f.name for f in schema.fields), "_valid")
    if ecs.all():
        return flat
    order = pl.concat([ecs.arg_true(), (~ecs).arg_true()]).arg_sort()
    return pl.concat([flat, decode(head.filter(~ecs), schema)]).gather(order)


def _ecs_traceback(exc: pl.Expr, error: pl.Expr) -> pl.Expr:
    """`exc` as Python prints a traceback where ECS's `error` tells what it lacks: ecs-logging's StdlibFormatter
    writes `error.stack_trace` as the frames alone (`traceback.format_tb`) and the exception in `error.type` and
    `error.message`; the header and the `Type: message` line are added (the line alone without frames)."""
    kind, said = error.struct.field("type"), error.struct.field("message")
    line = pl.when(said.is_null() | (said == "")).then(kind).otherwise(pl.concat_str([kind, said], separator=": "))
    whole = exc.str.contains(common.TRACEBACK, literal=True).fill_null(False)
    return (
        pl.when(kind.is_null() | whole).then(exc)
        .when(exc.is_null()).then(line)
        .otherwise(pl.concat_str([pl.lit(common.TRACEBACK + "\n"), exc.str.strip_chars_end("\n"), pl.lit("\n"), line]))
    )


def parse(records: pl.DataFrame, request_id_keys: Sequence[str] = ()) -> pl.DataFrame:
    """Event columns of JSON-lines records; `request_id_keys` are read before the built-in request ID keys."""
    schema = _schema(request_id_keys) if request_id_keys else _SCHEMA
    rows = _decoded(records.get_column("head"), schema)
    c = pl.col
    log, error = c("log"), c("error")
    exc = pl.coalesce(c("exc_info"), c("exception"), c("stack_trace"), c("traceback"), error.struct.field("stack_trace"))
    rows = rows.with_columns(
        _first("timestamp", "time", "@timestamp", "ts", "asctime").alias("_when"),
        _first("message", "msg", "event").alias("_message"),
        _ecs_traceback(exc, error).alias("_exc"),
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
        error.struct.field("type").alias("exc_type"),
        pl.when(exc.is_not_null())
        .then(pl.concat_str([message.fill_null(""), exc], separator="\n"))
        .otherwise(records.get_column("head"))
        .alias("text"),
    )
    # epoch seconds: a number of 9 digits or more before its point, however written (`1e16`, `-1.7e9`)
    times = rows.select((when.cast(pl.Float64, strict=False).abs() >= 1e8).fill_null(False).alias("epoch"), when)
    epoch = times.get_column("epoch")
    text = times.select(pl.when(~epoch).then(when.str.replace(",", ".", literal=True))).to_series()
    level = rows.select(pl.coalesce(c("level"), c("levelname"), c("severity"), c("log.level"), log.struct.field("level"))).to_series()
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
