"""Formats stage: records -> normalized events.

Each record is parsed by the format whose header its first line matched; a
record the format cannot parse after all (malformed JSON, a damaged CSV row)
is parsed as `plain` and counted as unparsed with the reason, never dropped.
Fields every format shares are filled here once: the exception type of a
traceback (or of an exception line left on its own), request IDs written in the text, compose status lines, and the HTTP
request fields of every record that tells a request's outcome (one request
model whatever logger wrote the line: analyzer.ingest.formats.common.request_fields);
and every ranged field is checked here once (analyzer.ingest.bounds), whatever wrote it.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from analyzer.diagnostics import Diagnostics
from analyzer.events import SCHEMA, UTC_TS
from analyzer.ingest import bounds
from analyzer.ingest.formats import DATABASE_FORMATS, PLAIN, Format
from analyzer.ingest.formats.common import (
    bare_exception_types,
    exception_types,
    on_rows,
    request_fields,
    request_ids,
)

#: Record columns (analyzer.ingest.framing) that events keep: the pipeline needs sid and env_ts, the rest are event fields.
_MIN_PIECE = 4096  # rows: below this, splitting costs more than it saves
_KEEP = ("line_no", "nphys", "sid", "env_ts", "compose_status", "head", "text")
#: What a light parse keeps (the pipeline reads time, format and status of what the screen drops, and `bounds`
#: checks the ranged fields): the record's text, and its message once it is known to parse, are not carried.
_LIGHT_KEEP = tuple(dict.fromkeys(("line_no", "nphys", "sid", "compose_status", "format", *bounds.TIMES, *bounds.NUMBERS)))


def _parse_as(fmt: Format, records: pl.DataFrame, light: bool = False) -> pl.DataFrame:
    """The records with the event columns `fmt` fills (`light`: what its light parse fills, if it has one)."""
    parse = fmt.light if light and fmt.light is not None else fmt.parse
    parsed = parse(records.select("head", "text"))
    if "text" in parsed.columns:
        rebuilt = pl.col("text")
        # one-line formats: the lines framing joined after the record's own line, read only on the records
        # of more than one physical line (the others have none)
        joined = records.get_column("nphys") > 1 if fmt.one_line else None
        if joined is not None and joined.any():
            rest = records.filter(joined).select(pl.col("text").str.strip_prefix(pl.col("head"))).to_series()
            rebuilt = rebuilt + on_rows(joined, rest, "")
        parsed = parsed.with_columns(pl.coalesce(rebuilt, records.get_column("text")).alias("text"))
    kept = records.select(c for c in _KEEP if c not in parsed.columns)
    return kept.hstack(parsed.get_columns()).with_columns(pl.lit(fmt.name).alias("format"))


def _fill_nulls(events: pl.DataFrame, name: str, source: str, rule: Callable[[pl.Series], pl.Series]) -> pl.DataFrame:
    """Fill the nulls of column `name` with `rule` applied to column `source` of those rows only."""
    column = events.get_column(name)
    missing = column.is_null()
    if not missing.any():
        return events
    if missing.all():
        return events.with_columns(rule(events.get_column(source)).alias(name))
    values = rule(events.get_column(source).filter(missing))
    return events.with_columns(column.clone().scatter(missing.arg_true(), values))


def in_pieces(frame: pl.DataFrame) -> pl.DataFrame:
    """The same frame stored in several chunks (zero-copy slices), so that Polars spreads each
    column-wise operation over its threads instead of running it on one."""
    size = -(-frame.height // (2 * pl.thread_pool_size()))
    if frame.height < 2 * _MIN_PIECE:
        return frame
    return pl.concat([frame.slice(at, max(size, _MIN_PIECE)) for at in range(0, frame.height, max(size, _MIN_PIECE))],
                     rechunk=False)


def parse_records(records: pl.DataFrame, formats: tuple[Format, ...], diag: Diagnostics, *, light: bool = False) -> pl.DataFrame:
    """Event columns for a frame of records (see analyzer.ingest.framing), in line order, plus `sid` and `env_ts`.

    `light`: only what each format's own parser reads (time, level, message...), with the same fallback to
    `plain` and the same counts of unparsed records and out-of-range values; none of the shared steps
    (request fields, request IDs, exception types). For the records the screen (analyzer.ingest.screen)
    did not keep: the summary counts them, nothing else reads them.
    """
    records = in_pieces(records)
    codes = records.get_column("fmt")
    present = codes.unique().sort().to_list()
    parts: list[pl.DataFrame] = []
    for code in present:
        fmt = formats[code]
        subset = records if len(present) == 1 else records.filter(codes == code)
        events = _parse_as(fmt, subset, light)
        failed = events.get_column("message").is_null()
        if fmt is not PLAIN and failed.any():
            diag.unparsed[f"{fmt.name}: record does not parse as {fmt.name}, kept as plain"] += int(failed.sum())
            parts.append(_parse_as(PLAIN, subset.filter(failed), light))
            events = events.filter(~failed)
        parts.append(events)
    if light:
        parts = [part.select(c for c in _LIGHT_KEEP if c in part.columns) for part in parts]
    events = parts[0] if len(parts) == 1 else pl.concat(parts, how="diagonal_relaxed").sort("line_no")
    if light:
        if "ts" not in events.columns:
            events = events.with_columns(pl.lit(None, dtype=UTC_TS).alias("ts"))
        return _finish_columns(events, diag)
    events = events.with_columns(
        pl.lit(None, dtype=dtype).alias(name) for name, dtype in SCHEMA.items() if name not in events.columns
    )
    # what the request step reads: the line as written, but for Loguru's JSON its message (the record's own
    # fields, `"file": {"path": "/app/main.py"}`, would pass for a request's)
    said = events.get_column("head")
    if (events.get_column("format") == "loguru_json").any():
        said = events.select(pl.when(pl.col("format") == "loguru_json").then(pl.col("message")).otherwise(pl.col("head"))).to_series()
    events = request_fields(events, said, ~events.get_column("format").is_in(DATABASE_FORMATS))
    events = _fill_nulls(events, "request_id", "head", request_ids)
    events = _fill_nulls(events, "exc_type", "text", exception_types)
    bare = (events.get_column("format") == PLAIN.name) & events.get_column("exc_type").is_null()
    if bare.any():  # an exception line left alone: the tail of a traceback another writer's lines cut off
        events = events.with_columns(
            events.get_column("exc_type").clone().scatter(bare.arg_true(), bare_exception_types(events.get_column("head").filter(bare))))
    return _finish_columns(events, diag)


def _finish_columns(events: pl.DataFrame, diag: Diagnostics) -> pl.DataFrame:
    """Compose status lines as format `compose`, line counts, UTC times, ranges checked."""
    status = pl.col("compose_status")
    events = events.with_columns(
        pl.when(status).then(pl.lit("compose")).otherwise(pl.col("format")).alias("format"),
        pl.col("nphys").alias("line_count"),
        pl.col("ts").cast(UTC_TS),
    ).drop("nphys", "compose_status", "head", "fmt", strict=False)
    return bounds.check(events, diag)
