"""Loguru's text output: the default format and customized layouts (inserted or reordered fields).

Default: `{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {name}:{function}:{line} - {message}`
(reference 2.1): local time without zone, read as UTC. Request IDs appear only
when the format prints them (`| req_id=...`, `{'request_id': '...'}`) and are
read from the text like every format's (analyzer.ingest.normalize). A layout with
a field inserted (`... | INFO     | req_id=ab12 | app.main:handler:42 - message`)
or moved before the level is split on ` | `: the level and the
`name:function:line - ` location are recognised wherever they sit.
"""

from __future__ import annotations

import polars as pl

from analyzer.ingest.formats import common
from analyzer.ingest.formats.base import Format

_TS = r"[0-9]{4}-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9](?:\.[0-9]+)?(?:Z|[+-][0-9][0-9]:?[0-9][0-9])?"
_LEVEL = r"(?:TRACE|DEBUG|INFO|SUCCESS|WARNING|ERROR|CRITICAL)"
# `time | LEVEL | ...`, or a customized layout with up to three fields (`req_id=ab12`, `{process}`) before the level
HEADER = rf"^{_TS} \| (?:[A-Za-z0-9_]+ *|(?:[^|]* \| ){{1,3}}{_LEVEL} *)\| "
_CALLER = r"^([^\s:|]+):[^\s:|]+:[0-9]+ - "
# anywhere in a customized layout: ` | name:function:line - message`, the location a field of its own
_CALLER_ANYWHERE = r"\| ([^\s:|]+):[^\s:|]+:[0-9]+ - "


def _custom(head: pl.Series) -> pl.DataFrame:
    """Logger, level and message of customized layouts: fields split on ` | `, the level the first level
    word standing as a field, the location `name:function:line - ` wherever it sits (the message follows it;
    without one, the message is what follows the level). `key=value` fields stay in the text, where the
    request ID and HTTP steps read them."""
    h = pl.col("h")
    frame = head.to_frame("h").with_columns(
        h.str.extract(rf" \| ({_LEVEL}) *\| ", 1).alias("level"),
        h.str.extract(_CALLER_ANYWHERE, 1).alias("logger"),
    )
    after_caller = h.str.replace(r"^.*?\| [^\s:|]+:[^\s:|]+:[0-9]+ - ", "")
    after_level = h.str.replace(rf"^.*? \| {_LEVEL} *\| ", "")
    return frame.select(
        "logger", "level",
        pl.when(pl.col("logger").is_not_null()).then(after_caller).otherwise(after_level).alias("message"),
    )


def parse(records: pl.DataFrame) -> pl.DataFrame:
    head = records.get_column("head")
    parts = head.to_frame().select(pl.col("head").str.splitn(" | ", 3).struct.unnest())
    rest, logger = pl.col("field_2"), pl.col("logger")
    events = parts.with_columns(rest.str.extract(_CALLER, 1).alias("logger")).select(
        logger,
        pl.when(logger.is_not_null()).then(rest.str.slice(rest.str.find(" - ", literal=True) + 3)).otherwise(rest).alias("message"),
    )
    words = parts.get_column("field_1")
    # the default layout: the level second, the location third; anything else is a customized layout
    custom = events.get_column("logger").is_null() | ~words.str.contains(r"^[A-Za-z0-9_]+ *$").fill_null(False)
    if custom.any():
        found = _custom(head.filter(custom))
        words = words.scatter(custom.arg_true(), found.get_column("level").fill_null(words.filter(custom)))
        events = common.patch(events, custom, found.select("logger", "message"))
    return events.with_columns(
        common.iso_times(parts.get_column("field_0")).alias("ts"),
        common.levels(words).alias("level"),
    )


def light(records: pl.DataFrame) -> pl.DataFrame:
    """The `ts` that `parse` reads (the first ` | `-separated field); a record of this header always parses."""
    ts = common.iso_times(records.get_column("head").str.splitn(" | ", 2).struct.field("field_0"))
    return pl.DataFrame({"ts": ts, "message": pl.repeat("", records.height, eager=True)})


FORMAT = Format("loguru", HEADER, parse, light=light, rank=50)
