"""Formats stage: records -> normalized events.

Each record is parsed by the format whose header its first line matched; a
record the format cannot parse after all (malformed JSON, a damaged CSV row)
is parsed as `plain` and counted as unparsed with the reason, never dropped.
Fields every format shares are filled here once: the exception type of a
traceback, request IDs written in the text, compose status lines.
"""

from __future__ import annotations

import polars as pl

from analyzer.diagnostics import Diagnostics
from analyzer.events import SCHEMA
from analyzer.formats import PLAIN, Format
from analyzer.formats.common import exception_types, request_id

_META = ("source", "line_no", "nphys", "service", "stream", "env_ts", "compose_status", "skey", "head", "text")


def _parse_one(fmt: Format, records: pl.DataFrame) -> pl.DataFrame:
    parsed = fmt.parse(records.select("head", "text"))
    if "text" in parsed.columns:
        parsed = parsed.with_columns(pl.coalesce(pl.col("text"), records.get_column("text")).alias("text"))
    return pl.concat([records.select(c for c in _META if c != "text" or "text" not in parsed.columns), parsed],
                     how="horizontal").with_columns(pl.lit(fmt.name).alias("format"))


def parse_records(records: pl.DataFrame, formats: tuple[Format, ...], diag: Diagnostics) -> pl.DataFrame:
    """Parse a frame of records (see analyzer.framing) into event rows (plus internal `skey`, `env_ts`)."""
    if records.height == 0:
        return pl.DataFrame()
    parts: list[pl.DataFrame] = []
    present = set(records.get_column("fmt").unique().to_list())
    for code, fmt in enumerate(formats):
        if code not in present:
            continue
        subset = records.filter(pl.col("fmt") == code)
        events = _parse_one(fmt, subset)
        failed = events.get_column("message").is_null()
        if fmt is not PLAIN and failed.any():
            diag.unparsed[f"{fmt.name}: record does not parse as {fmt.name}, kept as plain"] += int(failed.sum())
            parts.append(_parse_one(PLAIN, subset.filter(failed)))
            events = events.filter(~failed)
        parts.append(events)
    events = pl.concat(parts, how="diagonal_relaxed")
    status = pl.col("compose_status")
    rid = request_id(pl.col("head"))
    if "request_id" in events.columns:
        rid = pl.coalesce(pl.col("request_id"), rid)
    events = events.with_columns(
        pl.when(status).then(pl.lit("compose")).otherwise(pl.col("format")).alias("format"),
        pl.col("nphys").alias("line_count"),
        rid.alias("request_id"),
    )
    exc = exception_types(events.get_column("text"))
    if "exc_type" in events.columns:
        exc = events.get_column("exc_type").fill_null(exc)
    events = events.with_columns(exc.alias("exc_type"))
    missing = [pl.lit(None, dtype=dtype).alias(name) for name, dtype in SCHEMA.items() if name not in events.columns]
    events = events.with_columns(missing)
    return events.select(
        *(pl.col(name).cast(dtype, strict=False) for name, dtype in SCHEMA.items()), "skey", "env_ts"
    ).sort("line_no")
