"""`key=value` lines (logfmt): structlog's `LogfmtRenderer` and `KeyValueRenderer`, Go-style services.

structlog's renderers (real output, tests/real_lines):
`timestamp=2026-12-03T18:54:58.562559Z level=info event="request finished" method=GET status=200`
(LogfmtRenderer) and `timestamp='2026-12-03T18:54:58.562322Z' level='info' event='request finished' ...`
(KeyValueRenderer, values as Python reprs). A line is logfmt when it starts with
a time or level key; the message is `event`/`msg`/`message`, the logger
`logger`/`logger_name`/`name`. HTTP fields, durations and request IDs come
from the shared steps (analyzer.ingest.normalize).

A quoted value is written escaped (`error="connection to server at \\"127.0.0.1\\" ...\\n..."`:
structlog, Go's logfmt and `strconv.Quote`): the record's `text`, which signatures
read, and its message hold the values as the program printed them (quotes,
backslashes, newlines and tabs unescaped), so a pattern written against a
driver's message matches it inside a logfmt line too, and an `exception=`
value is a traceback again. Unquoted values are kept as written.
"""

from __future__ import annotations

import re

import polars as pl

from analyzer.ingest.formats import common
from analyzer.ingest.formats.base import Format

_KEY = r"(?:timestamp|time|ts|t|level|lvl|severity)"
HEADER = rf"""^{_KEY}=(?:"[^"]*"|'[^']*'|\S+) [\w.@-]+="""  # a time or level key, then another key


def _value(*keys: str) -> pl.Expr:
    """The first of `keys` present, unquoted."""
    head = pl.col("head")
    found = [
        head.str.extract(rf"""(?:^| ){key}=(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|(\S*))""", i)
        for key in keys for i in (1, 2, 3)
    ]
    return pl.coalesce(found)


_QUOTED = re.compile(r"""(?<==)(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")  # a value, quoted
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def _unescape(value: str) -> str:
    """A quoted value's content as printed: `\\n`, `\\t`, `\\r` are control characters, any other escaped
    character is itself."""
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), value)


def unescape_values(line: str) -> str:
    """`line` with the content of every quoted value unescaped (the quotes around it kept)."""

    def one(m: re.Match[str]) -> str:
        quote = '"' if m.group(1) is not None else "'"
        return quote + _unescape(m.group(1) if m.group(1) is not None else m.group(2)) + quote

    return _QUOTED.sub(one, line)


#: A quoted value, in Rust regex syntax (no look-behind: the `=` before it is part of the match).
_QUOTED_VALUE = r"""=(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""


def _unescape_all(values: pl.Expr) -> pl.Expr:
    """`_unescape` of whole values, vectorized: escaped backslashes are set aside first, so that an escaped
    backslash before an `n` stays a backslash and an `n`."""
    return (
        values.str.replace_all(r"\\", "\x00", literal=True)
        .str.replace_all(r"\n", "\n", literal=True)
        .str.replace_all(r"\t", "\t", literal=True)
        .str.replace_all(r"\r", "\r", literal=True)
        .str.replace_all(r"\\(.)", "$1")
        .str.replace_all("\x00", "\\", literal=True)
    )


def _unescaped(values: pl.Series, *, quoted_only: bool) -> pl.Series:
    """The values with their escapes decoded, where they hold a backslash. With `quoted_only` (whole lines),
    inside quoted values only: a line whose every backslash is inside a quoted value (nearly all) is decoded
    whole and vectorized, the few others by `unescape_values` in Python."""
    escaped = values.str.contains("\\", literal=True).fill_null(False)
    if not escaped.any():
        return values
    some = values.filter(escaped).to_frame("v")
    decoded = some.select(_unescape_all(pl.col("v"))).to_series()
    if quoted_only:
        outside = some.select(pl.col("v").str.replace_all(_QUOTED_VALUE, "=").str.contains("\\", literal=True)).to_series()
        if outside.any():
            rows = some.get_column("v").filter(outside).to_list()
            decoded = decoded.scatter(outside.arg_true(), pl.Series([unescape_values(v) for v in rows], dtype=pl.String))
    return values.clone().scatter(escaped.arg_true(), decoded)


def parse(records: pl.DataFrame) -> pl.DataFrame:
    fields = records.select(
        _value("timestamp", "time", "ts", "t").alias("time"),
        _value("level", "lvl", "severity").alias("lvl"),
        _value("event", "msg", "message").alias("message"),
        _value("logger", "logger_name", "name").alias("logger"),
    )
    message = _unescaped(fields.get_column("message"), quoted_only=False).str.replace(r"\n[\s\S]*$", "")  # its first line
    return fields.select(
        pl.coalesce(message, records.get_column("head")).alias("message"), "logger"
    ).with_columns(
        _unescaped(records.get_column("text"), quoted_only=True).alias("text"),
        common.iso_times(fields.get_column("time")).alias("ts"),
        common.levels(fields.get_column("lvl")).alias("level"),
    )


FORMAT = Format("logfmt", HEADER, parse, rank=110)
