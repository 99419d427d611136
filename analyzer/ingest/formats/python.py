"""stdlib `logging` output with the usual format strings, and alembic's own lines.

Layouts recognised (first match wins):
`%(asctime)s [%(levelname)s] %(name)s: %(message)s`,
`%(asctime)s - %(name)s - %(levelname)s - %(message)s`,
`%(asctime)s %(levelname)s %(name)s %(message)s` (also `|`-separated),
`[%(asctime)s] %(levelname)s in %(module)s: %(message)s`,
`%(levelname)s:%(name)s:%(message)s` (basicConfig's default), OpenTelemetry's
logging instrumentation's `%(asctime)s %(levelname)s [%(name)s] [%(filename)s:%(lineno)d]
[trace_id=... span_id=... resource.service.name=...] - %(message)s` (its trace ID is the
request's: analyzer.ingest.formats.common.request_ids),
alembic's `%(levelname)-5.5s [%(name)s] %(message)s`, and alembic's
`FAILED: <message>` (printed on stdout after a failed command, reference 6).
"""

from __future__ import annotations

import polars as pl

from analyzer.ingest.formats import common
from analyzer.ingest.formats.base import Format

_TS = r"\[?[0-9]{4}-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9](?:[.,][0-9]+)?(?:Z|[+-][0-9][0-9]:?[0-9][0-9])?\]?"
_LEVEL = r"(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL|EXCEPTION)"

HEADER = (
    rf"^(?:{_TS}(?: -| \|)? \[?{_LEVEL}\]?[ :|]"
    rf"|{_TS} - [\w.]+ - {_LEVEL} - "
    rf"|{_LEVEL}:[\w.]+:"
    r"|(?:DEBUG|INFO |WARNI|ERROR|CRITI) \[[\w.]+\] "
    r"|FAILED: )"
)

# Each layout: a regex with named groups ts/level/logger/msg (any may be absent).
_LAYOUTS = (
    rf"^(?P<ts>{_TS}) - (?P<logger>[\w.]+) - (?P<level>{_LEVEL}) - (?P<msg>.*)$",
    rf"^(?P<ts>{_TS}) (?P<level>{_LEVEL}) \[(?P<logger>[\w.<>-]+)\] \[[^\]\s]+:[0-9]+\] \[trace_id=[^\]]*\] - (?P<msg>.*)$",
    rf"^(?P<ts>{_TS})(?: -| \|)? \[?(?P<level>{_LEVEL})\]?(?: in)? *(?:\| *)?(?:\[(?P<rid>{common.ID_SHAPE}|-)\] )?"
    rf"(?:(?P<logger>[\w.<>]+)(?::| -| \|) )?(?P<msg>.*)$",
    rf"^(?P<level>{_LEVEL}):(?P<logger>[\w.]+):(?P<msg>.*)$",
    r"^(?P<level>DEBUG|INFO|WARNI|ERROR|CRITI) +\[(?P<logger>[\w.]+)\] (?P<msg>.*)$",
    r"^(?P<level>FAILED): (?P<msg>.*)$",
)
_FIELDS = ("ts", "level", "logger", "msg", "rid")
_BRACKETED_ID = rf"^\[({common.ID_SHAPE}|-)\] "  # a keyless request ID opening the message
# The most common layout, `2026-11-23 09:08:01,530 [INFO] app.db: message`, in a shape that fixes where each
# field ends. Such a line is the second layout's (the first needs ` - ` right after the time) with exactly
# these fields, which plain searches find faster than the layout's capture groups.
_COMMON = rf"^[0-9]{{4}}-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9],[0-9]{{3}} \[{_LEVEL}\] [\w.<>]+: "


def _common_fields(lines: pl.DataFrame) -> pl.DataFrame:
    """The fields of lines in the `_COMMON` shape."""
    after = pl.col("after")  # `LEVEL] logger: message`
    parts = lines.select(pl.col("head").str.slice(0, 23).alias("ts"), pl.col("head").str.slice(25).alias("after"))
    parts = parts.with_columns(after.str.find("]", literal=True).alias("bracket"))
    parts = parts.select(
        "ts",
        after.str.head(pl.col("bracket")).alias("level"),
        after.str.slice(pl.col("bracket") + 2).str.splitn(": ", 2).alias("named"),
    )
    return parts.select(
        "ts", "level", pl.col("named").struct.field("field_0").alias("logger"), pl.col("named").struct.field("field_1").alias("msg"),
        pl.lit(None, dtype=pl.String).alias("rid"),
    )


def _layout_fields(lines: pl.DataFrame) -> pl.DataFrame:
    """The fields of each line by the first layout that matches it (all null if none does)."""
    fields = pl.DataFrame({name: pl.repeat(None, lines.height, dtype=pl.String, eager=True) for name in _FIELDS})
    rows = pl.int_range(0, lines.height, dtype=pl.UInt32, eager=True)
    for layout in _LAYOUTS:
        if lines.is_empty():
            break
        groups = lines.select(pl.col("head").str.extract_groups(layout).struct.unnest())
        matched = groups.get_column("msg").is_not_null()
        found = groups.filter(matched).select(
            pl.col(name) if f"?P<{name}>" in layout else pl.lit(None, dtype=pl.String).alias(name) for name in _FIELDS
        )
        fields = common.patch(fields, rows.filter(matched), found)
        lines, rows = lines.filter(~matched), rows.filter(~matched)
    return fields


def parse(records: pl.DataFrame) -> pl.DataFrame:
    lines = records.select("head")
    common_shape = lines.select(pl.col("head").str.contains(_COMMON)).to_series()
    fields = _common_fields(lines)
    if not common_shape.all():
        fields = common.patch(fields, ~common_shape, _layout_fields(lines.filter(~common_shape)))
    msg = fields.get_column("msg")
    opened = msg.str.contains(_BRACKETED_ID).fill_null(False) & fields.get_column("rid").is_null()
    if opened.any():  # `... INFO app.api [<id>] message`: the ID opens the message
        said = msg.filter(opened).to_frame("m")
        fields = common.patch(fields, opened, said.select(
            pl.col("m").str.extract(_BRACKETED_ID, 1).alias("rid"), pl.col("m").str.replace(_BRACKETED_ID, "").alias("msg")))
    failed = fields.get_column("level") == "FAILED"
    time = fields.select(pl.col("ts").str.strip_chars("[]").str.replace(",", ".", literal=True)).to_series()
    events = fields.select(
        pl.when(failed).then(pl.lit("alembic")).otherwise(pl.col("logger")).alias("logger"),
        pl.col("msg").alias("message"),
        pl.when(pl.col("rid") != "-").then(pl.col("rid")).alias("request_id"),
    )
    return events.with_columns(
        common.iso_times(time).alias("ts"),
        pl.when(failed).then(pl.lit("error")).otherwise(common.levels(fields.get_column("level"))).alias("level"),
    )


def light(records: pl.DataFrame) -> pl.DataFrame:
    """What the screen's light parse needs (analyzer.ingest.formats.base.Format.light): for lines of the common
    shape (which always parse) their time alone, read as `parse` reads it; the other lines as `parse` reads them."""
    common_shape = records.select(pl.col("head").str.contains(_COMMON)).to_series()
    if not common_shape.all():
        return parse(records)
    time = records.select(pl.col("head").str.slice(0, 23).str.replace(",", ".", literal=True)).to_series()
    return pl.DataFrame({"ts": common.iso_times(time), "message": pl.repeat("", records.height, eager=True)})


FORMAT = Format("python", HEADER, parse, light=light, rank=90)
