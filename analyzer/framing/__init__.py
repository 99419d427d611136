"""Framing: byte chunks of one input -> records (joined lines with their envelope fields).

`Framer` keeps the per-input state that must survive chunk boundaries: the
envelope detected on the first chunk, compose container names, Docker partial
entries not yet ended, and each stream's last record (which the next chunk may
continue). The batch reader and `tail` both feed chunks to a Framer; `flush`
releases what is held at end of input (or after a quiet spell in `tail`).

Record columns: source, line_no, nphys (physical lines), service, stream,
env_ts, compose_status, skey, fmt (index into the format tuple), head, text.
"""

from __future__ import annotations

import os

import polars as pl

from analyzer.diagnostics import Diagnostics
from analyzer.events import UTC_TS
from analyzer.formats.base import Format
from analyzer.framing import envelope as env
from analyzer.framing.decode import decode_lines
from analyzer.framing.multiline import assemble, mark_starts, split_open
from analyzer.sources import MAX_LINE_BYTES, Chunk, Input

MAX_OPEN_RECORD_LINES = 2000

_LINE_SCHEMA = {
    "line_no": pl.Int64,
    "nphys": pl.Int32,
    "line": pl.String,
    "service": pl.String,
    "stream": pl.String,
    "env_ts": UTC_TS,
    "compose_status": pl.Boolean,
    "partial": pl.Boolean,
}


def default_service(inp: Input) -> str:
    """Service name for an input with no envelope naming one: Docker config, else file stem."""
    if inp.service:
        return inp.service
    if inp.is_stdin:
        return "stdin"
    name = os.path.basename(inp.path).removesuffix(".gz")
    while True:
        stem, dot, ext = name.rpartition(".")
        if dot and (ext.isdigit() or ext in {"log", "jsonl", "json", "csv", "txt", "out", "err"}):
            name = stem
        else:
            return name or os.path.basename(inp.path)


class Framer:
    """Turns the chunks of one input into records, carrying state between chunks."""

    def __init__(self, inp: Input, formats: tuple[Format, ...], diag: Diagnostics,
                 max_open_lines: int = MAX_OPEN_RECORD_LINES) -> None:
        self.input = inp
        self.formats = formats
        self.diag = diag
        self.max_open_lines = max_open_lines
        self.envelope: env.Envelope | None = None
        self.names = env.ComposeNames()
        self.service = default_service(inp)
        self.quoted: set[str] = set()
        self.decided: set[str] = set()
        self.partials = pl.DataFrame(schema=_LINE_SCHEMA)
        self.held: pl.DataFrame | None = None

    def _lines(self, chunk: Chunk) -> pl.DataFrame:
        stats = self.diag.source(self.input.path)
        text = decode_lines(chunk.data, chunk.line_count, stats, MAX_LINE_BYTES)
        n = len(text)
        frame = pl.DataFrame(
            {
                "line_no": pl.int_range(chunk.first_line, chunk.first_line + n, dtype=pl.Int64, eager=True),
                "nphys": pl.repeat(1, n, dtype=pl.Int32, eager=True),
                "line": text,
            }
        ).with_columns(
            pl.lit(self.service, dtype=pl.String).alias("service"),
            pl.lit(None, dtype=pl.String).alias("stream"),
            pl.lit(None, dtype=UTC_TS).alias("env_ts"),
            pl.lit(False).alias("compose_status"),
            pl.lit(False).alias("partial"),
        )
        if self.envelope is None:
            self.envelope = env.detect(text.head(400).to_list())
        if self.envelope == "docker_json":
            frame, bad = env.unwrap_docker_json(frame)
            stats.bad_envelope_lines += bad
            frame = env.rejoin_partials(pl.concat([self.partials, frame]))
            still_open = frame.get_column("partial")
            if chunk.final:
                still_open = pl.Series([False] * frame.height, dtype=pl.Boolean)
            self.partials = frame.filter(still_open)
            frame = frame.filter(~still_open)
        elif self.envelope == "compose":
            frame = env.unwrap_compose(frame, self.names)
        elif self.envelope == "docker_ts":
            frame = env.take_timestamp(frame)
        return frame.with_columns(
            pl.concat_str([pl.col("service"), pl.col("stream").fill_null("")], separator="|").alias("skey")
        )

    def _decide_quoted(self, lines: pl.DataFrame) -> None:
        """Mark streams whose records are CSV (quote-balanced) from their first lines, once."""
        quoted_formats = [f for f in self.formats if f.quoted]
        if not quoted_formats:
            return
        for skey in lines.get_column("skey").unique().to_list():
            if skey in self.decided:
                continue
            self.decided.add(skey)
            sample = lines.filter(pl.col("skey") == skey).get_column("line").head(50)
            nonblank = sample.filter(sample != "")
            hits = sum(int(nonblank.str.contains(f.header).sum()) for f in quoted_formats)
            if nonblank.len() and hits * 2 >= nonblank.len():
                self.quoted.add(skey)

    def feed(self, chunk: Chunk) -> pl.DataFrame:
        """Records completed by this chunk (each stream's last record is held unless the chunk is final)."""
        lines = self._lines(chunk)
        self._decide_quoted(lines)
        if self.held is not None and self.held.height:
            lines = pl.concat([self.held, lines.select(self.held.columns)], how="vertical")
            self.held = None
        if lines.height == 0:
            return self._records(lines)
        marked = mark_starts(lines, self.formats, self.quoted)
        if not chunk.final:
            marked, self.held = split_open(marked, self.max_open_lines)
            self.held = self.held.drop("fmt", "start")
        return self._records(marked)

    def flush(self) -> pl.DataFrame:
        """Release everything held (end of input, or a quiet spell while tailing)."""
        lines = self.held
        self.held = None
        if self.partials.height:
            partials = self.partials.with_columns(
                pl.concat_str([pl.col("service"), pl.col("stream").fill_null("")], separator="|").alias("skey")
            )
            self.partials = self.partials.clear()
            lines = partials if lines is None else pl.concat([lines, partials.select(lines.columns)])
        if lines is None or lines.height == 0:
            return self._records(pl.DataFrame())
        return self._records(mark_starts(lines, self.formats, self.quoted))

    def _records(self, marked: pl.DataFrame) -> pl.DataFrame:
        if marked.height == 0:
            return pl.DataFrame()
        records = assemble(marked.drop("partial"))
        blank = records.get_column("text").str.strip_chars() == ""
        if blank.any():
            self.diag.source(self.input.path).blank_lines += int(records.filter(blank).get_column("nphys").sum())
            records = records.filter(~blank)
        return records.with_columns(pl.lit(self.input.path).alias("source"))
