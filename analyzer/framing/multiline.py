"""Multi-line joining: which physical lines belong to one record, per stream.

Vectorized rules, evaluated over a whole batch of lines and applied within each
stream (a compose service, a Docker stream, a file), so that a traceback
interrupted by another service's lines is still joined:

* a line matching a format header starts a record, except PostgreSQL's
  DETAIL/HINT/QUERY/CONTEXT/LOCATION/STATEMENT lines, which continue it;
* blank lines, indented or TAB-led lines, Loguru's `> File` marker, chained-
  exception separators and the lines SQLAlchemy/drivers append to an exception
  (`[SQL: ...]`, `(Background on this error at: ...)`, `DETAIL:  ...`,
  `LINE 1: ...`, asyncpg's untabbed deadlock lines `Process N waits for ...`)
  continue the record;
* `Traceback (most recent call last):` continues a record whose last line reads
  like an error (`Exception in ASGI application`, a logged exception), and
  opens a traceback: the first unindented line after it (the exception line)
  continues the record too; any further unindented line starts a new one;
* in CSV streams (PostgreSQL csvlog) a line continues the record while the
  double quotes before it are unbalanced.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from analyzer.formats.base import Format

CONTINUATION: Final = (
    r"^(?:$|[ \t]|> File |\(Background on this (?:error|warning) at: |\[SQL: |\[parameters: "
    r"|\[SQL parameters hidden|(?:DETAIL|HINT|CONTEXT|QUERY|LOCATION|STATEMENT):  |LINE \d+: "
    r"|(?:future|task): <Task |The above exception was the direct cause|During handling of the above exception"
    r"|Process \d+ waits for |Process \d+: "
    r"|\^+$)"
)
OPENER: Final = "Traceback (most recent call last):"
_ERRORISH: Final = (
    r"(?i)(?:error|exception|critical|fatal|warn|fail|traceback|caught|problem)|:\s*$"
    r"|^The above exception|^During handling"
)


def format_codes(line: pl.Expr, formats: tuple[Format, ...]) -> pl.Expr:
    """Index into `formats` of the first header the line matches; the last format is the fallback."""
    expr: pl.Expr = pl.lit(len(formats) - 1, dtype=pl.Int8)
    for code in range(len(formats) - 2, -1, -1):
        expr = pl.when(line.str.contains(formats[code].header)).then(pl.lit(code, dtype=pl.Int8)).otherwise(expr)
    return expr


def _aux(line: pl.Expr, code: pl.Expr, formats: tuple[Format, ...]) -> pl.Expr:
    """Header-shaped lines that continue the previous record (PostgreSQL's DETAIL etc.)."""
    expr: pl.Expr = pl.lit(False)
    for i, fmt in enumerate(formats):
        if fmt.aux:
            expr = expr | ((code == i) & line.str.contains(fmt.aux))
    return expr


def _per_stream(expr: pl.Expr, streams: int) -> pl.Expr:
    """Apply a window expression per stream; a single stream needs no grouping."""
    return expr.over("skey") if streams > 1 else expr


def mark_starts(lines: pl.DataFrame, formats: tuple[Format, ...], quoted_streams: set[str]) -> pl.DataFrame:
    """Add `fmt` (format index) and `start` (the line begins a record) to a frame of lines.

    `lines` holds `line` and `skey` (the stream key), in input order. Costly
    context rules run only when the batch holds a traceback at all.
    """
    line = pl.col("line")
    plain = len(formats) - 1
    streams = lines.get_column("skey").n_unique()
    lines = lines.with_columns(format_codes(line, formats).alias("fmt"))
    lines = lines.with_columns(
        ((pl.col("fmt") != plain) & ~_aux(line, pl.col("fmt"), formats)).alias("_header"),
        line.str.contains(CONTINUATION).alias("_cont"),
        line.str.contains(OPENER, literal=True).alias("_opener"),
    )
    header, cont, opener = pl.col("_header"), pl.col("_cont"), pl.col("_opener")
    bare_opener = ~header & line.str.starts_with(OPENER)
    aux = (pl.col("fmt") != plain) & ~header
    x_line = ~header & ~cont & ~bare_opener & ~aux
    if not lines.get_column("_opener").any():
        start = header | x_line
    else:
        idx = pl.int_range(pl.len(), dtype=pl.Int64)
        prev_nonblank = _per_stream(pl.when(line.str.strip_chars() != "").then(line).forward_fill().shift(1), streams)
        brk_prev = _per_stream(pl.when((header & ~opener) | x_line).then(idx).forward_fill().shift(1), streams)
        open_prev = _per_stream(pl.when(opener).then(idx).forward_fill().shift(1), streams)
        in_traceback = open_prev.is_not_null() & (brk_prev.is_null() | (open_prev > brk_prev))
        start = (
            pl.when(header)
            .then(True)
            .when(bare_opener)
            .then(~prev_nonblank.str.contains(_ERRORISH).fill_null(False))
            .when(x_line)
            .then(~in_traceback)
            .otherwise(False)
        )
    lines = lines.with_columns(start.alias("start")).drop("_header", "_cont", "_opener")
    if quoted_streams:
        quotes = line.str.count_matches('"', literal=True)
        balanced = (_per_stream(quotes.cum_sum() - quotes, streams) % 2) == 0
        in_csv = pl.col("skey").is_in(list(quoted_streams))
        lines = lines.with_columns(
            pl.when(in_csv).then(balanced & (line != "")).otherwise(pl.col("start")).alias("start")
        )
    return lines


def split_open(lines: pl.DataFrame, max_lines: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Separate each stream's last record, which more input may still continue.

    Returns (closed lines, open lines). A record already longer than `max_lines`
    is closed anyway, so held state stays bounded.
    """
    rec = pl.col("start").cast(pl.Int64).cum_sum().over("skey")
    lines = lines.with_columns(rec.alias("_rec"))
    is_last = pl.col("_rec") == pl.col("_rec").max().over("skey")
    held_size = is_last.cast(pl.Int64).sum().over("skey")
    open_mask = is_last & (held_size <= max_lines)
    return lines.filter(~open_mask).drop("_rec"), lines.filter(open_mask).drop("_rec")


def assemble(lines: pl.DataFrame) -> pl.DataFrame:
    """Group marked lines into records: `head` is the first line, `text` all of them.

    Single-line records (the common case) skip the group-by.
    """
    lines = lines.with_columns(pl.col("start").cast(pl.Int64).cum_sum().over("skey").alias("_rec"))
    next_cont = (~pl.col("start")).shift(-1).over("skey").fill_null(False)
    lines = lines.with_columns((~pl.col("start") | next_cont).alias("_multi"))
    singles = lines.filter(~pl.col("_multi")).with_columns(pl.col("line").alias("head"), pl.col("line").alias("text"))
    multi = lines.filter(pl.col("_multi"))
    columns = [c for c in singles.columns if c not in ("_rec", "_multi", "start", "line")]
    if multi.height:
        joined = multi.group_by(["skey", "_rec"], maintain_order=True).agg(
            pl.col("line").first().alias("head"),
            pl.col("line").str.join("\n").str.strip_chars_end("\n").alias("text"),
            pl.col("nphys").sum(),
            pl.exclude("line", "nphys", "_multi", "start", "head", "text").first(),
        )
        records = pl.concat([singles.select(columns), joined.select(columns)], how="vertical").sort("line_no")
    else:
        records = singles.select(columns)
    return records
