"""The pipeline, stage by stage: sources -> framing -> formats -> events.

`Pipeline` is what `events`, `scan` and `tail` all run: batch reading calls
`run` over inputs; `tail` calls `feed`/`flush` with the chunks it follows. Both
go through the same Framer, parser and time inference, keeping the state that
spans batches (per-input framers, each stream's last timestamp) here.

With a `Screen` (analyzer.ingest.screen: `scan` builds one from its signature
set unless `--exhaustive`), each batch of records is screened before it is
parsed: the records that can matter are normalized fully and yielded; the
others are parsed only as far as the summary needs (format, service, time,
unparsed records) and take part in time inference and the tally, in line
order with the rest, so nothing is counted differently. They are not
yielded, unless a later kept record names their request or may be tied to it:
the records that name a request are held for as long as the trace table keeps
one (`lookback`) and then revived, fully parsed, ahead of that batch's own
(analyzer.ingest.screen says which). `tail`, `scan --exhaustive`, `events` and
anything else that wants every record pass no screen; so do Dask shards
(analyzer.scale.partial), since a request may begin in one shard and fail in
another, whose screen could not know to keep its first records.

`run` overlaps three batches (analyzer.ingest.overlap): one thread reads and
frames a chunk while another screens, parses and finishes the records of the
one before and the caller analyses the events of the one before that. Polars
releases the GIL while it works, so the stages share both cores; each stage
sees its batches one at a time and in order, so the state it carries from
batch to batch (framing's open records, time inference, the tally, the
screen's memory) is the same as in one thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import NamedTuple

import polars as pl

from analyzer.analysis.correlate import LinkWindow, TraceLimits
from analyzer.diagnostics import Diagnostics
from analyzer.events import conform, empty_events
from analyzer.ingest.formats import BY_NAME, FORMATS, PLAIN, Format, loguru_json
from analyzer.ingest.formats import json as json_format
from analyzer.ingest.framing import Framer
from analyzer.ingest.framing.runs import per_stream
from analyzer.ingest.framing.streams import StreamKey, Streams
from analyzer.ingest.normalize import parse_records
from analyzer.ingest.overlap import overlapped
from analyzer.ingest.formats.common import REQUEST_WORDS, on_rows
from analyzer.ingest.screen import Screen, requests_to_link
from analyzer.ingest.sources import CHUNK_BYTES, Chunk, Input, read_chunks
from analyzer.ingest.tally import Tally

#: Columns of a dropped record the pipeline resolved (time inference, streams) and keeps beside its raw columns.
_RESOLVED = ("ts", "ts_inferred", "source", "service", "stream")
#: How far back (log time) a dropped record may still be revived: as long as the trace table keeps a request
#: that nothing marked (analyzer.analysis.correlate.TraceLimits.horizon), so that a record read later (another
#: input whose times start over, a service printed after another) finds the same requests either way.
LOOKBACK = TraceLimits().horizon
_WINDOW = LinkWindow()
#: What time inference and the tally read of every record, kept or not.
_SPINE = ("line_no", "sid", "env_ts", "ts", "format")
_ORPHAN_COLUMNS = ("ts", "service", "format", "level", "exc_type", "http_status", "duration_ms", "request_id")
MAX_LOOKBACK_ROWS = 300_000


def formats_for(name: str | None, request_id_keys: Sequence[str] = ()) -> tuple[Format, ...]:
    """All formats in detection order, or just the forced one (plus the plain fallback).

    `request_id_keys`: JSON keys that also carry the request ID (config); the JSON
    formats get a parser that reads them first. Without them the formats are the
    module-level ones, untouched.
    """
    if name is None:
        chosen = FORMATS
    else:
        fmt = BY_NAME[name]
        chosen = (fmt,) if fmt is PLAIN else (fmt, PLAIN)
    if not request_id_keys:
        return chosen
    keys = tuple(request_id_keys)
    with_keys = {json_format.FORMAT.name: json_format.with_request_id_keys(keys),
                 loguru_json.FORMAT.name: loguru_json.with_request_id_keys(keys)}
    return tuple(with_keys.get(fmt.name, fmt) for fmt in chosen)


class _Framed(NamedTuple):
    """One framed batch on its way from the framing stage to the parsing stage of `Pipeline.run`."""

    framer: Framer
    records: pl.DataFrame
    times: tuple[tuple[str, str | None, str], ...]  # a resumed read's stream times, taken before these records
    last: bool  # the input's last batch (what its end released)


class Screened(NamedTuple):
    """A screened batch: the records kept, normalized (None: none), and those dropped, raw (`dropped`) and
    as far as they were read (`rest`: the `_SPINE` columns, the request ID their text names, and whether they
    may tell a status), in line order."""

    kept: pl.DataFrame | None
    rest: pl.DataFrame
    dropped: pl.DataFrame


class Pipeline:
    """Reads inputs into normalized event batches, keeping cross-batch state."""

    def __init__(self, diag: Diagnostics, fmt: str | None = None, chunk_bytes: int = CHUNK_BYTES, *,
                 request_id_keys: Sequence[str] = (), services: Mapping[str, str] | None = None,
                 screen: Screen | None = None, period: tuple[datetime | None, datetime | None] | None = None) -> None:
        self.diag = diag
        self.screen = screen  # None: every record is normalized and yielded
        self.lookback = pl.DataFrame()  # records the screen dropped that name a request, recent enough to revive
        self.newest: object = None
        self.orphans = pl.DataFrame()  # kept records without a request ID a later request may be tied to
        self.formats = formats_for(fmt, request_id_keys)
        self.services = dict(services or {})  # observed service name -> reported name (config `[services]`)
        self.chunk_bytes = chunk_bytes
        self.framers: dict[str, Framer] = {}
        self.last_ts: dict[StreamKey, object] = {}  # per (service, stream), across inputs (rotated sets)
        self.seeded: dict[str, set[StreamKey]] = {}  # input path -> streams whose times a resumed read began with
        self.tally = Tally(period=period)
        self.beside: ThreadPoolExecutor | None = None  # created on the first screened batch (`_beside`)

    def framer(self, inp: Input) -> Framer:
        framer = self.framers.get(inp.path)
        if framer is None:
            framer = self.framers[inp.path] = Framer(inp, self.formats, self.diag)
        return framer

    def feed(self, chunk: Chunk) -> pl.DataFrame:
        """Events completed by one chunk."""
        framer = self.framer(chunk.input)
        return self._finish(framer, self._parse(framer.feed(chunk)), chunk.times)

    def flush(self, inp: Input, keep_unfinished: bool = False, streams: set[int] | None = None) -> pl.DataFrame:
        """Events held for `inp` (its streams' last records, or only those of `streams`); with
        `keep_unfinished` (tail, after a quiet spell), a traceback without its exception line yet stays held
        (`Framer.flush`)."""
        framer = self.framer(inp)
        return self._finish(framer, self._parse(framer.flush(keep_unfinished, streams)))

    def fed_streams(self, inp: Input) -> set[int]:
        """The streams of `inp` its last chunk brought lines to (tail times each stream's quiet spell)."""
        framer = self.framers.get(inp.path)
        return framer.fed_streams if framer is not None else set()

    def held_streams(self, inp: Input) -> set[int]:
        """The streams of `inp` holding a record (`Framer.held_streams`)."""
        framer = self.framers.get(inp.path)
        return framer.held_streams() if framer is not None else set()

    def run(self, inputs: Iterable[Input], first_chunk_bytes: int | None = None) -> Iterator[pl.DataFrame]:
        """Event batches for every input, read in bounded chunks, the stages overlapped.

        Three stages work at once, each on its own batch and each seeing its batches in order
        (analyzer.ingest.overlap): a thread reads and frames chunks (`_framed`), another screens, parses and
        finishes their records (`_finished`: parsing needs no state, and time inference, the tally and the
        screen's memory carry theirs from batch to batch in order), and the caller consumes the events (the
        analysis). `first_chunk_bytes` (`events`, which prints as it reads): the run's first batches come from
        pieces of that size, growing fourfold up to the chunk size, so the first events appear at once; and it
        reads no further ahead than its output has gone (no stage is overlapped), so that a reader that leaves
        early (`| head`) stops it at once instead of after chunks read ahead.
        """
        framed = self._framed(inputs, first_chunk_bytes)
        if first_chunk_bytes:
            return self._finished(framed)
        return overlapped(self._finished(overlapped(framed, "logscan-frame")), "logscan-parse")

    def _framed(self, inputs: Iterable[Input], first_chunk_bytes: int | None) -> Iterator[_Framed]:
        """Each input's chunks framed into records, then what its end releases (`last`: the input is done)."""
        ramp = [first_chunk_bytes] if first_chunk_bytes else []
        for inp in inputs:
            framer = Framer(inp, self.formats, self.diag)
            chunks = self.read(inp)
            for chunk in _ramped(chunks, ramp, self.chunk_bytes) if ramp else chunks:
                yield _Framed(framer, framer.feed(chunk), chunk.times, False)
            yield _Framed(framer, framer.flush(), (), True)

    def _finished(self, framed: Iterable[_Framed]) -> Iterator[pl.DataFrame]:
        """The events of each framed batch, in order; a finished input leaves the times its resumed read needs."""
        for batch in framed:
            yield from self._nonempty(self._finish(batch.framer, self._parse(batch.records), batch.times))
            inp = batch.framer.input
            if batch.last and inp.resume is not None:  # where the next run resumes, it infers times from these
                inp.resume.keep_times(inp.path, self.stream_times(batch.framer))

    def read(self, inp: Input) -> Iterator[Chunk]:
        """The chunks `run` reads of `inp` (analyzer.scale reads a byte range of a file through this)."""
        return read_chunks(inp, self.diag, self.chunk_bytes)

    @staticmethod
    def _nonempty(events: pl.DataFrame) -> Iterator[pl.DataFrame]:
        if events.height:
            yield events

    def _beside(self) -> ThreadPoolExecutor:
        """The thread that parses a screened batch's dropped records while its kept ones are parsed."""
        if self.beside is None:
            self.beside = ThreadPoolExecutor(max_workers=1, thread_name_prefix="logscan-light")
        return self.beside

    def _parse(self, records: pl.DataFrame) -> pl.DataFrame | Screened | None:
        """Event columns of a batch of records (None for none); with a screen, the records it kept and those it
        did not (`Screened`). Runs on the parser thread, one batch at a time in batch order (the screen
        remembers the request IDs of earlier batches)."""
        if not records.height:
            return None
        if self.screen is None:
            return parse_records(records, self.formats, self.diag)
        keep = self.screen.keep(records, self.formats)
        if keep.all():
            return Screened(parse_records(records, self.formats, self.diag), pl.DataFrame(), records.clear())
        dropped = records.filter(~keep)
        # the light parse of the dropped records runs beside the full parse of the kept ones (Polars releases
        # the GIL), counting into Diagnostics of its own that are added after the kept records', as if it ran second
        light_diag = Diagnostics()
        light = self._beside().submit(parse_records, dropped, self.formats, light_diag, light=True)
        kept = parse_records(records.filter(keep), self.formats, self.diag) if keep.any() else None
        ids = self.screen.ids.filter(~keep)
        # may this record tell its request's status? (its format's own parser read one, or the request step
        # would read it); only the records that name a request are held (`lookback`), so only theirs is read
        named = ids.is_not_null()
        said = dropped.get_column("head").filter(named).str.contains(REQUEST_WORDS).fill_null(False)
        maybe_status = on_rows(named, said, False)
        rest = light.result()
        self.diag.merge(light_diag)
        if "http_status" in rest.columns:
            maybe_status = maybe_status | rest.get_column("http_status").is_not_null()
        rest = rest.select(*_SPINE, ids.alias("request_id"), maybe_status.alias("maybe_status"))
        return Screened(kept, rest, dropped)

    def stream_times(self, framer: Framer) -> list[list[object]]:
        """The last time of each stream of `framer`'s input (and of those its resumed read began with), as
        [service, stream or None, ISO time] for a checkpoint."""
        keys = [*dict.fromkeys([*framer.streams.keys, *self.seeded.pop(framer.input.path, ())])]
        return [[service, stream, self.last_ts[service, stream].isoformat()]  # type: ignore[attr-defined]
                for service, stream in keys if self.last_ts.get((service, stream)) is not None]

    def _seed(self, framer: Framer, times: tuple[tuple[str, str | None, str], ...]) -> None:
        """A resumed read goes on from where an earlier run stopped: each stream's last time then."""
        for service, stream, ts in times:
            self.last_ts[service, stream] = datetime.fromisoformat(ts)
            self.seeded.setdefault(framer.input.path, set()).add((service, stream))

    def _resolve(self, framer: Framer, events: pl.DataFrame) -> pl.DataFrame:
        """`events` with their times inferred and their source, service and stream named."""
        events = self._infer_times(events, framer.streams)
        sid = pl.col("sid")
        service = framer.streams.column(0, sid)
        if self.services:
            service = service.replace(self.services)
        return events.with_columns(pl.lit(framer.input.path).alias("source"), service.alias("service"),
                                   framer.streams.column(1, sid).alias("stream"))

    def _finish(self, framer: Framer, parsed: pl.DataFrame | Screened | None,
                times: tuple[tuple[str, str | None, str], ...] = ()) -> pl.DataFrame:
        """Times inferred (after `times`, a resumed read's stream times, are taken), stream columns named, schema
        applied, tally updated: in batch order."""
        if times:
            self._seed(framer, times)
        if parsed is None:
            return empty_events()
        if isinstance(parsed, pl.DataFrame):
            events = self._resolve(framer, parsed)
            self.tally.add(events)
            return conform(events)
        # screened: time inference and the tally run on every record, in line order, on the few columns they
        # read; the later stages see the kept ones, and the records of the requests they name or that a kept
        # record without an ID may be tied to (analyzer.ingest.screen), from this batch or, held in the
        # lookback, from earlier ones (those first, in the order they were read)
        kept, rest, dropped = parsed
        parts = [part.select(*_SPINE, pl.lit(own).alias("_kept")) for part, own in ((kept, True), (rest, False))
                 if part is not None and part.height]
        events = self._resolve(framer, parts[0] if len(parts) == 1 else pl.concat(parts).sort("line_no"))
        self.tally.add(events)
        kept_rows = pl.col("_kept")
        resolved = events.filter(kept_rows).select(_RESOLVED).get_columns()
        kept = kept.with_columns(resolved) if kept is not None else empty_events()
        if rest.height:
            rest = rest.with_columns(events.filter(~kept_rows).select(_RESOLVED).get_columns())
        pool = self.lookback
        if rest.height:
            named = rest.get_column("request_id").is_not_null()
            fresh = dropped.filter(named).with_columns(rest.filter(named).select(
                *_RESOLVED, "request_id", "maybe_status", pl.lit(1, dtype=pl.Int8).alias("_new")).get_columns())
            pool = pl.concat([pool, fresh], how="vertical_relaxed") if pool.height else fresh
        revived = None
        # kept records without an ID, recent enough that a request read later may still be tied to them
        orphans = self.orphans
        if kept.height:
            mine = kept.filter(pl.col("request_id").is_null() & pl.col("ts").is_not_null()).select(_ORPHAN_COLUMNS)
            orphans = pl.concat([orphans, mine], how="vertical_relaxed") if orphans.height else mine
        if pool.height and (kept.height or orphans.height):
            ids = pl.concat([requests_to_link(orphans, pool), kept.get_column("request_id").drop_nulls()]).unique()
            take = pool.get_column("request_id").is_in(ids.implode()).fill_null(False)
            if take.any():
                assert self.screen is not None
                self.screen.remember(ids.to_list())
                back = pool.filter(take)
                # counted already (the light parse counts what a record's own format finds wrong with it)
                revived = parse_records(back.drop(*_RESOLVED, "request_id", "maybe_status", "_new"), self.formats, Diagnostics())
                revived = revived.drop(*_RESOLVED, strict=False).hstack(back.select(*_RESOLVED, "_new").get_columns())
                pool = pool.filter(~take)
        self.lookback = self._pruned(pool.with_columns(pl.lit(0, dtype=pl.Int8).alias("_new")), events)
        if orphans.height and self.newest is not None:  # a request ends at most max_request after such a record
            orphans = orphans.filter(pl.col("ts") >= self.newest - _WINDOW.max_request - _WINDOW.error_before)  # type: ignore[operator]
        self.orphans = orphans
        if revived is None:
            return conform(kept)
        old, new = revived.filter(pl.col("_new") == 0), revived.filter(pl.col("_new") == 1)
        if new.height:
            kept = pl.concat([kept, new], how="diagonal_relaxed").sort("line_no")
        return conform(pl.concat([old, kept], how="diagonal_relaxed") if old.height else kept)

    def _pruned(self, pool: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
        """The lookback without the requests too old for any later record to be tied to (bounded in rows too)."""
        newest = events.get_column("ts").max()
        if newest is not None and (self.newest is None or newest > self.newest):  # type: ignore[operator]
            self.newest = newest
        if pool.height and self.newest is not None:
            last = pl.col("ts").max().over("request_id")
            pool = pool.filter(last >= self.newest - LOOKBACK)  # type: ignore[operator]
        return pool.tail(MAX_LOOKBACK_ROWS) if pool.height > MAX_LOOKBACK_ROWS else pool

    def _infer_times(self, events: pl.DataFrame, streams: Streams) -> pl.DataFrame:
        """Records without a time of their own take the envelope's, else the stream's last one (flagged)."""
        ts_type = events.schema["ts"]
        sids = events.get_column("sid").unique().to_list()
        carried = {sid: self.last_ts[streams.keys[sid]] for sid in sids if streams.keys[sid] in self.last_ts}
        if len(sids) == 1:
            carried_ts = pl.lit(carried.get(sids[0]), dtype=ts_type)
        else:
            carried_ts = pl.col("sid").replace_strict(carried, default=None, return_dtype=ts_type)
        own = pl.col("_own")
        events = events.with_columns(pl.coalesce(pl.col("ts"), pl.col("env_ts")).alias("_own")).with_columns(
            pl.coalesce(per_stream(own.forward_fill(), len(sids)), carried_ts).alias("ts"),
        )
        events = events.with_columns((own.is_null() & pl.col("ts").is_not_null()).alias("ts_inferred"))
        last = events.filter(own.is_not_null()).group_by("sid").agg(own.last())
        self.last_ts.update({streams.keys[sid]: ts for sid, ts in last.iter_rows()})
        return events.drop("_own")


def _ramped(chunks: Iterable[Chunk], ramp: list[int], limit: int) -> Iterator[Chunk]:
    """`chunks` cut at line ends into pieces of `ramp[0]` bytes, growing fourfold (kept in `ramp` across inputs)
    until they reach `limit`; from then on the chunks pass as they are."""
    for chunk in chunks:
        data, start = chunk.data, 0
        while ramp and ramp[0] < limit and len(data) - start > ramp[0]:
            cut = data.rfind(b"\n", start, start + ramp[0]) + 1 or data.find(b"\n", start + ramp[0]) + 1
            if cut <= start or cut >= len(data):
                break
            yield Chunk(chunk.input, data[start:cut], chunk.offset + start, False,
                        first_line=chunk.first_line if start == 0 else 0, times=chunk.times if start == 0 else ())
            start = cut
            ramp[0] *= 4
        yield chunk if start == 0 else Chunk(chunk.input, data[start:], chunk.offset + start, chunk.final)
