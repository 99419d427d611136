"""Bytes to text lines, without ever failing.

Invalid UTF-8 is replaced with U+FFFD, NUL and other C0 control bytes (except
TAB and ESC, which logs legitimately use) are removed, a trailing CR is dropped
and over-long lines are cut; each alteration is counted per source. ANSI colour
escapes (compose and uvicorn colour their output on a TTY) are stripped.

The split itself runs in Rust through Polars' CSV reader with quoting off and a
separator byte that the data is first checked not to contain: that is several
times faster than `bytes.split` and decodes UTF-8 in the same pass.
"""

from __future__ import annotations

import polars as pl
import regex

from analyzer.diagnostics import SourceStats

_SEPARATOR = b"\x1f"  # unit separator; replaced beforehand if present
_CONTROL = regex.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]")
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])
ANSI_PATTERN = r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Z0-9]|\x1b[=>]"


def _split(data: bytes) -> pl.Series:
    frame = pl.read_csv(
        data,
        has_header=False,
        separator=_SEPARATOR.decode(),
        quote_char=None,
        comment_prefix=None,
        new_columns=["line"],
        schema={"line": pl.String},
        encoding="utf8-lossy",
        raise_if_empty=False,
    )
    return frame.get_column("line") if frame.width else pl.Series("line", [], dtype=pl.String)


def _split_slow(data: bytes) -> pl.Series:
    """Fallback splitter, exact by construction; used if the fast path disagrees."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return pl.Series("line", [ln.decode("utf-8", "replace") for ln in lines], dtype=pl.String)


def decode_lines(data: bytes, expected: int, stats: SourceStats, max_line_bytes: int) -> pl.Series:
    """Split `data` into exactly `expected` text lines, counting what had to be altered."""
    if not data or expected == 0:
        return pl.Series("line", [], dtype=pl.String)
    if len(data.translate(None, _CONTROL_BYTES)) != len(data):
        # count affected lines once, then remove the bytes (they are never log text)
        stats.binary_lines += sum(1 for line in data.split(b"\n") if _CONTROL.search(line))
        data = _CONTROL.sub(b"", data)
    lines = _split(data)
    if len(lines) != expected:
        lines = _split_slow(data)
    if len(lines) < expected:  # lines that held nothing but removed control bytes
        lines = pl.concat([lines, pl.Series("line", [""] * (expected - len(lines)), dtype=pl.String)])
    lines = lines.fill_null("")
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            stats.replaced_lines += int(lines.str.contains("\ufffd", literal=True).sum())
    if b"\x1b" in data:
        lines = lines.str.replace_all(ANSI_PATTERN, "")
    if b"\r" in data:
        lines = lines.str.strip_chars("\r")
    too_long = lines.str.len_bytes() > max_line_bytes
    if too_long.any():
        stats.truncated_lines += int(too_long.sum())
        lines = pl.select(
            pl.when(too_long).then(lines.str.slice(0, max_line_bytes // 4)).otherwise(lines)
        ).to_series()
    return lines.alias("line")
