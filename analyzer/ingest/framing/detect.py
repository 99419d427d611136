"""Which format's header each line matches: the first in detection order, exactly, at the cost of about one.

The rule is simple (analyzer.ingest.formats lists the formats in detection order; a
line belongs to the first whose header it matches, else to the last, `plain`),
but testing every header on every line costs one regex pass per format. Real
inputs hold one to three formats, so `Detector` first tries the formats that
claimed many lines of the previous batch, most lines first, and keeps the rule
exact with one combined check: a line a format claims is kept only if no header
ranked before it that was not tried yet matches too (such a line waits for that
format). The lines left over (continuation lines, rare formats) meet one
combined test of the remaining headers, and those that match one of them meet
the remaining headers in detection order.
"""

from __future__ import annotations

import polars as pl

from analyzer.ingest.formats.base import Format

#: A format is tried first in the next batch if it claimed at least this share of a batch's lines.
LIKELY_SHARE = 1 / 16


def any_header(formats: list[Format]) -> str:
    """One pattern that matches where any of the formats' (anchored) headers matches."""
    return "|".join(f"(?:{fmt.header})" for fmt in formats)


class Detector:
    """Format codes (indices into `formats`, the last being the fallback) per line, for one input's batches."""

    def __init__(self, formats: tuple[Format, ...]) -> None:
        self.formats = formats
        self.plain = len(formats) - 1
        self.likely: list[int] = []

    def codes(self, lines: pl.Series) -> pl.Series:
        """The format code (Int8) of every line."""
        formats = self.formats
        codes = pl.repeat(self.plain, len(lines), dtype=pl.Int8, eager=True).alias("fmt")
        todo, rows = lines, pl.int_range(0, len(lines), dtype=pl.UInt32, eager=True)  # undecided lines
        tried: set[int] = set()

        def claim(code: int) -> int:
            """Give `code` to the undecided lines whose first matching header is its own; how many."""
            nonlocal todo, rows
            earlier = [formats[c] for c in range(code) if c not in tried]
            tried.add(code)
            hit = todo.str.contains(formats[code].header)
            if earlier and hit.any():
                at = hit.arg_true()
                conflict = todo.gather(at).str.contains(any_header(earlier))
                if conflict.any():
                    hit = hit.scatter(at.filter(conflict), False)
            n = int(hit.sum())
            if n:
                codes.scatter(rows.filter(hit), code)
                todo, rows = todo.filter(~hit), rows.filter(~hit)
            return n

        claimed = {code: claim(code) for code in self.likely if len(todo)}
        rest = [code for code in range(self.plain) if code not in self.likely]
        if len(rest) > 1 and len(todo):
            some = todo.str.contains(any_header([formats[code] for code in rest]))
            todo, rows = todo.filter(some), rows.filter(some)
        claimed |= {code: claim(code) for code in rest if len(todo)}
        self.likely = sorted(
            (code for code, n in claimed.items() if n >= LIKELY_SHARE * len(lines)),
            key=claimed.__getitem__,
            reverse=True,
        )
        return codes
