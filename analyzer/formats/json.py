"""Generic JSON lines: python-json-logger, structlog, ECS and similar.

Keys are taken by their common names: time from `timestamp`/`time`/`@timestamp`/
`ts`/`asctime`, level from `level`/`levelname`/`severity`/`log.level`, message
from `message`/`msg`/`event`, logger from `logger`/`name`/`logger_name`/
`log.logger`, exception text from `exc_info`/`exception`/`stack_trace`/
`error.stack_trace` (appended to `text` so tracebacks can be matched).
"""

from __future__ import annotations

import polars as pl

from analyzer.formats import common
from analyzer.formats.base import Format
from analyzer.jsonrows import decode

HEADER = r'^\{\s*"'
_S = pl.String
_TOP = (
    "timestamp", "time", "@timestamp", "ts", "asctime", "level", "levelname", "severity", "message", "msg", "event",
    "logger", "name", "logger_name", "request_id", "req_id", "correlation_id", "requestId", "x_request_id",
    "exc_info", "exception", "stack_trace", "traceback", "pid", "process", "status_code", "status", "method",
    "path", "duration_ms", "duration", "elapsed_ms", "service",
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


def parse(records: pl.DataFrame) -> pl.DataFrame:
    rows = decode(records.get_column("head"), _SCHEMA)
    c = pl.col
    log = c("log")
    rows = rows.with_columns(
        _first("timestamp", "time", "@timestamp", "ts", "asctime").alias("_when"),
        _first("message", "msg", "event").alias("_message"),
        pl.coalesce(c("exc_info"), c("exception"), c("stack_trace"), c("traceback"), c("error").struct.field("stack_trace")).alias("_exc"),
    )
    when, message, exc = c("_when"), c("_message"), c("_exc")
    status = pl.coalesce(c("status_code"), c("status"), c("http").struct.field("response").struct.field("status_code"))
    events = rows.select(
        pl.coalesce(c("logger"), c("name"), c("logger_name"), log.struct.field("logger")).alias("logger"),
        pl.when(c("_valid")).then(message.str.splitn("\n", 2).struct.field("field_0").fill_null("")).alias("message"),
        _first("request_id", "req_id", "correlation_id", "requestId", "x_request_id").alias("request_id"),
        pl.coalesce(c("method"), c("http").struct.field("request").struct.field("method")).alias("http_method"),
        pl.coalesce(c("path"), c("url").struct.field("path")).str.replace(r"\?.*$", "").alias("http_path"),
        status.cast(pl.Int32, strict=False).alias("http_status"),
        _first("duration_ms", "elapsed_ms").cast(pl.Float64, strict=False).alias("duration_ms"),
        _first("pid", "process").cast(pl.Int64, strict=False).alias("pid"),
        pl.when(exc.is_not_null())
        .then(pl.concat_str([message.fill_null(""), exc], separator="\n"))
        .otherwise(records.get_column("head"))
        .alias("text"),
    )
    times = rows.select(when.str.contains(r"^\d{9,}(?:\.\d+)?$").alias("epoch"), when)
    epoch = times.get_column("epoch")
    text = times.select(pl.when(~epoch).then(when.str.replace(",", ".", literal=True))).to_series()
    level = rows.select(pl.coalesce(c("level"), c("levelname"), c("severity"), log.struct.field("level"))).to_series()
    return events.with_columns(
        pl.when(epoch).then(times.select(common.epoch_ts(when)).to_series()).otherwise(common.iso_times(text)).alias("ts"),
        common.levels(level).alias("level"),
    )


FORMAT = Format("json", HEADER, parse)
