"""Loguru with `serialize=True`: `{"text": ..., "record": {...}}` per line (reference 2.3).

The traceback exists only inside `text`; request IDs come from `record.extra`.
"""

from __future__ import annotations

import polars as pl

from analyzer.formats import common
from analyzer.formats.base import Format
from analyzer.jsonrows import decode

HEADER = r'^\{"text": "'
_S = pl.String
_SCHEMA = pl.Struct(
    {
        "text": _S,
        "record": pl.Struct(
            {
                "exception": pl.Struct({"type": _S, "value": _S}),
                "extra": pl.Struct({"request_id": _S, "req_id": _S, "correlation_id": _S}),
                "level": pl.Struct({"name": _S}),
                "message": _S,
                "name": _S,
                "process": pl.Struct({"id": _S}),
                "time": pl.Struct({"timestamp": _S, "repr": _S}),
            }
        ),
    }
)


def parse(records: pl.DataFrame) -> pl.DataFrame:
    rows = decode(records.get_column("head"), _SCHEMA)
    record = pl.col("record")
    extra = record.struct.field("extra")
    message = rows.select(record.struct.field("message")).to_series()
    events = rows.select(
        common.epoch_ts(record.struct.field("time").struct.field("timestamp")).alias("ts"),
        record.struct.field("name").alias("logger"),
        record.struct.field("process").struct.field("id").cast(pl.Int64, strict=False).alias("pid"),
        pl.when(pl.col("_valid")).then(pl.lit(message).str.splitn("\n", 2).struct.field("field_0").fill_null("")).alias("message"),
        pl.col("text").str.strip_chars_end("\n").alias("text"),
        pl.coalesce(
            extra.struct.field("request_id"), extra.struct.field("req_id"), extra.struct.field("correlation_id")
        ).alias("request_id"),
        record.struct.field("exception").struct.field("type").alias("exc_type"),
    )
    level = rows.select(record.struct.field("level").struct.field("name")).to_series()
    return events.with_columns(common.levels(level).alias("level")).hstack(common.kv_http_fields(message).get_columns())


FORMAT = Format("loguru_json", HEADER, parse)
