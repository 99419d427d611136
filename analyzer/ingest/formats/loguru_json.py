"""Loguru with `serialize=True`: `{"text": ..., "record": {...}}` per line (reference 2.3).

The traceback exists only inside `text`; request IDs come from `record.extra`
(`request_id`, `req_id`, `correlation_id`, else a trace ID: `trace_id`, `traceId`,
`otelTraceID`, `dd.trace_id`, zeros only or `None` being no ID; `with_request_id_keys` gives a
variant that reads more `extra` keys first, config `request_id_keys`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial

import polars as pl

from analyzer.ingest.formats import common
from analyzer.ingest.formats.base import Format
from analyzer.ingest.jsonrows import decode

HEADER = r'^\{"text": "'
_S = pl.String
_EXTRA_KEYS = ("request_id", "req_id", "correlation_id", *common.TRACE_ID_KEYS)


def _schema(extra_keys: Sequence[str]) -> pl.Struct:
    """The decoding schema, `record.extra` holding `extra_keys` and the built-in request ID keys."""
    extra = pl.Struct({key: _S for key in dict.fromkeys((*extra_keys, *_EXTRA_KEYS))})
    return pl.Struct(
        {
            "text": _S,
            "record": pl.Struct(
                {
                    "exception": pl.Struct({"type": _S, "value": _S}),
                    "extra": extra,
                    "level": pl.Struct({"name": _S}),
                    "message": _S,
                    "name": _S,
                    "process": pl.Struct({"id": _S}),
                    "time": pl.Struct({"timestamp": _S, "repr": _S}),
                }
            ),
        }
    )


_SCHEMA = _schema(())


def parse(records: pl.DataFrame, request_id_keys: Sequence[str] = ()) -> pl.DataFrame:
    """Event columns of Loguru JSON records; `request_id_keys` (of `record.extra`) are read before the built-in ones."""
    keys = tuple(dict.fromkeys((*request_id_keys, *_EXTRA_KEYS)))
    rows = decode(records.get_column("head"), _schema(request_id_keys) if request_id_keys else _SCHEMA)
    record = pl.col("record")
    extra = record.struct.field("extra")
    message = rows.select(record.struct.field("message")).to_series()
    events = rows.select(
        common.epoch_ts(record.struct.field("time").struct.field("timestamp")).alias("ts"),
        record.struct.field("name").alias("logger"),
        record.struct.field("process").struct.field("id").cast(pl.Float64, strict=False).alias("pid"),
        pl.when(pl.col("_valid")).then(pl.lit(message).str.splitn("\n", 2).struct.field("field_0").fill_null("")).alias("message"),
        pl.col("text").str.strip_chars_end("\n").alias("text"),
        pl.coalesce([common.real_id(extra.struct.field(key)) for key in keys]).alias("request_id"),
        record.struct.field("exception").struct.field("type").alias("exc_type"),
    )
    level = rows.select(record.struct.field("level").struct.field("name")).to_series()
    return events.with_columns(common.levels(level).alias("level"))


FORMAT = Format("loguru_json", HEADER, parse, one_line=True, rank=10)


def with_request_id_keys(keys: Sequence[str]) -> Format:
    """The loguru_json format reading `keys` of `record.extra` as request IDs before the built-in ones."""
    return replace(FORMAT, parse=partial(parse, request_id_keys=tuple(keys)))
