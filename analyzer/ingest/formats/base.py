r"""What a log format is to the pipeline: a header pattern and a vectorized parser.

A format module declares one `Format` named `FORMAT`; the package finds it by itself
(analyzer.ingest.formats), so adding a format is adding its module. Framing uses `header` (and `aux`) to
tell where records start; the parser turns a frame of records into event
columns. Parsers receive a frame with `head` (the record's first line, envelope
removed) and `text` (the whole record) and return a frame of the same height
holding whichever event columns they can fill (see analyzer.events).

Patterns here run on Polars, which keeps 32 compiled regexes per thread; a batch
uses more than that, so each one is compiled again for every batch, and the
compile can cost more than the search (most of all on tail's small batches).
Hence digits are written `[0-9]`, never `\d`: the Unicode class compiles to
about three times the automaton, and every logger prints ASCII digits (the
times and numbers behind them are read by casts that take nothing else).
Other classes are ASCII where the text is by its spec (Compose service names,
PostgreSQL zone names) and Unicode where it is free (Python logger names).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

Parser = Callable[[pl.DataFrame], pl.DataFrame]


@dataclass(frozen=True)
class Format:
    """One log format: its name, how its records start, and how to parse them."""

    name: str
    header: str  # anchored Rust regex matched by the first line of a record
    parse: Parser
    #: place in the detection order, lowest first: a more specific header before a looser one it overlaps
    #: (`plain`, which matches anything, is last)
    rank: int = 500
    database: bool = False  # the database's own log: its records never tell an HTTP request's outcome
    aux: str | None = None  # header-shaped lines that continue the previous record
    #: an unanchored pattern found in every line `aux` matches, cheap to search for: framing runs `aux` only
    #: on the lines where it is found (None: on every line of the format)
    aux_words: str | None = None
    quoted: bool = False  # records may span lines inside double quotes (CSV)
    #: a record is its first line (a JSON object): the parser rebuilds the text from its fields, and any lines
    #: framing joined after it (a traceback printed to a merged stderr) are kept after that text
    one_line: bool = False
    #: What the screen's light parse (analyzer.ingest.screen) needs of the records it drops, exactly as `parse`
    #: reads it: `ts`, `message` only as far as null (the record does not parse) or not, and every ranged
    #: field whose value could be out of range (analyzer.ingest.bounds). None: the light parse runs `parse`.
    light: Callable[[pl.DataFrame], pl.DataFrame] | None = None
