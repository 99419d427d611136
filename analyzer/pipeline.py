"""The pipeline, stage by stage: sources -> framing -> formats -> events.

`Pipeline` is what `events`, `scan` and `tail` all run: batch reading calls
`run` over inputs; `tail` calls `feed`/`flush` with the chunks it follows. Both
go through the same Framer, parser and time inference, keeping the state that
spans batches (per-input framers, each stream's last timestamp) here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import polars as pl

from analyzer.diagnostics import Diagnostics
from analyzer.events import conform, empty_events
from analyzer.formats import BY_NAME, FORMATS, PLAIN, Format
from analyzer.framing import Framer
from analyzer.parse import parse_records
from analyzer.sources import CHUNK_BYTES, Chunk, Input, read_chunks


def formats_for(name: str | None) -> tuple[Format, ...]:
    """All formats in detection order, or just the forced one (plus the plain fallback)."""
    if name is None:
        return FORMATS
    fmt = BY_NAME[name]
    return (fmt,) if fmt is PLAIN else (fmt, PLAIN)


@dataclass
class Tally:
    """Event counts for summaries, merged batch by batch."""

    records: int = 0
    by_format: Counter[str] = field(default_factory=Counter)
    by_service: Counter[str] = field(default_factory=Counter)
    by_stream: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (source, service, format)
    ts_min: object = None
    ts_max: object = None

    def add(self, events: pl.DataFrame) -> None:
        if events.height == 0:
            return
        self.records += events.height
        counts = events.group_by("source", "service", "format").len()
        for source, service, fmt, n in counts.iter_rows():
            self.by_format[fmt] += n
            self.by_service[service] += n
            self.by_stream[(source, service, fmt)] += n
        lo, hi = events.get_column("ts").min(), events.get_column("ts").max()
        if lo is not None:
            self.ts_min = lo if self.ts_min is None or lo < self.ts_min else self.ts_min  # type: ignore[operator]
            self.ts_max = hi if self.ts_max is None or hi > self.ts_max else self.ts_max  # type: ignore[operator]


class Pipeline:
    """Reads inputs into normalized event batches, keeping cross-batch state."""

    def __init__(self, diag: Diagnostics, fmt: str | None = None, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.diag = diag
        self.formats = formats_for(fmt)
        self.chunk_bytes = chunk_bytes
        self.framers: dict[str, Framer] = {}
        self.last_ts: dict[str, object] = {}
        self.tally = Tally()

    def framer(self, inp: Input) -> Framer:
        framer = self.framers.get(inp.path)
        if framer is None:
            framer = self.framers[inp.path] = Framer(inp, self.formats, self.diag)
        return framer

    def feed(self, chunk: Chunk) -> pl.DataFrame:
        """Events completed by one chunk."""
        return self._events(self.framer(chunk.input).feed(chunk))

    def flush(self, inp: Input) -> pl.DataFrame:
        """Events held for `inp` (its streams' last records)."""
        return self._events(self.framer(inp).flush())

    def run(self, inputs: Iterable[Input]) -> Iterator[pl.DataFrame]:
        """Event batches for every input, read in bounded chunks."""
        for inp in inputs:
            for chunk in read_chunks(inp, self.diag, self.chunk_bytes):
                events = self.feed(chunk)
                if events.height:
                    yield events
            events = self.flush(inp)
            if events.height:
                yield events
            self.framers.pop(inp.path, None)

    def _events(self, records: pl.DataFrame) -> pl.DataFrame:
        if records.height == 0:
            return empty_events()
        events = self._infer_times(parse_records(records, self.formats, self.diag))
        events = conform(events)
        self.tally.add(events)
        return events

    def _infer_times(self, events: pl.DataFrame) -> pl.DataFrame:
        """Records without a time of their own take the envelope's, else the stream's last one (flagged)."""
        own = pl.coalesce(pl.col("ts"), pl.col("env_ts"))
        ts_type = events.schema["ts"]
        carried = (
            pl.col("skey").replace_strict(self.last_ts, default=None, return_dtype=ts_type)
            if self.last_ts
            else pl.lit(None, dtype=ts_type)
        )
        events = events.with_columns(own.alias("_own")).with_columns(
            pl.coalesce(pl.col("_own").forward_fill().over("skey"), carried).alias("ts"),
        )
        events = events.with_columns((pl.col("_own").is_null() & pl.col("ts").is_not_null()).alias("ts_inferred"))
        last = events.filter(pl.col("_own").is_not_null()).group_by("skey").agg(pl.col("_own").last())
        self.last_ts.update(dict(last.iter_rows()))
        return events.drop("_own")
