"""Shards, their partial results, the merge, and the replay that turns merged partials into a local scan's state."""

from __future__ import annotations

import copy
import dataclasses
import functools
import io
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import orjson
import polars as pl
import regex

from analyzer.analysis.correlate import (
    ACCESS_KEYS,
    ACCESS_LINE,
    TRACE_SCHEMA,
    LinkWindow,
    TraceLimits,
    access_shaped,
    error_pairs,
    in_flight,
    orphans_of,
    requests,
    shift_seen,
)
from analyzer.analysis.engine import SETTLE, Analysis, BatchPart, Settings, Snapshot, _categorical, batch_part, expand
from analyzer.analysis.incidents import MAX_EXAMPLES
from analyzer.analysis.owned_strings import own_strings
from analyzer.analysis.routes import RouteDurations
from analyzer.analysis.signatures import SignatureSet, load_signatures
from analyzer.diagnostics import Diagnostics
from analyzer.events import SCHEMA, UTC_TS
from analyzer.ingest.formats.base import Format
from analyzer.ingest.framing import envelope as env
from analyzer.ingest.framing.detect import Detector
from analyzer.ingest.framing.multiline import mark_starts
from analyzer.ingest.formats import DATABASE_FORMATS
from analyzer.ingest.framing.streams import StreamKey, Streams
from analyzer.ingest.pipeline import Pipeline, formats_for
from analyzer.ingest.tally import Tally
from analyzer.ingest.sources import CHUNK_BYTES, GZIP_MAGIC, Chunk, Input, open_file
from analyzer.ingest.urls import size as file_size
from analyzer.miner import TemplateMiner
from analyzer.state.checkpoints import Checkpoint, Checkpoints


@dataclass(frozen=True)
class Job:
    """What every shard of one scan shares: how to read and what to look for (all plain, picklable values)."""

    settings: Settings
    signatures: tuple[str, ...] = ()  # extra signature folders (the built-in catalogue is always loaded)
    fmt: str | None = None
    request_id_keys: tuple[str, ...] = ()
    services: tuple[tuple[str, str], ...] = ()
    chunk_bytes: int = CHUNK_BYTES


@dataclass(frozen=True)
class Shard:
    """Consecutive inputs, read in order by one task; `carry` seeds time inference (see `resolve_carries`)."""

    index: int
    inputs: tuple[Input, ...]
    carry: tuple[tuple[StreamKey, object], ...] = ()
    span: tuple[int, int] | None = None  # bytes [start, end) of its one input, where a local batch begins (`last_start`)

    @property
    def name(self) -> str:
        first = self.inputs[0].path if self.inputs else "-"
        if self.span is not None:
            return f"{first}[{self.span[0]}:{self.span[1]}]"
        return first if len(self.inputs) <= 1 else f"{first} (+{len(self.inputs) - 1})"


@dataclass
class Segment:
    """One shard's share of a partial: its batches in reading order and its counters."""

    index: int
    parts: list[BatchPart]  # their evidence travels packed (`evidence`), and is put back by `finish`
    evidence: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]  # see `_pack`
    diag: Diagnostics
    tally: Tally
    routes: RouteDurations
    needs_carry: frozenset[StreamKey]  # streams that began without a time of their own (nothing carried in)
    carry_out: dict[StreamKey, object]  # each stream's last own time in this shard
    # the trace partials' trails (`_b` batch, request_id, trail), None once detached: they stay where the shard
    # ran, and only those of the requests a report shows are fetched (`finish`)
    trails: pl.DataFrame | None = None
    span_of: str | None = None  # the file a byte-range shard read part of (its line numbers start at 1)
    # with --state: the checkpoints this shard read to (pending) and continued (claimed), for the driver's state
    checkpoints: tuple[dict[str, Checkpoint], dict[str, str]] | None = None
    # the trace partials (`_b` and TRACE_SCHEMA without the trail, `_trail_lines`): they stay where the shard ran
    # (None once detached) until `finish` asks for those the trace table keeps (`_kept_traces`)
    traces: pl.DataFrame | None = None
    # hashes (`_id_hash`) of the request IDs whose rows may still be in the trace table after this shard
    alive: pl.Series | None = None
    seconds: float | None = None  # how long run_shard took (benchmarks/scale.py)
    in_period: int = 0  # records within --since/--until (all of them without): what scan's filter counts
    # the evidence's texts and captures (`token`, `value`), None once detached: the evidence travels with tokens
    # in their place (`_pack`), and only those of the examples a report shows are fetched (`finish`)
    strings: pl.DataFrame | None = None
    # the earliest and latest end of its trace rows: which evidence the driver's `TraceAsk` names for it
    ends: tuple[datetime | None, datetime | None] = (None, None)

    def __getstate__(self) -> dict[str, object]:
        """Frames travel as zstd-compressed Arrow IPC (a pickled frame is uncompressed: 5-15x larger here)."""
        state = dict(self.__dict__)
        traces = [p.traces.with_columns(pl.lit(n, dtype=pl.UInt32).alias("_b")) for n, p in enumerate(self.parts)]
        state["parts"] = ([(p.latest, p.trace_rows, p.trace_newest) for p in self.parts],
                          _ipc(pl.concat(traces, how="diagonal_relaxed")) if traces else None)
        state["evidence"] = tuple(_ipc(frame) for frame in self.evidence)
        for name in ("trails", "strings", "traces"):
            state[name] = None if state[name] is None else _ipc(state[name])  # type: ignore[arg-type]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        latest, traces = state["parts"]  # type: ignore[misc]
        frame = _frame(traces) if traces is not None else None
        by_batch = {} if frame is None else {
            k[0]: f.drop("_b") for k, f in frame.partition_by("_b", as_dict=True, maintain_order=True).items()}
        empty = frame.drop("_b").clear() if frame is not None else pl.DataFrame()
        state["parts"] = [BatchPart(by_batch.get(n, empty), t, pl.DataFrame(), None, rows, newest)
                          for n, (t, rows, newest) in enumerate(latest)]
        state["evidence"] = tuple(_frame(b) for b in state["evidence"])  # type: ignore[attr-defined]
        for name in ("trails", "strings", "traces"):
            state[name] = None if state[name] is None else _frame(state[name])  # type: ignore[arg-type]
        self.__dict__.update(state)


def _ipc(frame: pl.DataFrame) -> bytes:
    """A frame as zstd-compressed Arrow IPC (hex request IDs as bytes were tried: no smaller once compressed)."""
    out = io.BytesIO()
    frame.write_ipc(out, compression="zstd")
    return out.getvalue()


def _frame(data: bytes) -> pl.DataFrame:
    return pl.read_ipc(io.BytesIO(data))


def pick_packed(held: Held, wanted: pl.DataFrame | TraceAsk) -> bytes:
    """`pick_trails` as it travels from a worker (`_ipc`; `_frame` reads it)."""
    return _ipc(pick_trails(held, wanted))


unpack_frame = _frame


@dataclass
class Partial:
    """Merged partial state of some shards. `merge` is associative and commutative (segments by shard index)."""

    segments: list[Segment]
    miner: TemplateMiner

    def merge(self, other: Partial) -> Partial:
        taken = {s.index for s in self.segments} & {s.index for s in other.segments}
        if taken:
            raise ValueError(f"shard(s) {sorted(taken)} merged twice")
        return Partial(sorted([*self.segments, *other.segments], key=lambda s: s.index), self.miner.merge(other.miner))

    @property
    def bytes_read(self) -> int:
        return sum(s.diag.bytes_read for s in self.segments)

    @property
    def in_period(self) -> int:
        return sum(s.in_period for s in self.segments)


def merge_all(partials: Iterable[Partial]) -> Partial:
    out: Partial | None = None
    for p in partials:
        out = p if out is None else out.merge(p)
    return out if out is not None else Partial([], TemplateMiner())


def plan_shards(inputs: Sequence[Input], groups: int | None = None, *, shard_bytes: int | None = None,
                job: Job | None = None) -> list[Shard]:
    """Whole files as shards, in reading order (a rotated set stays in order: each file is its own shard and the
    replay keeps their order). `groups`: cut the input list into at most that many runs of consecutive files.
    `shard_bytes`: a plain file larger than that is read in byte ranges of about that size (whole chunks of
    `job.chunk_bytes`), cut where a local scan's batch begins (`last_start`): at a record start, so that no
    record (a traceback) is ever split, and batch for batch as a local scan reads it.

    Inputs of an incremental run (`scan --state`: `Input.resume`) keep their checkpoints and are read whole,
    from where the earlier run stopped (`run_shard`)."""
    inputs = list(inputs)
    if shard_bytes and not any(i.resume is not None for i in inputs):
        shards: list[Shard] = []
        for inp in inputs:
            for span in file_spans(inp, shard_bytes, job or Job(Settings())):
                shards.append(Shard(len(shards), (inp,), span=span))
        return shards
    if groups is None or groups >= len(inputs):
        return [Shard(n, (inp,)) for n, inp in enumerate(inputs)]
    size, extra = divmod(len(inputs), max(groups, 1))
    shards, at = [], 0  # type: ignore[no-redef]
    for n in range(max(groups, 1)):
        take = size + (n < extra)
        shards.append(Shard(n, tuple(inputs[at : at + take])))
        at += take
    return [s for s in shards if s.inputs]


_CUT_CONTEXT = 1 << 20  # bytes before a chunk's end searched for the last record start (judged in context)


def file_spans(inp: Input, shard_bytes: int, job: Job) -> list[tuple[int, int] | None]:
    """Byte ranges of one input, each beginning where a local scan's batch begins (`last_start`): [None] (the whole
    input) for stdin, a compressed file, a Docker or Compose envelope or CSV (whose framing carries state), or a
    file of at most `shard_bytes`."""
    if inp.is_stdin:
        return [None]
    chunk = job.chunk_bytes
    try:
        with open_file(inp.path) as f:
            size = file_size(f)
            if size <= shard_bytes or f.read(2) == GZIP_MAGIC:
                return [None]
            f.seek(0)
            head = f.read(1 << 16).decode("utf-8", "replace").splitlines()[:400]
            if env.detect(head) != "raw":
                return [None]
            formats = formats_for(job.fmt, job.request_id_keys)
            if any(fmt.quoted and any(regex.search(fmt.header, line) for line in head[:50]) for fmt in formats):
                return [None]
            cuts = [0]
            step = max(1, shard_bytes // chunk)
            grid = chunk_ends(chunk, first_block(inp.path), size)
            for at in grid[step - 1 :: step]:
                cut = last_start(f, at, formats)
                if cut is not None and cuts[-1] < cut < size:
                    cuts.append(cut)
    except OSError:
        return [None]  # reading it will say why
    if len(cuts) == 1:
        return [None]
    return [(a, b) for a, b in zip(cuts, [*cuts[1:], size], strict=True)]


def first_block(path: str) -> int:
    """How many bytes a local read of `path` gets first (analyzer.ingest.sources.read_chunks): its gzip check reads
    through the file's buffer, which then holds a page (st_blksize, else io.DEFAULT_BUFFER_SIZE), and the first
    read1 returns that page; whole chunks follow. Measured the way that read does it."""
    with open_file(path) as f:
        f.read(2)
        f.seek(0)
        if not hasattr(f, "read1"):  # a URL's buffered file (fsspec): every read returns what it asks for
            return 0
        return len(f.peek(1))  # type: ignore[attr-defined]


def chunk_ends(chunk: int, first: int, size: int) -> list[int]:
    """The offsets before whose last newline a local read of a plain file of `size` bytes ends its chunks: the
    ends of its blocks at which it holds `chunk` bytes or more. Blocks are pieces of `chunk` bytes of the first
    buffered page of `first` bytes, its remainder, then whole chunks (the remainder alone never reaches `chunk`:
    a line would have to be longer than the chunk)."""
    ends = [chunk * j for j in range(1, first // chunk + 1)] if first >= chunk else []
    at = first + chunk
    while at < size:
        ends.append(at)
        at += chunk
    return [e for e in ends if e < size]


def next_end(pos: int, chunk: int, first: int) -> int:
    """The first of `chunk_ends` after `pos` (unbounded)."""
    if first >= chunk and pos < (first // chunk) * chunk:
        return (pos // chunk + 1) * chunk
    if pos < first + chunk:
        return first + chunk
    return first + ((pos - first) // chunk + 1) * chunk


def last_start(f: BinaryIO, grid: int, formats: tuple[Format, ...]) -> int | None:
    """Where the batch after the chunk that ends before `grid` begins: the last record start before that chunk's
    end (its last newline before `grid`), judged with the lines before it (not inside a traceback, a multi-line
    statement or a record's DETAIL lines). A local scan holds that record for its next chunk (it may go on), so
    a range from there is read as the local scan reads it. None when no record starts within _CUT_CONTEXT."""
    begin = max(0, grid - _CUT_CONTEXT)
    f.seek(begin)
    data = f.read(grid - begin)
    end = data.rfind(b"\n") + 1  # the chunk's end (relative)
    if end <= 0:
        return None
    data = data[:end]
    if begin:  # from the first whole line
        first = data.find(b"\n")
        data, begin = data[first + 1 :], begin + first + 1
    raw = data.split(b"\n")[:-1]
    if not raw:
        return None
    offsets = [begin]
    for line in raw[:-1]:
        offsets.append(offsets[-1] + len(line) + 1)
    lines = pl.DataFrame({"line": [line.decode("utf-8", "replace").rstrip("\r") for line in raw]}).with_columns(
        pl.lit(0, dtype=pl.UInt32).alias("sid"))
    marked = mark_starts(lines, Detector(formats), set())
    # as split_open holds it: a header line inside a traceback that nothing follows yet (`alone` null) is no start
    starts = marked.select(pl.col("start") & pl.col("alone").is_not_null()).to_series().to_list()
    found = [at for at, start in zip(offsets, starts, strict=True) if start]
    # the first line of the window is judged without its context: never trust it
    found = [at for at in found if at > offsets[0] or begin == 0]
    return found[-1] if found and found[-1] > 0 else None


@functools.lru_cache(maxsize=4)
def _signatures(folders: tuple[str, ...]) -> SignatureSet:
    return load_signatures([Path(f) for f in folders])


class _Written(dict):  # type: ignore[type-arg]
    """A dict that remembers the keys `update` wrote (Pipeline.last_ts: a stream's own times, never a carry)."""

    def __init__(self, seed: Mapping[StreamKey, object]) -> None:
        super().__init__(seed)
        self.written: dict[StreamKey, object] = {}

    def update(self, other: Mapping[StreamKey, object]) -> None:  # type: ignore[override]
        super().update(other)
        self.written.update(other)

    def __setitem__(self, key: StreamKey, value: object) -> None:
        super().__setitem__(key, value)
        self.written[key] = value


class _ShardPipeline(Pipeline):
    """The local Pipeline, noting the streams whose first records found no time to carry."""

    def __init__(self, *args: object, carry: Mapping[StreamKey, object], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.last_ts = _Written(carry)
        self.needs_carry: set[StreamKey] = set()

    span: tuple[int, int] | None = None

    def read(self, inp: Input) -> Iterator[Chunk]:
        if self.span is None:
            return super().read(inp)
        return self._read_span(inp, *self.span)

    def _read_span(self, inp: Input, start: int, end: int) -> Iterator[Chunk]:
        """Chunks of bytes [start, end) of a plain file, ending where a local scan's chunks end (the last newline
        before each of `chunk_ends`), the last one final: its records are the ones a local scan emits
        for those chunks, batch for batch. Line numbers count from the range's start (`finish` adds the lines
        of the ranges before it)."""
        stats = self.diag.source(inp.path)
        try:
            f = open_file(inp.path)
        except OSError as exc:
            (self.diag.error if inp.named else self.diag.warn)(f"{inp.path}: cannot read ({exc.strerror or exc}); skipped")
            return
        size = self.chunk_bytes
        first = first_block(inp.path)
        try:
            f.seek(start)
            pos, base, carry = start, start, b""
            while pos < end:
                grid = min(next_end(pos, size, first), end)
                data = carry + f.read(grid - pos)
                stats.bytes += grid - pos
                pos = grid
                if pos >= end:
                    yield Chunk(inp, data, base, True)
                    return
                cut = data.rfind(b"\n")
                if cut < 0:
                    carry = data
                    continue
                yield Chunk(inp, data[: cut + 1], base, False)
                base += cut + 1
                carry = data[cut + 1 :]
        except OSError as exc:
            self.diag.error(f"{inp.path}: read failed ({exc.strerror or exc}); kept what was read before")
        finally:
            f.close()

    def _infer_times(self, events: pl.DataFrame, streams: Streams) -> pl.DataFrame:
        known = set(self.last_ts)
        out = super()._infer_times(events, streams)
        for sid in out.filter(pl.col("ts").is_null()).get_column("sid").unique().to_list():
            if streams.keys[sid] not in known:
                self.needs_carry.add(streams.keys[sid])
        return out


#: What a report reads only from an incident's first MAX_EXAMPLES rows (what `compact` drops from the rest).
_EXAMPLE_ONLY = ("text", "message", "captures")
#: Strings that travel as tokens (`_pack`): shown only in an incident's examples and captures.
_BY_REFERENCE = {"text": "t", "captures": "c"}
#: What the driver reads of `message`: whether it is a server's access line (analyzer.analysis.incidents.request_keys).
_ACCESS_MARK = 'HTTP/1.1" 200'
_STRINGS_SCHEMA = {"token": pl.String, "value": pl.String}


def _pack(parts: list[BatchPart]) -> tuple[tuple[pl.DataFrame, pl.DataFrame], pl.DataFrame]:
    """A shard's evidence as ((whole rows, slim rows), strings), each row with its batch (`_b`) and position (`_i`).

    Past the first MAX_EXAMPLES rows of an incident (signature, service, key) in the shard, a signature match
    travels without the columns only examples show: what `compact` drops from such rows locally, whatever the
    stride it compacts in, so the report is the same. Window rows and unknown errors keep them (which of them
    become examples is only known at the end), but by reference: `text` and `captures` become numbers (equal
    strings, equal numbers; null stays null) whose strings stay in the shard (`strings`: `token`, `value`), and
    `message` is reduced to what the driver reads of it (an access line or not). The batches' own frames are
    emptied: `_unpack` rebuilds them."""
    frames = [part.evidence.with_columns(pl.lit(n, dtype=pl.UInt32).alias("_b")) for n, part in enumerate(parts)
              if part.evidence.height]
    for part in parts:
        part.evidence = pl.DataFrame()
    if not frames:
        return (pl.DataFrame(), pl.DataFrame(), pl.DataFrame()), pl.DataFrame(schema=_STRINGS_SCHEMA)
    rows = pl.concat(frames, how="diagonal_relaxed").with_row_index("_i")
    later = (pl.int_range(pl.len()).over(["kind", "signature", "service", "key"]) >= MAX_EXAMPLES) & (
        pl.col("kind") == "point")
    rows = rows.with_columns(later.alias("_later"))
    whole = rows.filter(~pl.col("_later")).drop("_later")
    slim = rows.filter(pl.col("_later")).drop("_later", *(c for c in _EXAMPLE_ONLY if c in rows.columns))
    strings: list[pl.DataFrame] = []
    for name, prefix in _BY_REFERENCE.items():
        if name not in whole.columns:
            continue
        values = whole.get_column(name).drop_nulls().unique(maintain_order=True)
        table = pl.DataFrame({"value": values}).with_row_index("_tok")
        whole = whole.with_columns(
            whole.select(name).join(table, left_on=name, right_on="value", how="left", maintain_order="left")
            .get_column("_tok").alias(name))
        strings.append(table.select(pl.concat_str(pl.lit(prefix), pl.col("_tok").cast(pl.String)).alias("token"), "value"))
    if "message" in whole.columns:  # null, not an access line (0), an access line (1)
        whole = whole.with_columns(pl.col("message").str.contains(ACCESS_LINE).cast(pl.UInt8))
    held = pl.concat(strings) if strings else pl.DataFrame(schema=_STRINGS_SCHEMA)
    # the rows' order is the two frames' interleaving: one bit a row instead of a position; times and line numbers
    # as differences from the row before (sorted, they compress to a byte or two)
    order = rows.select(pl.col("_later").not_().alias("_whole"))
    whole, slim = (_deltas(frame.drop("_i")) for frame in (whole, slim))
    return (_categorical(whole), _categorical(slim), order), held


_DELTA_COLUMNS = ("ts", "line_no")


def _deltas(frame: pl.DataFrame) -> pl.DataFrame:
    """`_DELTA_COLUMNS` as Int64 differences from the last non-null value before (nulls stay null): `_undeltas`."""
    out = []
    for name in _DELTA_COLUMNS:
        if name in frame.columns:
            raw = pl.col(name).to_physical().cast(pl.Int64)
            filled = raw.forward_fill().fill_null(0)
            out.append(pl.when(raw.is_null()).then(None).otherwise(filled - filled.shift(1).fill_null(0)).alias(name))
    return frame.with_columns(out)


def _undeltas(frame: pl.DataFrame, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    return frame.with_columns(pl.col(name).cum_sum().cast(schema[name]) for name in _DELTA_COLUMNS if name in frame.columns)


def _unpack(segment: Segment, shift: int = 0) -> list[BatchPart]:
    """The segment's batches with their evidence back (String columns; example-only columns null past the examples;
    line numbers moved `shift` lines on; texts and captures as tokens `_token_of`, resolved by `finish`)."""
    whole, slim, order = segment.evidence
    if whole.height == 0 and slim.height == 0:
        return segment.parts
    schema = {"ts": UTC_TS, "line_no": pl.Int64}
    at = order.get_column("_whole")
    whole = _undeltas(whole, schema).with_columns(at.arg_true().cast(pl.UInt32).alias("_i"))
    slim = _undeltas(slim, schema).with_columns(at.not_().arg_true().cast(pl.UInt32).alias("_i"))
    refs = [pl.when(pl.col(name).is_not_null()).then(
        pl.concat_str(pl.lit(_TOKEN + f"{segment.index}:{prefix}"), pl.col(name).cast(pl.String))).alias(name)
        for name, prefix in _BY_REFERENCE.items() if name in whole.columns]
    if "message" in whole.columns:
        refs.append(pl.col("message").replace_strict({0: "", 1: _ACCESS_MARK}, default=None, return_dtype=pl.String))
    whole = whole.with_columns(refs)
    rows = expand(pl.concat([whole, expand(slim)], how="diagonal_relaxed") if slim.height else whole).sort("_i")
    if shift:
        rows = rows.with_columns(pl.col("line_no") + shift)
    by_batch = {b[0]: frame.drop("_b", "_i") for b, frame in rows.partition_by("_b", as_dict=True, maintain_order=True).items()}
    return [dataclasses.replace(part, evidence=by_batch.get(n, pl.DataFrame())) for n, part in enumerate(segment.parts)]


#: How a token the driver replays in place of a string begins (then `segment:prefix number`).
_TOKEN = "\x1flogscan-ref:"


def _id_hash(request_id: pl.Expr) -> pl.Expr:
    """A 32-bit hash of a request ID, the same in every process (one Polars version): a collision only keeps a row."""
    return (request_id.hash(7) & 0xFFFFFFFF).cast(pl.UInt32)


def _hold_traces(parts: list[BatchPart]) -> tuple[pl.DataFrame, pl.Series]:
    """The shard's trace partials as one frame (`_b`: batch), taken out of its batches (which keep their row
    count and latest end), and the hashes of the IDs whose rows may outlive the shard in the trace table: notable,
    without a time, or ending within the table's horizon of the shard's latest end (a later cutoff is later)."""
    frames = [part.traces.with_columns(pl.lit(n, dtype=pl.UInt32).alias("_b")) for n, part in enumerate(parts)]
    for part in parts:
        part.traces = part.traces.clear()
    if not frames:
        return pl.DataFrame(), pl.Series("alive", [], dtype=pl.UInt32)
    traces = pl.concat(frames)
    newest = traces.get_column("end").max()
    live = pl.col("notable") | pl.col("end").is_null()
    if newest is not None:
        live |= pl.col("end") >= newest - TraceLimits().horizon  # type: ignore[operator]
    alive = traces.filter(live).select(_id_hash(pl.col("request_id")).alias("alive")).to_series().unique().sort()
    return traces, alive


@dataclass(frozen=True)
class TraceAsk:
    """What the driver asks a shard for its trace rows with: each batch's prune cutoff (the trace table's clock
    minus its horizon once that batch is in, None for a batch without rows), and the hashes of the IDs whose rows
    may be in the table from earlier shards."""

    cutoffs: tuple[datetime | None, ...]
    earlier: pl.Series
    # the evidence linking may tie to a request running then, within reach of the shard's rows (`_link_demand`;
    # zstd IPC): access-shaped rows (ACCESS_KEYS, ts), database records (ts, began, precision), errors (service, ts)
    access: bytes = b""
    database: bytes = b""
    errors: bytes = b""


def _kept_traces(traces: pl.DataFrame, ask: TraceAsk) -> pl.DataFrame:
    """The shard's trace rows but those the trace table prunes as soon as their batch is in, unread: not notable,
    ending before their batch's cutoff, of a request with no row of an earlier batch (of this shard, or of an
    earlier one: by hash) that could merge with it, and no candidate for the evidence linking may tie then
    (`_link_candidates`: the batch's own records settle before the prune, Analysis.absorb). Leaving such a row
    out changes nothing (`Traces.add_partial` is told the batch's row count and latest end)."""
    if traces.height == 0:
        return traces
    cut = pl.DataFrame({"_b": range(len(ask.cutoffs)), "_cut": list(ask.cutoffs)},
                       schema={"_b": pl.UInt32, "_cut": traces.schema["end"]})
    first = pl.col("_b") == pl.col("_b").min().over("request_id")
    pruned = (
        ~pl.col("notable") & pl.col("end").is_not_null() & pl.col("_cut").is_not_null() & (pl.col("end") < pl.col("_cut"))
        & first & ~_id_hash(pl.col("request_id")).is_in(ask.earlier.implode())
    )
    marked = traces.join(cut, on="_b", how="left", maintain_order="left").with_columns(pruned.alias("_pruned"))
    linkable = _link_candidates(marked.filter("_pruned"), ask)
    kept = marked.filter(~pl.col("_pruned") | pl.col("request_id").is_in(linkable.implode())).drop("_cut", "_pruned")
    return _without_unread_ids(kept, traces, ask)


#: How a trace row whose request ID travelled as null is named in the driver's trace table (then `segment:n`).
_UNREAD_ID = "\x1flogscan-unread:"


def _without_unread_ids(kept: pl.DataFrame, traces: pl.DataFrame, ask: TraceAsk) -> pl.DataFrame:
    """`kept` with a null request ID (most of a row's bytes: a random ID does not compress) on the rows whose ID
    nothing in the driver's replay reads, only the row itself (its times, services and status: the trace table's
    clock, cap and pruning, and which services log IDs, see them as a local scan does). Such a row:

    - is not notable (so it has not failed) and has an end;
    - is its ID's only row in the shard, and its ID's hash is not among those earlier shards may have left in the
      table (it merges with no other row), and ends more than the table's horizon before the shard's latest end
      (it is pruned before any later shard's rows arrive, and before the report reads the table);
    - is no candidate for any evidence that linking may tie to a request (`ask.access`, `ask.database`): no
      access-shaped record of its keys within `LinkWindow.access` of its end, no database record it was running
      for the whole of (`in_flight`), no error of its service moments from its end if it never logged a status
      (`error_pairs`): the very conditions linking applies.

    The driver names each such row uniquely (`_UNREAD_ID`): as no link, merge or lookup reads the name, the
    replay ends in the state a local scan ends in."""
    if kept.height == 0:
        return kept
    newest = traces.get_column("end").max()
    if newest is None:
        return kept
    once = traces.group_by("request_id").len().filter(pl.col("len") == 1).select("request_id")
    eligible = kept.join(once, on="request_id", how="semi").filter(
        ~pl.col("notable") & pl.col("end").is_not_null()
        & (pl.col("end") < newest - TraceLimits().horizon)  # type: ignore[operator]
        & ~_id_hash(pl.col("request_id")).is_in(ask.earlier.implode())
    )
    if eligible.height == 0:
        return kept
    unread = eligible.get_column("request_id")
    unread = unread.filter(~unread.is_in(_link_candidates(eligible, ask).implode()))
    named = pl.when(pl.col("request_id").is_in(unread.implode())).then(None).otherwise(pl.col("request_id"))
    return own_strings(kept.with_columns(named.alias("request_id")))  # else the IDs' buffers would travel still


def _link_candidates(rows: pl.DataFrame, ask: TraceAsk) -> pl.Series:
    """The request IDs of trace `rows` that linking may tie some of the evidence `ask` carries to: an
    access-shaped record of their keys within `LinkWindow.access` of their end, a database record they were
    running for the whole of (`in_flight`), an error of their service moments from their end if they never
    logged a status (`error_pairs`): the very conditions linking applies."""
    none = pl.Series("request_id", [], dtype=pl.String)
    if rows.height == 0:
        return none
    window = LinkWindow()
    reqs = requests(rows)
    candidates: list[pl.Series] = []
    access = _frame(ask.access) if ask.access else None
    if access is not None and access.height:
        keys = [pl.col(k).cast(pl.String) for k in ACCESS_KEYS]
        ends = rows.select(pl.col("services").list.first().alias("service"), "http_method", "http_path",
                           "http_status", "end", "request_id").with_columns(keys)
        near = ends.join(access.with_columns(keys), on=list(ACCESS_KEYS), how="inner").filter(
            (pl.col("end") - pl.col("ts")).abs() <= window.access)
        candidates.append(near.get_column("request_id"))
    database = _frame(ask.database) if ask.database else None
    if database is not None and database.height:
        joined, within = in_flight(window)
        candidates.append(database.join_where(reqs, *joined).filter(*within).get_column("request_id"))
    errors = _frame(ask.errors) if ask.errors else None
    if errors is not None and errors.height:
        candidates.append(error_pairs(errors, reqs, window).get_column("request_id"))
    return pl.concat(candidates).unique() if candidates else none


def run_shard(job: Job, shard: Shard) -> Partial:
    """The partial result of one shard: a pure function of its arguments (a re-run gives the same partial).

    With checkpoints (`scan --state`), the shard reads from where they say, in a copy of its own, and returns
    what it read to (`Segment.checkpoints`, merged by the driver: `merge_checkpoints`)."""
    started = time.perf_counter()
    sigs = _signatures(job.signatures)
    resume = next((i.resume for i in shard.inputs if i.resume is not None), None)
    if resume is not None:
        resume = copy.deepcopy(resume)
        shard = dataclasses.replace(shard, inputs=tuple(
            dataclasses.replace(i, resume=resume if i.resume is not None else None) for i in shard.inputs))
    diag = Diagnostics()
    pipeline = _ShardPipeline(diag, fmt=job.fmt, chunk_bytes=job.chunk_bytes, request_id_keys=job.request_id_keys,
                              services=dict(job.services), carry=dict(shard.carry))
    pipeline.span = shard.span
    miner = TemplateMiner()
    routes = RouteDurations()
    parts: list[BatchPart] = []
    trails: list[pl.DataFrame] = []
    in_period = 0
    for events in pipeline.run(shard.inputs):
        part = batch_part(events, sigs, job.settings, miner)
        if part is None:
            continue
        routes.add(part.events)  # type: ignore[arg-type]
        in_period += part.events.height  # type: ignore[union-attr]
        part.events = None  # the events stay here: only what later stages need travels
        trail = part.traces.get_column("trail")
        trails.append(part.traces.select(pl.lit(len(parts), dtype=pl.UInt32).alias("_b"), "request_id", "trail"))
        part.traces = part.traces.drop("trail").with_columns(
            (trail.str.count_matches("\n", literal=True) + 1).cast(pl.UInt8).alias(_TRAIL_LINES))
        part.trace_rows, part.trace_newest = part.traces.height, part.traces.get_column("end").max()  # type: ignore[assignment]
        parts.append(part)
    traces, alive = _hold_traces(parts)
    written = pipeline.last_ts.written  # type: ignore[attr-defined]
    evidence, strings = _pack(parts)
    segment = Segment(shard.index, parts, evidence, diag, pipeline.tally, routes, frozenset(pipeline.needs_carry),
                      dict(written), pl.concat(trails) if trails else pl.DataFrame(schema=_TRAIL_SCHEMA),
                      shard.inputs[0].path if shard.span is not None else None,
                      (dict(resume.pending), dict(resume.claimed)) if resume is not None else None, traces, alive,
                      time.perf_counter() - started, in_period, strings,
                      (traces.get_column("end").min(), traces.get_column("end").max()) if traces.height else (None, None))
    return Partial([segment], miner)


@dataclass
class Held:
    """What stays where a shard ran: its trails and its evidence's strings (fetched by `pick_trails`)."""

    trails: pl.DataFrame
    strings: pl.DataFrame
    traces: pl.DataFrame


def detach_trails(partial: Partial) -> tuple[Partial, Held]:
    """(the partial without its trails and strings, them): what a cluster task returns, so that they stay there."""
    (segment,) = partial.segments
    return Partial([dataclasses.replace(segment, trails=None, strings=None, traces=None)], partial.miner), _held(segment)


def _held(segment: Segment) -> Held:
    return Held(segment.trails if segment.trails is not None else pl.DataFrame(schema=_TRAIL_SCHEMA),
                segment.strings if segment.strings is not None else pl.DataFrame(schema=_STRINGS_SCHEMA),
                segment.traces if segment.traces is not None else pl.DataFrame())


def pick_trails(held: Held, wanted: pl.DataFrame | TraceAsk) -> pl.DataFrame:
    """Of a shard's held rows: the trace rows the table keeps (`TraceAsk`: `_kept_traces`), the trails of `wanted`
    (`_b`, request_id), or the strings of `wanted` (`token`)."""
    if isinstance(wanted, TraceAsk):
        return _kept_traces(held.traces, wanted)
    if "token" in wanted.columns:
        return held.strings.join(wanted, on="token", how="semi")
    return held.trails.join(wanted, on=["_b", "request_id"], how="semi")


#: Fetches held rows: (segment index, wanted (`_b`, request_id) or (`token`)) -> their rows (`pick_trails`).
TrailFetch = Callable[[int, "pl.DataFrame | TraceAsk"], pl.DataFrame]


def resolve_carries(shards: Sequence[Shard], partials: Sequence[Partial],
                    rerun: Callable[[list[Shard]], list[Partial]]) -> list[Partial]:
    """Partials as if each shard had been read after the ones before it (a local scan carries each stream's last
    time into the next input: a rotated file's first untimed lines take the previous file's last time).

    Shards whose streams began without a time and for which an earlier shard has one are run again (`rerun`,
    all at once) with that time as their carry. The carried times come from the shards' own times only, which a
    carry does not change, so one round settles them all.
    """
    by_index = {p.segments[0].index: p for p in partials}
    carry: dict[StreamKey, object] = {}
    again: list[Shard] = []
    for shard in sorted(shards, key=lambda s: s.index):
        segment = by_index[shard.index].segments[0]
        wanted = {key: carry[key] for key in segment.needs_carry if key in carry}
        if wanted:
            again.append(dataclasses.replace(shard, carry=tuple(sorted(wanted.items(), key=repr))))
        carry.update(segment.carry_out)
    if again:
        for p in rerun(again):
            by_index[p.segments[0].index] = p
    return [by_index[s.index] for s in sorted(shards, key=lambda s: s.index)]


def finish(partial: Partial, sigs: SignatureSet, settings: Settings, diag: Diagnostics,
           fetch: TrailFetch | None = None) -> tuple[Analysis, Tally]:
    """The Analysis (and Tally) a local scan of the same inputs ends with: the merged batches replayed in reading
    order through `Analysis.absorb`; the shards' counters are added to `diag` (which holds the driver's own:
    what resolving the paths found).

    Trace partials travel without their trails: each line of a trail is replayed as a token naming its batch
    and line, so the trace table merges, cuts (TRACE_EVENTS) and prunes them as it would the lines; then the
    tokens of the requests the incidents name (the first 50 of each, those a report may show) are replaced by
    the lines, fetched from where the shards ran (`fetch`; default: the trails the segments still hold).
    """
    analysis = Replayed(sigs, settings)
    analysis.miner = partial.miner
    tally = Tally()
    batches: list[tuple[int, int]] = []  # global batch number -> (segment index, its batch number)
    shift: dict[int, int] = {}  # segment index -> lines of the same file before its byte range
    seen: dict[str, int] = {}
    for segment in partial.segments:
        if segment.span_of is not None:
            shift[segment.index] = seen.get(segment.span_of, 0)
            seen[segment.span_of] = shift[segment.index] + segment.diag.source(segment.span_of).lines
    if fetch is None:
        held = {s.index: _held(s) for s in partial.segments}
        fetch = lambda index, wanted: pick_trails(held[index], wanted)  # noqa: E731
    traces = _fetch_traces(partial, fetch, analysis.traces.limits.horizon)
    for segment in partial.segments:
        for n, part in enumerate(_unpack(segment, shift.get(segment.index, 0))):
            part = dataclasses.replace(part, traces=traces[segment.index].get(n, part.traces))
            if shift.get(segment.index):  # its requests seen in the access log, named by their lines in the file
                part.traces = part.traces.with_columns(shift_seen(pl.col("request_id"), shift[segment.index]))
            analysis.absorb(dataclasses.replace(part, traces=_tokens(part.traces, len(batches))))
            batches.append((segment.index, n))
        analysis.routes.merge(segment.routes)
        diag.merge(segment.diag)
        tally.merge(segment.tally)
    incidents = analysis.incidents()  # with tokens in place of texts and captures
    _fill_trails(analysis, incidents, batches, fetch, shift)
    analysis.strings = _fetch_strings(incidents, fetch)
    return analysis, tally


def _fetch_traces(partial: Partial, fetch: TrailFetch, horizon: timedelta) -> dict[int, dict[int, pl.DataFrame]]:
    """Per segment, per batch: the trace rows the trace table keeps past their arrival (`_kept_traces`), asked
    of each shard with the cutoffs the replay's clock will have (computed here from the batches' latest ends)."""
    newest: datetime | None = None
    clock: datetime | None = None  # the replay's clock (Analysis.clock) before each segment
    demand = _demand_of(partial)
    asks: dict[int, TraceAsk] = {}
    earlier = pl.Series("alive", [], dtype=pl.UInt32)
    for at, segment in enumerate(partial.segments):
        cutoffs: list[datetime | None] = []
        asked = _link_demand(demand, at, clock, segment.ends)
        for part in segment.parts:
            if part.trace_rows and part.trace_newest is not None and (newest is None or part.trace_newest > newest):
                newest = part.trace_newest
            cutoffs.append(newest - horizon if part.trace_rows and newest is not None else None)
            if part.latest is not None and (clock is None or part.latest > clock):
                clock = part.latest
        asks[segment.index] = TraceAsk(tuple(cutoffs), earlier, *asked)
        if segment.alive is not None and segment.alive.len():
            earlier = pl.concat([earlier, segment.alive]).unique().sort()
    out: dict[int, dict[int, pl.DataFrame]] = {}
    by_index = {s.index: s for s in partial.segments}
    for index, ask in asks.items():
        if all(c is None for c in ask.cutoffs):  # no trace rows at all (or none with a time): nothing to prune
            if not any(p.trace_rows for p in by_index[index].parts):
                out[index] = {}
                continue
        got = fetch(index, ask)
        if got.height:
            named = pl.concat_str(pl.lit(f"{_UNREAD_ID}{index}:"), pl.int_range(pl.len()).cast(pl.String))
            got = got.with_columns(pl.coalesce("request_id", named).alias("request_id"))
        out[index] = {} if got.height == 0 else {
            k[0]: f.drop("_b") for k, f in got.partition_by("_b", as_dict=True, maintain_order=True).items()}
    return out


def _demand_of(partial: Partial) -> tuple[pl.DataFrame, ...]:
    """Of all the shards' evidence, what linking may tie to a request (as it travelled, before any link):
    access-shaped records (ACCESS_KEYS, ts), database records (ts, began, precision), errors (service, ts)."""
    schema = {"ts": UTC_TS, "line_no": pl.Int64}
    frames = [expand(_undeltas(frame, schema)).select(*(c for c in _DEMAND_COLUMNS if c in frame.columns),
                                                      pl.lit(at, dtype=pl.Int32).alias("_seg"))
              for at, segment in enumerate(partial.segments) for frame in segment.evidence[:2] if frame.height]
    if not frames:
        return pl.DataFrame(), pl.DataFrame(), pl.DataFrame()
    rows = pl.concat(frames, how="diagonal_relaxed")
    rows = rows.with_columns(pl.lit(None, dtype=SCHEMA.get(name, pl.String)).alias(name)
                             for name in _DEMAND_COLUMNS if name not in rows.columns)
    # a row whose ID may go unread is not notable, so its status is under 400: only such records could match it
    access = access_shaped(rows).filter(pl.col("http_status") < 400)
    access = access.select(*(pl.col(k).cast(pl.String) for k in ACCESS_KEYS), "ts", "_seg")
    orphans = orphans_of(rows)
    database = orphans.filter(pl.col("format").is_in(list(DATABASE_FORMATS))).select("ts", "began", "precision", "_seg")
    errors = orphans.filter(pl.col("level").is_in(["error", "critical"]) | pl.col("exc_type").is_not_null())
    return access, database, errors.select("service", "ts", "_seg")


_DEMAND_COLUMNS = ("request_id", "linked_by", "ts", "format", "duration_ms", "level", "exc_type", *ACCESS_KEYS)


def _link_demand(demand: tuple[pl.DataFrame, ...], at: int, clock: datetime | None,
                 ends: tuple[datetime | None, datetime | None]) -> tuple[bytes, ...]:
    """The demand that may meet the rows of the segment replayed `at`-th, whose trace rows end between `ends`,
    packed: the rows whose ID may go unread are in the table only while that segment is replayed
    (`_without_unread_ids`), so what links then is its own evidence and what earlier ones left pending (after
    every batch, pending evidence is at most 1.25 x SETTLE older than the clock); later evidence arrives once
    they are gone. Of those, the records within linking's reach of `ends`."""
    first, last = ends
    if first is None or last is None:
        return b"", b"", b""
    window = LinkWindow()
    reach = pl.col("ts").is_between(first - window.max_request - window.error_before,
                                    last + window.error_before + window.access + window.in_flight)
    pending = pl.col("_seg") < at
    if clock is not None:
        pending &= pl.col("ts") >= clock - 2 * SETTLE  # type: ignore[operator]
    when = ((pl.col("_seg") == at) | pending) & reach
    return tuple(_ipc(frame.filter(when).drop("_seg").unique().sort("ts")) if frame.height else b""  # type: ignore[misc]
                 for frame in demand)


class Replayed(Analysis):
    """The Analysis `finish` replays the shards into: its incidents show the strings the evidence's tokens stand
    for (`strings`, fetched once for the examples and captures of every incident)."""

    strings: dict[str, str] | None = None

    def incidents_of(self, snapshot: Snapshot) -> pl.DataFrame:
        incidents = super().incidents_of(snapshot)
        if not self.strings or incidents.height == 0:
            return incidents
        mapping = self.strings
        return incidents.with_columns(
            pl.col("captures").replace(mapping),
            pl.col("examples").list.eval(pl.element().struct.with_fields(pl.field("text").replace(mapping))),
        )


def _fetch_strings(incidents: pl.DataFrame, fetch: TrailFetch) -> dict[str, str]:
    """Token -> string, for every token in the incidents' examples and captures, fetched from their shards."""
    tokens = pl.concat([
        incidents.get_column("captures"),
        incidents.get_column("examples").explode().struct.field("text"),
    ]).drop_nulls().unique()
    tokens = tokens.filter(tokens.str.starts_with(_TOKEN))
    if tokens.len() == 0:
        return {}
    where = pl.DataFrame({"ref": tokens}).with_columns(
        pl.col("ref").str.strip_prefix(_TOKEN).str.split_exact(":", 1).struct.rename_fields(["_seg", "token"])
    ).unnest("ref").with_columns(pl.col("_seg").cast(pl.Int64))  # type: ignore[arg-type]
    strings: dict[str, str] = {}
    for (index,), wanted in where.partition_by("_seg", as_dict=True).items():
        got = fetch(int(index), wanted.select("token"))  # type: ignore[arg-type]
        prefix = f"{_TOKEN}{index}:"
        strings.update(zip((prefix + t for t in got.get_column("token")), got.get_column("value"), strict=True))
    return strings


_TRAIL_LINES = "_trail_lines"
_TRAIL_SCHEMA = {"_b": pl.UInt32, "request_id": pl.String, "trail": pl.String}
_SHOWN_TRACES = 50  # analyzer.report.model._trace looks at an incident's first 50 requests


def _tokens(traces: pl.DataFrame, batch: int) -> pl.DataFrame:
    """A trace partial with a trail of tokens `batch.k`, one per line it had."""
    if _TRAIL_LINES not in traces.columns:
        return traces
    tokens = pl.int_ranges(0, pl.col(_TRAIL_LINES).cast(pl.Int64)).list.eval(
        pl.lit(f"{batch}.") + pl.element().cast(pl.String)).list.join("\n")
    return traces.with_columns(tokens.alias("trail")).drop(_TRAIL_LINES).select(TRACE_SCHEMA.keys())


def _shift_lines(trail: str, by: int) -> str:
    """A fetched trail with its records' line numbers moved `by` lines (a byte-range shard counts from 1)."""
    steps = []
    for line in trail.split("\n"):
        step = orjson.loads(line)
        if step.get("line_no") is not None:
            step["line_no"] += by
        steps.append(orjson.dumps(step).decode())
    return "\n".join(steps)


def _fill_trails(analysis: Analysis, incidents: pl.DataFrame, batches: list[tuple[int, int]], fetch: TrailFetch,
                 shift: dict[int, int] | None = None) -> None:
    table = analysis.traces.table
    if table.height == 0:
        return
    named = incidents.get_column("request_ids").list.head(_SHOWN_TRACES).explode().drop_nulls().unique()
    rows = table.filter(pl.col("request_id").is_in(named.implode())).select("request_id", "trail")
    if rows.height == 0:
        return
    tokens = (
        rows.with_columns(pl.col("trail").str.split("\n").alias("_t")).explode("_t")
        .with_columns(pl.int_range(pl.len()).over("request_id").alias("_pos"),
                      pl.col("_t").str.split_exact(".", 1).struct.rename_fields(["_g", "_k"]).alias("_gk"))
        .unnest("_gk").with_columns(pl.col("_g").cast(pl.Int64), pl.col("_k").cast(pl.Int64))
    )
    where = pl.DataFrame({"_g": range(len(batches)), "_seg": [s for s, _ in batches], "_b": [b for _, b in batches]},
                         schema={"_g": pl.Int64, "_seg": pl.Int64, "_b": pl.UInt32})
    tokens = tokens.join(where, on="_g", how="left")
    lines = []
    for (index,), wanted in tokens.select("_seg", "_b", "request_id").unique().partition_by("_seg", as_dict=True).items():
        by = shift.get(int(index), 0) if shift else 0  # type: ignore[arg-type]
        # the shard names its requests seen in the access log by its own line numbers
        got = fetch(int(index), wanted.select("_b", shift_seen(pl.col("request_id"), -by)))  # type: ignore[arg-type]
        if by:
            got = got.with_columns(pl.col("trail").map_elements(lambda t: _shift_lines(t, by), return_dtype=pl.String),
                                   shift_seen(pl.col("request_id"), by))
        lines.append(got.select("_b", "request_id", pl.col("trail").str.split("\n").alias("_lines"))
                     .with_columns(pl.lit(index, dtype=pl.Int64).alias("_seg")))
    found = pl.concat(lines)
    filled = (
        tokens.join(found, on=["_seg", "_b", "request_id"], how="left")
        .with_columns(pl.col("_lines").list.get(pl.col("_k"), null_on_oob=True).alias("_line"))
        .sort("request_id", "_pos")
        .group_by("request_id", maintain_order=True).agg(pl.col("_line").str.join("\n").alias("_filled"))
    )
    analysis.traces.table = (
        table.join(filled, on="request_id", how="left", maintain_order="left")
        .with_columns(pl.coalesce("_filled", "trail").alias("trail")).drop("_filled")
    )


def checkpoint_conflict(partials: Sequence[Partial]) -> bool:
    """Whether two shards read or continued the same checkpoint (a copy read through its truncated original and
    also named, one file's checkpoint continued by two): their copies of the checkpoints disagree with what one
    sequential run would have read, so the caller runs those inputs again as one shard."""
    seen: set[str] = set()
    for p in partials:
        for segment in p.segments:
            if segment.checkpoints is None:
                continue
            pending, claimed = segment.checkpoints
            mine = set(pending) | set(claimed)
            if mine & seen:
                return True
            seen |= mine
    return False


def merge_checkpoints(partial: Partial, checkpoints: Checkpoints) -> None:
    """Add what each shard read to (in reading order) to the driver's checkpoints, committed with its state."""
    for segment in partial.segments:
        if segment.checkpoints is not None:
            pending, claimed = segment.checkpoints
            checkpoints.pending.update(pending)
            checkpoints.claimed.update(claimed)


def run_local(job: Job, shards: Sequence[Shard]) -> list[Partial]:
    """Every shard in this process (tests; what a cluster does, one shard after another)."""
    partials = [run_shard(job, s) for s in shards]
    partials = resolve_carries(shards, partials, lambda again: [run_shard(job, s) for s in again])
    if checkpoint_conflict(partials):
        return [run_shard(job, as_one(shards))]
    return partials


def as_one(shards: Sequence[Shard]) -> Shard:
    """All the shards' inputs as one shard, in order (what `checkpoint_conflict` falls back to)."""
    return Shard(0, tuple(inp for s in sorted(shards, key=lambda s: s.index) for inp in s.inputs))
