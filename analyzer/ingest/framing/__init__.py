"""Framing: byte chunks of one input -> records (joined lines with their envelope fields).

`Framer` keeps the per-input state that must survive chunk boundaries: line
numbers, the envelope detected on the first chunk, compose container names,
the input's streams, Docker partial entries not yet ended, which formats the
input holds (detection tries those first), and each stream's last record
(which the next chunk may continue). The batch reader and `tail` both feed
chunks to a Framer; `flush` releases what is held at end of input (or after a
quiet spell in `tail`).

Record columns, in line order: line_no, nphys (physical lines), sid (index
into `Framer.streams`), env_ts, compose_status, fmt (index into the format
tuple), head (first line), text (the whole record).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import polars as pl

from analyzer.diagnostics import Diagnostics
from analyzer.events import UTC_TS
from analyzer.ingest.formats.base import Format
from analyzer.ingest.framing import envelope as env
from analyzer.ingest.framing.decode import decode_lines
from analyzer.ingest.framing.detect import Detector
from analyzer.ingest.framing.multiline import BLANK, assemble, mark_starts, split_open, unfinished_traceback
from analyzer.ingest.framing.streams import Streams
from analyzer.ingest.sources import MAX_LINE_BYTES, Chunk, Input

MAX_OPEN_RECORD_LINES = 2000


def default_service(inp: Input) -> str:
    """Service name for an input with no envelope naming one: Docker config, a Kubernetes node's container log
    file's container, else the file stem."""
    if inp.service:
        return inp.service
    if inp.is_stdin:
        return "stdin"
    if container := env.kubernetes_container(inp.path):
        return container
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
        self.detector = Detector(formats)
        self.envelope: env.Envelope | None = None
        self.names = env.ComposeNames()
        self.streams = Streams()
        self.service = default_service(inp)
        self.sid = self.streams.id(self.service)  # lines the envelope assigns to no other stream
        self.next_line = 1
        self.quoted: set[int] = set()
        self.decided: set[int] = set()
        self.partials: pl.DataFrame | None = None
        self.held: pl.DataFrame | None = None
        self.fed_streams: set[int] = set()  # the streams the last chunk brought lines to

    def _lines(self, chunk: Chunk) -> pl.DataFrame:
        stats = self.diag.source(self.input.path)
        if chunk.first_line:  # the reader knows: a resumed read (scan --state), tail from the end or after a rotation
            self.next_line = chunk.first_line
        text = decode_lines(chunk.data, stats, MAX_LINE_BYTES)
        n = len(text)
        frame = pl.DataFrame(
            {"line_no": pl.int_range(self.next_line, self.next_line + n, dtype=pl.Int64, eager=True), "line": text}
        ).with_columns(
            pl.lit(1, dtype=pl.Int32).alias("nphys"),
            pl.lit(self.sid, dtype=pl.UInt32).alias("sid"),
            pl.lit(None, dtype=UTC_TS).alias("env_ts"),
            pl.lit(False).alias("compose_status"),
        )
        self.next_line += n
        if self.envelope is None:
            self.envelope = env.detect(text.head(400).to_list())
        if self.envelope == "docker_json":
            frame, bad = env.unwrap_docker_json(frame, self.streams, self.service)
            stats.bad_envelope_lines += bad
        elif self.envelope == "cri":
            frame = env.unwrap_cri(frame, self.streams, self.service)
        elif self.envelope == "compose":
            frame = env.unwrap_compose(frame, self.names, self.streams)
        elif self.envelope == "docker_ts":
            frame = env.take_timestamp(frame)
        elif self.envelope == "syslog":
            frame = env.unwrap_syslog(frame, self.streams, datetime.now(UTC))
        if "partial" in frame.columns:  # Docker and the CRI split long lines into pieces
            frame = self._rejoin_pieces(frame, chunk.final)
        return frame

    def _rejoin_pieces(self, frame: pl.DataFrame, final: bool) -> pl.DataFrame:
        """Lines whose pieces all arrived; a line still open at the chunk's end is held for the next one."""
        if self.partials is not None:
            frame = pl.concat([self.partials, frame])
        frame = env.rejoin_partials(frame)
        still_open = pl.repeat(False, frame.height, eager=True) if final else frame.get_column("partial")
        self.partials = frame.filter(still_open)
        return frame.filter(~still_open).drop("partial")

    def _decide_quoted(self, lines: pl.DataFrame) -> None:
        """Mark streams whose records are CSV (quote-balanced) from their first lines, once."""
        quoted_formats = [f for f in self.formats if f.quoted]
        if not quoted_formats:
            return
        for sid in lines.get_column("sid").unique().to_list():
            if sid in self.decided:
                continue
            self.decided.add(sid)
            sample = lines.filter(pl.col("sid") == sid).get_column("line").head(50)
            nonblank = sample.filter(sample != "")
            hits = sum(int(nonblank.str.contains(f.header).sum()) for f in quoted_formats)
            if nonblank.len() and hits * 2 >= nonblank.len():
                self.quoted.add(sid)

    def feed(self, chunk: Chunk) -> pl.DataFrame:
        """Records completed by this chunk (each stream's last record is held unless the chunk is final)."""
        lines = self._lines(chunk)
        self.fed_streams = set(lines.get_column("sid").unique().to_list())
        self._decide_quoted(lines)
        if self.held is not None:
            lines = pl.concat([self.held, lines])
            self.held = None
        if lines.height == 0:
            return self._records(lines)
        marked = mark_starts(lines, self.detector, self.quoted)
        if not chunk.final:
            marked, held = split_open(marked, self.max_open_lines)
            self.held = held.drop("fmt", "start")
        return self._records(marked)

    def held_streams(self) -> set[int]:
        """The streams whose last record (or a line's pieces) is held."""
        parts = [part for part in (self.held, self.partials) if part is not None and part.height]
        return {sid for part in parts for sid in part.get_column("sid").unique().to_list()}

    def flush(self, keep_unfinished: bool = False, streams: set[int] | None = None) -> pl.DataFrame:
        """Release everything held (end of input, or a quiet spell while tailing), or only what `streams` hold
        (those of them that went quiet while others write on: tail).

        `keep_unfinished` (a quiet spell): a stream's last record that is a traceback without its exception
        line yet (multiline.unfinished_traceback) stays held; its next lines, or a record header, end it.
        """
        if streams is not None:
            ours = pl.col("sid").is_in(list(streams))
            held, partials = self.held, self.partials
            self.held = held.filter(ours) if held is not None else None
            self.partials = partials.filter(ours) if partials is not None else None
            records = self.flush(keep_unfinished)
            rest = [part for part in (held.filter(~ours) if held is not None else None, self.held)
                    if part is not None and part.height]  # others' held lines, and ours still held, in input order
            self.held = pl.concat(rest).sort("line_no", maintain_order=True) if rest else None
            others = partials.filter(~ours) if partials is not None else None
            self.partials = others if others is not None and others.height else None
            return records
        held, kept = self.held, None
        if keep_unfinished and held is not None and held.height:
            open_sids = [sid for sid, lines in held.group_by("sid", maintain_order=True).agg("line").iter_rows()
                         if unfinished_traceback(lines)]
            if open_sids:
                kept = held.filter(pl.col("sid").is_in(open_sids))
                held = held.filter(~pl.col("sid").is_in(open_sids))
        partials = None if self.partials is None else self.partials.drop("partial")
        parts = [part for part in (held, partials) if part is not None and part.height]
        self.held, self.partials = kept, None
        if not parts:
            return self._records(pl.DataFrame())
        return self._records(mark_starts(pl.concat(parts), self.detector, self.quoted))

    def _records(self, marked: pl.DataFrame) -> pl.DataFrame:
        if marked.height == 0:
            return pl.DataFrame()
        records = assemble(marked)
        blank = records.get_column("text").str.contains(BLANK)
        if blank.any():
            self.diag.source(self.input.path).blank_lines += int(records.filter(blank).get_column("nphys").sum())
            records = records.filter(~blank)
        if not records.get_column("line_no").is_sorted():  # a rejoined Docker entry can begin before held lines
            records = records.sort("line_no")
        return records
