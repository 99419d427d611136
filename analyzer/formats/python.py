"""stdlib `logging` output with the usual format strings, and alembic's own lines.

Layouts recognised (first match wins):
`%(asctime)s [%(levelname)s] %(name)s: %(message)s`,
`%(asctime)s - %(name)s - %(levelname)s - %(message)s`,
`%(asctime)s %(levelname)s %(name)s %(message)s` (also `|`-separated),
`[%(asctime)s] %(levelname)s in %(module)s: %(message)s`,
`%(levelname)s:%(name)s:%(message)s` (basicConfig's default),
alembic's `%(levelname)-5.5s [%(name)s] %(message)s`, and alembic's
`FAILED: <message>` (printed on stdout after a failed command, reference 6).
"""

from __future__ import annotations

import polars as pl

from analyzer.formats import common
from analyzer.formats.base import Format

_TS = r"\[?\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\]?"
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
    rf"^(?P<ts>{_TS})(?: -| \|)? \[?(?P<level>{_LEVEL})\]?(?: in)? *(?:\| *)?(?:(?P<logger>[\w.<>]+)(?::| -| \|) )?(?P<msg>.*)$",
    rf"^(?P<level>{_LEVEL}):(?P<logger>[\w.]+):(?P<msg>.*)$",
    r"^(?P<level>DEBUG|INFO|WARNI|ERROR|CRITI) +\[(?P<logger>[\w.]+)\] (?P<msg>.*)$",
    r"^(?P<level>FAILED): (?P<msg>.*)$",
)


def parse(records: pl.DataFrame) -> pl.DataFrame:
    head = pl.col("head")
    groups = [head.str.extract_groups(layout) for layout in _LAYOUTS]
    # the first layout that matched decides every field of the row
    matched = [g.struct.field("msg").is_not_null() for g in groups]
    chosen = []
    for name in ("ts", "level", "logger", "msg"):
        expr: pl.Expr = pl.lit(None, dtype=pl.String)
        for g, layout, ok in reversed(list(zip(groups, _LAYOUTS, matched, strict=True))):
            value = g.struct.field(name) if f"?P<{name}>" in layout else pl.lit(None, dtype=pl.String)
            expr = pl.when(ok).then(value).otherwise(expr)
        chosen.append(expr.alias(name))
    frame = records.select(*chosen, common.request_id(head).alias("request_id"), *common.kv_http_fields(head))
    failed = pl.col("level") == "FAILED"
    return frame.with_columns(
        common.iso_ts(pl.col("ts").str.strip_chars("[]").str.replace(",", ".", literal=True)).alias("ts"),
        pl.when(failed).then(pl.lit("error")).otherwise(common.level(pl.col("level"))).alias("level"),
        pl.when(failed).then(pl.lit("alembic")).otherwise(pl.col("logger")).alias("logger"),
    ).rename({"msg": "message"})


FORMAT = Format("python", HEADER, parse)
