"""Multi-line joining: which physical lines belong to one record, per stream.

Vectorized rules, evaluated over a whole batch of lines and applied within each
stream (a compose service, a Docker stream, a file; `sid` numbers them), so
that a traceback interrupted by another service's lines is still joined:

* a line matching a format header starts a record, except PostgreSQL's
  DETAIL/HINT/QUERY/CONTEXT/LOCATION/STATEMENT lines, which continue it;
* blank lines, indented or TAB-led lines, Loguru's `> File` marker, chained-
  exception separators and the lines SQLAlchemy/drivers/httpx append to an
  exception (`[SQL: ...]`, `(Background on this error at: ...)`, `DETAIL:  ...`,
  `LINE 1: ...`, asyncpg's untabbed deadlock lines `Process N waits for ...`,
  `For more information check: ...`, the `)` closing a message that ended in a
  newline) continue the record;
* the lines of a multi-line statement after `[SQL: `, up to the one ending in
  `]`, continue the record;
* `Traceback (most recent call last):` continues a record whose last line reads
  like an error (`Exception in ASGI application`, a logged exception), and
  opens a traceback: the first unindented line after it (the exception line)
  continues the record too; any further unindented line starts a new one;
* a header line inside an open traceback (after the opener or a frame, before
  the exception line) whose next non-header line is a frame, a caret line or
  the exception line is a record of its own that interrupts nothing (`alone`):
  stdout's JSON lines landing between the lines of a stderr traceback when the
  two streams are merged (`2>&1`), or another worker's line; the traceback
  goes on after it;
* in CSV streams (PostgreSQL csvlog) a line continues the record while the
  double quotes before it are unbalanced.

Costly rules only run on the lines they can change: continuation patterns on
lines that are no header, context rules only when the batch holds a traceback
or an open `[SQL: ` at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import polars as pl

from analyzer.ingest.formats.base import Format
from analyzer.ingest.formats.common import TRACEBACK, on_rows
from analyzer.ingest.framing.detect import Detector
from analyzer.ingest.framing.runs import collapse_runs, per_stream

CONTINUATION: Final = (
    r"^(?:$|[ \t]|> File |\(Background on this (?:error|warning) at: |\[SQL: |\[parameters: "
    r"|\[SQL parameters hidden|(?:DETAIL|HINT|CONTEXT|QUERY|LOCATION|STATEMENT):  |LINE [0-9]+: "
    r"|(?:future|task): <Task |The above exception was the direct cause|During handling of the above exception"
    r"|Process [0-9]+ waits for |Process [0-9]+: |For more information check: "
    r"|\^+$|\)$)"
)
OPENER: Final = TRACEBACK
SQL_OPENER: Final = "[SQL: "
_ERRORISH: Final = (
    r"(?i)(?:error|exception|critical|fatal|warn|fail|traceback|caught|problem)|:\s*$"
    r"|^The above exception|^During handling"
)
BLANK: Final = r"^\s*$"  # nothing but whitespace (what strip() empties)


def _previous(flag: pl.Expr, streams: int) -> pl.Expr:
    """Row index (column `_row`) of the last earlier line of the same stream where `flag` holds (null if none)."""
    return per_stream(pl.when(flag).then(pl.col("_row")).forward_fill().shift(1), streams)


def mark_starts(lines: pl.DataFrame, detector: Detector, quoted_streams: set[int]) -> pl.DataFrame:
    """Add `fmt` (format index), `start` (the line begins a record) and `alone` (the line is a record of its
    own inside another record, which goes on after it) to a frame of lines.

    `lines` holds `line` and `sid` (the stream), in input order.
    """
    streams = lines.get_column("sid").n_unique()
    text = lines.get_column("line")
    quoted = lines.get_column("sid").is_in(list(quoted_streams)) if quoted_streams else None
    if quoted is not None and quoted.all():
        start = _balanced(lines, streams)
        fmt = pl.repeat(detector.plain, len(text), dtype=pl.Int8, eager=True).scatter(
            start.arg_true(), detector.codes(text.filter(start))
        )
        return lines.with_columns(fmt.alias("fmt"), start.alias("start"), pl.lit(False).alias("alone"))
    fmt = detector.codes(text)
    start, alone = _starts(lines.with_columns(fmt.alias("fmt")), detector, streams)
    if quoted is not None and quoted.any():
        start = pl.select(pl.when(quoted).then(_balanced(lines, streams)).otherwise(start)).to_series()
        alone = alone & ~quoted
    return lines.with_columns(fmt.alias("fmt"), start.alias("start"), alone.alias("alone"))


def _balanced(lines: pl.DataFrame, streams: int) -> pl.Series:
    """CSV rule: a non-empty line whose stream has seen an even number of double quotes before it starts a record."""
    quotes = pl.col("line").str.count_matches('"', literal=True)
    balanced = (per_stream(quotes.cum_sum() - quotes, streams) % 2) == 0
    return lines.select((balanced & (pl.col("line") != "")).alias("start")).to_series()


def _starts(lines: pl.DataFrame, detector: Detector, streams: int) -> tuple[pl.Series, pl.Series]:
    """The header, continuation and traceback rules (everything but CSV quoting): (start, alone)."""
    formats = detector.formats
    text, fmt = lines.get_column("line"), lines.get_column("fmt")
    header = fmt != detector.plain
    for code, f in enumerate(formats):
        if f.aux and (fmt == code).any():  # header-shaped lines that continue the previous record
            own = fmt == code
            header = header & ~on_rows(own, _aux(text.filter(own), f), False)
    aux = (fmt != detector.plain) & ~header
    other = text.filter(~header)  # the lines no header starts
    cont = on_rows(~header, other.str.contains(CONTINUATION), False)
    bare_opener = on_rows(~header, other.str.starts_with(OPENER), False)
    x_line = ~header & ~cont & ~bare_opener & ~aux
    sql = on_rows(~header, other.str.starts_with(SQL_OPENER), False)
    if sql.any() and (sql & ~text.str.ends_with("]")).any():
        x_line = x_line & ~_in_sql(lines.with_columns(header.alias("_header"), sql.alias("_sql")), streams)
    # a line that ends with the opener opens a traceback on the lines after it; one that carries it inside
    # (a JSON line's escaped "exception" field) is complete in itself
    opener = text.str.contains(OPENER, literal=True)
    if opener.any():
        opener = on_rows(opener, text.filter(opener).str.strip_chars_end().str.ends_with(OPENER), False)
    if not opener.any():
        return header | x_line, pl.repeat(False, len(text), eager=True)
    frame = lines.select(
        "sid", "line", pl.int_range(pl.len(), dtype=pl.Int64).alias("_row"),
        header.alias("_header"), x_line.alias("_x"), opener.alias("_opener"), bare_opener.alias("_bare"),
    )
    plain = _outside_tracebacks(frame, streams)
    if not plain.any():
        return _traceback_rules(frame, streams)
    inner = frame.filter(~plain).with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("_row"))
    start, alone = _traceback_rules(inner, streams)
    return on_rows(~plain, start, True), on_rows(~plain, alone, False)


def _aux(lines: pl.Series, fmt: Format) -> pl.Series:
    """Which of a format's header lines are its `aux` lines, the pattern run only where its words appear."""
    assert fmt.aux is not None
    if fmt.aux_words is None:
        return lines.str.contains(fmt.aux)
    maybe = lines.str.contains(fmt.aux_words)
    return on_rows(maybe, lines.filter(maybe).str.contains(fmt.aux), False)


def _outside_tracebacks(frame: pl.DataFrame, streams: int) -> pl.Series:
    """Header lines no traceback rule can change: a record of one line (the next line of its stream is a
    header too) that starts where no traceback is open (the last non-header line of its stream before it,
    or the last opener, left none open). Such a line starts a record and is never `alone`, and the rules read
    the same from the other lines without it (a header breaks no more than the header after it), so they run
    on the other lines only: in production logs, most lines are such records."""
    h, o, x = pl.col("_header"), pl.col("_opener"), pl.col("_x")
    # whether a traceback is open after each line: the last opener came after the last exception line (a line
    # that is both closes it), read where `_interjected` reads it (the lines that are no header, or an opener)
    before = per_stream(pl.when(x).then(False).when(o).then(True).forward_fill(), streams).fill_null(False)
    next_header = per_stream(h.shift(-1), streams).fill_null(False)
    return frame.select(h & ~o & next_header & ~before).to_series()


def _traceback_rules(frame: pl.DataFrame, streams: int) -> tuple[pl.Series, pl.Series]:
    """(start, alone) of the lines of `frame` (`_row`, `_header`, `_x`, `_opener`, `_bare`) where a batch
    holds a traceback opener."""
    h, x, o = pl.col("_header"), pl.col("_x"), pl.col("_opener")
    # only a traceback of its own lines (its opener no header) can have other records' lines land inside it
    own_opener = frame.select((o & ~h).any()).item()
    alone = _interjected(frame, streams) if own_opener else pl.repeat(False, frame.height, eager=True)
    frame = frame.with_columns(alone.alias("_alone"))
    a = pl.col("_alone")
    brk_prev = _previous((h & ~o & ~a) | x, streams)
    open_prev = _previous(o, streams)
    in_traceback = open_prev.is_not_null() & (brk_prev.is_null() | (open_prev > brk_prev))
    start = frame.select(
        pl.when(a).then(False).when(h).then(True).when(pl.col("_bare")).then(False).when(x).then(~in_traceback)
        .otherwise(False)
    ).to_series()
    bare_opener = frame.get_column("_bare")
    if bare_opener.any():
        start = start | _opens_record(frame, bare_opener, streams)
    return start, alone


#: What a traceback's body holds after a line of another record landed in it: a frame or its code (indented),
#: a caret line, or the exception line (an unindented line the traceback rules read as its end).
_BODY: Final = r"^(?:[ \t]+\S|\^+$)"


def _interjected(frame: pl.DataFrame, streams: int) -> pl.Series:
    """Header lines that landed inside an open traceback: the last non-header line of their stream before
    them left a traceback open (its opener, a frame, no exception line yet) and the next non-blank one goes on
    with it (a frame, a caret line, the exception line). Such a line is a record of its own (`alone`) that does not
    end the traceback. Null for such a line that no other line follows yet in the batch."""
    h, o, x = pl.col("_header") & ~pl.col("_opener"), pl.col("_opener"), pl.col("_x")
    row = pl.col("_row")
    body = pl.col("line").str.contains(_BODY) | x
    # on the other lines: is a traceback open after this line? (the last opener came after the last exception line)
    last_open = per_stream(pl.when(~h & o).then(row).forward_fill(), streams)
    last_x = per_stream(pl.when(~h & x).then(row).forward_fill(), streams)
    open_after = last_open.is_not_null() & (last_x.is_null() | (last_open > last_x))
    before = per_stream(pl.when(~h).then(open_after).forward_fill(), streams)
    after = per_stream(pl.when(~h & ~pl.col("line").str.contains(BLANK)).then(body).backward_fill(), streams)  # blank lines decide nothing
    # null where nothing follows yet in the batch: more input decides (see split_open)
    return frame.select((h & before.fill_null(False) & after).alias("alone")).to_series()


def _opens_record(frame: pl.DataFrame, bare_opener: pl.Series, streams: int) -> pl.Series:
    """A bare `Traceback (most recent call last):` starts a record unless the line before it, or the last line
    before it that is no continuation (a header or an exception line), reads like an error: a formatter that
    appends to every record (Elastic APM's ` | elasticapm transaction.id=...`) puts its suffix on a line of its
    own after a message that ends in a newline (uvicorn's `Exception in ASGI application\n`)."""
    said = ~pl.col("line").str.contains(BLANK) & ~pl.col("_alone")
    prev, head = frame.select(
        _previous(said, streams).alias("prev"), _previous(said & (pl.col("_header") | pl.col("_x")), streams).alias("head"),
    ).filter(bare_opener).get_columns()
    lines = frame.get_column("line")
    errorish = pl.repeat(False, len(prev), eager=True)
    for at in (prev, head):
        errorish = errorish | (lines.gather(at.fill_null(0)).str.contains(_ERRORISH) & at.is_not_null())
    return on_rows(bare_opener, ~errorish, False)


def _in_sql(lines: pl.DataFrame, streams: int) -> pl.Series:
    """Lines inside a multi-line `[SQL: ...]` statement: after an unclosed `[SQL: ` line up to the one ending in `]`.

    A header line ends the statement too, so an unclosed bracket never swallows the next record.
    """
    closes = pl.col("line").str.ends_with("]")
    state = pl.when(pl.col("_header") | closes).then(False).when(pl.col("_sql")).then(True)
    return lines.select(per_stream(state.forward_fill().shift(1), streams).fill_null(False)).to_series()


_FRAME: Final = re.compile(r"^(?:[ \t]|> File )")


def unfinished_traceback(lines: Sequence[str]) -> bool:
    """Whether a record's lines are a Python traceback its exception line has not ended yet: it holds
    `Traceback (most recent call last):` and its last non-blank line is a frame (indented, or Loguru's
    `> File`). Such a record is held for more (`tail`: a longer while; `scan --state`: for the next run)."""
    body = [line for line in lines if line.strip()]
    return bool(body) and _FRAME.match(body[-1]) is not None and any(line == OPENER for line in lines)


def split_open(lines: pl.DataFrame, max_lines: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Separate each stream's last record, which more input may still continue.

    Returns (closed lines, open lines). A record already longer than `max_lines`
    is closed anyway, so held state stays bounded.
    """
    streams = lines.get_column("sid").n_unique()
    row = pl.col("_row")
    # a header line inside a traceback that nothing follows yet (`alone` null) may still land inside it: held with it
    starts = pl.col("start") & pl.col("alone").is_not_null() if "alone" in lines.columns else pl.col("start")
    is_last = row >= per_stream(pl.when(pl.col("start")).then(row).max(), streams).fill_null(-1)
    open_mask = (
        lines.select("sid", starts.alias("start"), pl.int_range(pl.len(), dtype=pl.Int64).alias("_row"))
        .select(is_last & (per_stream(is_last.sum(), streams) <= max_lines))
        .to_series()
    )
    held = lines.drop("alone", strict=False)  # marked again with the lines that follow
    if not open_mask.any():
        return lines, held.clear()
    return lines.filter(~open_mask), held.filter(open_mask)


def assemble(lines: pl.DataFrame) -> pl.DataFrame:
    """Group marked lines into records: `head` is the first line, `text` all of them joined.

    The first line of each stream in the batch always begins a record; an `alone` line is a record of its
    own, and the record it interrupted goes on after it.
    """
    if "alone" in lines.columns:
        alone = lines.get_column("alone").fill_null(False)  # null: nothing followed, the end of the input
        lines = lines.drop("alone")
        if alone.any():
            own = lines.filter(alone).drop("start").with_columns(pl.col("line").alias("text")).rename({"line": "head"})
            rest = lines.filter(~alone)
            records = assemble(rest) if rest.height else own.clear()
            return pl.concat([records, own.select(records.columns)]).sort("line_no")
    joined = {"text": pl.col("text").str.join("\n").str.strip_chars_end("\n"), "nphys": pl.col("nphys").sum()}
    records = collapse_runs(lines.with_columns(pl.col("line").alias("text")), lines.get_column("start"), joined)
    return records.drop("start").rename({"line": "head"})
