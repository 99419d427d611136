"""Live analysis for `logscan tail`: the scan pipeline fed in small batches, and what changed said at once.

`LiveTail.run` loops: wait for the follower (analyzer.ingest.follow) to report new
bytes and feed its chunks through the same `Pipeline.feed` as `scan`; a second
thread takes each batch of events as soon as it is parsed, runs the same
`Analysis.add` and says what changed (`Tracker`, by fingerprint). A batch
costs mostly fixed per-call work (framing, parsing, matching, a few hundred
vectorized calls however few its lines), so reading the next batch while this
one is analysed puts both cores to work on it, and the analysis takes
whatever waits as one batch when it falls behind. Two paths, the same stage
functions:

* **at once**: the batch's signature matches whose (signature, service, key)
  is not an open incident are turned into incidents on their own
  (`Analysis.point_incidents`: linking, aggregation, ranking over those few
  rows) and *opened* with the counts they hold. Matches of open incidents cost
  a set lookup, so a busy service with known problems stays cheap;
* **incremental**: evidence tied to its requests for good is folded into the
  incidents (`LiveAnalysis`, analyzer.analysis.incremental: a fold touches the
  new rows only; window rules keep expiring time buckets). Storms,
  slow-request windows and unknown clusters are opened from it; counts of open
  incidents make *updated* (at most one per incident per `update_seconds`); one
  quiet for `resolve_after` is *resolved* (a new occurrence opens it again).
  The folded incidents are looked at every `tick_seconds` at most.

Records the framer holds (the last record of a stream, which the next line
might continue) are flushed once their stream has been quiet for
`hold_seconds`, whatever the other streams write meanwhile (`_QuietStreams`),
except a traceback without its exception line yet, which waits for its next
lines or a record header up to `hold_unfinished_seconds` (so tail reads it
whole, as scan does); an unknown error is opened only when nothing is held.

Bounded state (`Limits`): at most `max_evidence_rows` evidence rows wait to be
folded (LiveAnalysis); traces and route statistics bound themselves
(analyzer.analysis.correlate, analyzer.analysis.routes); the state and the
tracker keep one small entry per incident.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, Protocol

import polars as pl

from analyzer.analysis.incremental import LiveAnalysis
from analyzer.ingest.follow import Follower
from analyzer.ingest.overlap import hand_over
from analyzer.analysis.incidents import UNKNOWN, fingerprint
from analyzer.ingest.pipeline import Pipeline
from analyzer.analysis.ranking import RANK_COLUMNS, rank, severity_at_least
from analyzer.report.model import build_report, incident_dicts
from analyzer.report.summary import summary_dict

RATE_SECONDS = 60.0
#: Batches the reading thread may be ahead of the analysis thread.
INBOX_BATCHES = 8


@dataclass(frozen=True)
class Limits:
    """How often tail works and how much it keeps; every value is a command-line option."""

    tick_seconds: float = 0.25  # least time between two looks at the folded incidents
    hold_seconds: float = 0.5  # quiet spell after which held records are flushed
    # ... but a traceback without its exception line yet (clearly unfinished) waits this long (at least
    # hold_seconds), unless its next lines or a record header come first: scan would read it whole
    hold_unfinished_seconds: float = 30.0
    update_seconds: float = 1.0  # at most one "updated" per incident per this
    resolve_after: float = 300.0  # an incident quiet this long is resolved
    max_evidence_rows: int = 50_000  # evidence rows waiting to be folded; beyond, the oldest are folded at once


Event = Literal["opened", "updated", "resolved"]


@dataclass(frozen=True)
class Change:
    """One thing to say about an incident (`incident` is the scan report's incident dict)."""

    event: Event
    incident: dict[str, Any]


@dataclass
class _Seen:
    """What was said of one incident. `count` is its running total: it never goes down, whatever a later
    computation over trimmed evidence (or a re-clustering of unknown errors) counts."""

    count: int
    changed_at: float  # when its count last grew (monotonic)
    said_at: float  # when it was last announced or updated
    resolved: bool = False
    unsaid: bool = False  # grew since it was last said
    history: deque[tuple[float, int]] = field(default_factory=deque)  # (time, count) over the last minute
    base: int = 0  # the count before the oldest point of `history` (0 when first opened)

    def grew(self, now: float, count: int) -> None:
        """The count grew to `count`; the history keeps the last minute (whether or not a board reads the rate)."""
        self.count, self.changed_at, self.unsaid = count, now, True
        self.history.append((now, count))
        self.rate(now)

    def rate(self, now: float) -> float:
        """Occurrences per minute: those counted in the last minute, the ones it was opened with included."""
        while self.history and now - self.history[0][0] >= RATE_SECONDS:
            self.base = self.history.popleft()[1]
        return float(self.count - self.base)


@dataclass(frozen=True)
class BoardRow:
    """One line of the live board."""

    incident: dict[str, Any]  # fields of the scan report that the board shows
    rate: float  # per minute
    resolved: bool


class Tracker:
    """What has been said about each incident, by fingerprint; turns new incident frames into changes.

    Every incident said stays known (`known`: its last row, its count the running total) until the end, so it
    leaves the board only through `resolved`, and the final report lists it (`merged`), even when a later
    computation no longer holds it (its rows trimmed, an unknown error clustered anew) or counts less.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.seen: dict[str, _Seen] = {}
        self.latest = pl.DataFrame()
        self.known = pl.DataFrame()  # the last row of every incident said, with its running total as `count`

    def open(self, now: float, incidents: pl.DataFrame, traces: Any) -> list[Change]:
        """Open the incidents of fresh evidence not said yet (or resolved), before a full computation has them.

        Their counts are those of the fresh rows (added to what was counted before it was resolved); the next
        full computation's count follows as an update.
        """
        new = [fp for fp in incidents.get_column("fingerprint").to_list() if not self.open_now(fp)]
        if not new:
            return []
        rows = incidents.filter(pl.col("fingerprint").is_in(new))
        totals: dict[str, int] = {}
        for fp, count in rows.select("fingerprint", "count").iter_rows():
            before = self.seen[fp].count if fp in self.seen else 0
            totals[fp] = before + count
            self.seen[fp] = _Seen(before + count, now, now, history=deque([(now, before + count)]), base=before)
        rows = self._remember(rows.with_columns(pl.col("fingerprint").replace_strict(
            totals, return_dtype=rows.schema["count"]).alias("count")))
        return [Change("opened", item) for item in incident_dicts(rows, traces)]

    def joined(self, aliases: dict[str, str]) -> None:
        """Forget the incidents that joined another (an unknown cluster whose template the miner generalized into
        an older one's, analyzer.analysis.incremental): their occurrences count under that one from now on."""
        gone = [fp for fp in aliases if fp in self.seen]
        for fp in gone:
            del self.seen[fp]
        if gone and self.known.height:
            self.known = self.known.filter(~pl.col("fingerprint").is_in(gone))

    def open_now(self, fingerprint: str) -> bool:
        """Whether this incident has been opened and is not resolved."""
        seen = self.seen.get(fingerprint)
        return seen is not None and not seen.resolved

    def changes(self, now: float, incidents: pl.DataFrame | None, traces: Any, settled: bool,
                final: bool = False) -> list[Change]:
        """Changes since the last call; `incidents` is a fresh ranked frame, or None to only check the clock.

        A new *unknown* incident is opened only when `settled` (no record held by the framer): an
        error line whose traceback is still held looks unexplained until the traceback joins it.
        `final` says every update still held back by the rate limit. A count lower than the one said is
        not said (counts never go down); an incident missing from `incidents` stays as last known.
        """
        opened: list[str] = []
        if incidents is not None:
            self.latest = incidents
        if (incidents is not None or settled) and self.latest.height:  # nothing computed yet: nothing to say
            for fp, signature, count in self.latest.select("fingerprint", "signature", "count").iter_rows():
                seen = self.seen.get(fp)
                if seen is None and signature == UNKNOWN and not settled:
                    continue
                if seen is None or (seen.resolved and count > seen.count):
                    opened.append(fp)
                    base = seen.count if seen is not None else 0
                    self.seen[fp] = _Seen(count, now, now, history=deque([(now, count)]), base=base)
                elif count > seen.count:
                    seen.grew(now, count)
            self._remember(self.latest)
        # what is said about an incident comes from a computation (or the fresh evidence) that held it
        known = set(self.known.get_column("fingerprint").to_list()) if self.known.height else set()
        updated = [fp for fp, s in self.seen.items() if fp in known and s.unsaid and fp not in opened
                   and (final or now - s.said_at >= self.limits.update_seconds)]
        resolved = [fp for fp, s in self.seen.items() if fp in known and not s.resolved and fp not in opened
                    and now - s.changed_at >= self.limits.resolve_after]
        for fp in updated:
            self.seen[fp].said_at, self.seen[fp].unsaid = now, False
        for fp in resolved:
            self.seen[fp].resolved = True
        events: dict[str, Event] = {fp: "opened" for fp in opened}
        events |= {fp: "updated" for fp in updated} | {fp: "resolved" for fp in resolved}
        if not events:
            return []
        rows = self.merged().filter(pl.col("fingerprint").is_in(list(events)))
        return [Change(events[item["fingerprint"]], item) for item in incident_dicts(rows, traces)]

    def _remember(self, incidents: pl.DataFrame) -> pl.DataFrame:
        """Keep the rows of `incidents` said so far as their last known rows, counts raised to the running
        totals; returns those rows."""
        if not self.seen or incidents.height == 0:
            return incidents.clear()
        totals = {fp: s.count for fp, s in self.seen.items()}
        rows = incidents.filter(pl.col("fingerprint").is_in(list(totals))).with_columns(
            pl.max_horizontal("count", pl.col("fingerprint").replace_strict(
                totals, default=0, return_dtype=incidents.schema["count"])).alias("count"))
        if self.known.height:
            rest = self.known.join(rows.select("fingerprint"), on="fingerprint", how="anti")
            self.known = pl.concat([rows, rest], how="diagonal_relaxed") if rest.height else rows
        else:
            self.known = rows
        return rows

    def merged(self, incidents: pl.DataFrame | None = None) -> pl.DataFrame:
        """`incidents` (default: the latest computation's) with every incident said: counts no lower than said,
        those it lacks as last known, ranked again when either changed anything."""
        frame = self.latest if incidents is None else incidents
        if self.known.height == 0:
            return frame
        if frame.height == 0:
            return rank(self.known.drop(RANK_COLUMNS, strict=False))
        totals = {fp: s.count for fp, s in self.seen.items()}
        raised = frame.with_columns(pl.max_horizontal("count", pl.col("fingerprint").replace_strict(
            totals, default=0, return_dtype=frame.schema["count"])).alias("count"))
        missing = self.known.join(frame.select("fingerprint"), on="fingerprint", how="anti")
        if missing.height == 0 and raised.get_column("count").equals(frame.get_column("count")):
            return frame
        return rank(pl.concat([raised.drop(RANK_COLUMNS, strict=False), missing.drop(RANK_COLUMNS, strict=False)],
                              how="diagonal_relaxed"))

    def board(self, now: float) -> list[BoardRow]:
        """Every incident said so far, in rank order, with its rate."""
        columns = ("fingerprint", "rank", "severity", "title", "signature", "service", "count", "last_seen")
        merged = self.merged()
        rows = merged.select(columns).to_dicts() if merged.height else []
        return [BoardRow(row, self.seen[row["fingerprint"]].rate(now), self.seen[row["fingerprint"]].resolved)
                for row in rows if row["fingerprint"] in self.seen]


class Sink(Protocol):
    """Where tail says things (analyzer.commands.tail: the terminal, or JSON lines)."""

    def records(self, events: pl.DataFrame, tags: dict[tuple[str, int], str]) -> None:
        """New records, with the signature of those that are evidence (for --lines)."""

    def changes(self, changes: list[Change], board: Callable[[], list[BoardRow]]) -> None:
        """Incident changes, and the board as it now stands (`board()`: computed only by a sink that shows it,
        as it costs a ranking of every incident said)."""

    def warn(self, message: str) -> None:
        """Something about the input: a rotation, a missing file, damaged lines."""


class _QuietStreams:
    """When each stream (input path, stream id) last brought lines, and which of its held records are due: the
    last record of a stream is held because its next line might continue it, and given up once that stream has
    been quiet for `hold_seconds`, whatever other streams write meanwhile (a database that reports an error and
    then says nothing, beside a busy API in the same `docker compose logs`); a traceback without its exception
    line yet waits up to `hold_unfinished_seconds`."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.last: dict[tuple[str, int], float] = {}
        self.waiting: set[tuple[str, int]] = set()  # unfinished tracebacks a quiet spell left held
        self.holding = False  # whether any record is held (the follower is then asked again sooner)

    def heard(self, path: str, streams: set[int], now: float) -> None:
        for sid in streams:
            self.last[(path, sid)] = now
            self.waiting.discard((path, sid))

    def due(self, path: str, held: set[int], now: float) -> list[tuple[bool, set[int]]]:
        """(keep_unfinished, streams) to flush now: quiet for `hold_seconds` (their unfinished tracebacks kept),
        or for `hold_unfinished_seconds` (everything)."""
        longest = max(self.limits.hold_seconds, self.limits.hold_unfinished_seconds)
        for key in [key for key in self.last if key[0] == path and key[1] not in held]:  # bounded: held streams only
            del self.last[key]
            self.waiting.discard(key)
        spells = {sid: now - self.last.setdefault((path, sid), now) for sid in held}
        over = {sid for sid, spell in spells.items() if spell >= longest}
        quiet = {sid for sid, spell in spells.items()
                 if self.limits.hold_seconds <= spell < longest and (path, sid) not in self.waiting}
        return [(flag, streams) for flag, streams in ((False, over), (True, quiet)) if streams]

    def kept(self, path: str, streams: set[int]) -> None:
        """These streams still hold an unfinished traceback after a quiet spell's flush."""
        self.waiting |= {(path, sid) for sid in streams}


@dataclass(frozen=True)
class _Batch:
    """What the reading thread hands the analysis thread: events parsed at `now` (monotonic), whether nothing is
    held by the framer then (`settled`), new warnings; `last`: the final flush, after which reading has ended."""

    now: float
    settled: bool
    events: list[pl.DataFrame]
    warnings: list[str]
    last: bool = False


class LiveTail:
    """Follows inputs through the pipeline and the analysis, and tells `sink` what changed."""

    def __init__(self, follower: Follower, pipeline: Pipeline, analysis: LiveAnalysis, sink: Sink,
                 limits: Limits, min_severity: str = "low", echo: bool = False) -> None:
        self.follower = follower
        self.pipeline = pipeline
        self.analysis = analysis
        self.sink = sink
        self.limits = limits
        self.min_severity = min_severity
        self.echo = echo
        self.tracker = Tracker(limits)
        self.fresh: list[pl.DataFrame] = []  # signature matches not yet checked for a new incident
        self.looked_at = 0.0  # when the folded incidents were last looked at
        self.warned = 0  # diag.warnings already passed on
        self.inbox: queue.Queue[_Batch] = queue.Queue(maxsize=INBOX_BATCHES)  # reading thread -> analysis thread
        self.failure: BaseException | None = None  # what ended the analysis thread
        self.source_warned: set[str] = set()
        self.final: pl.DataFrame | None = None  # the incidents of everything (after `run`)

    def run(self, stop: threading.Event) -> None:
        """Follow until `stop` is set or stdin (the only input) ends; everything held is flushed at the end.

        This thread reads: it polls the follower and frames and parses what came (the pipeline); the analysis,
        the tracker and the sink live on `logscan-analysis` (`_analyse`), which takes each batch of events as
        soon as it is parsed, so that reading the next batch and analysing this one use both cores.
        """
        self.follower.start()
        analysing = threading.Thread(target=self._analyse, name="logscan-analysis", daemon=True)
        analysing.start()
        quiet = _QuietStreams(self.limits)
        handed = _Batch(0.0, True, [], [])  # the last batch handed over (the analysis thread's `settled`)
        try:
            while not stop.is_set() and not self.follower.finished and analysing.is_alive():
                self.follower.wait(self.limits.tick_seconds / 2 if quiet.holding else self.follower.poll_seconds)
                now = time.monotonic()
                events = []
                for chunk in self.follower.poll():
                    events.append(self.pipeline.feed(chunk))
                    quiet.heard(chunk.input.path, self.pipeline.fed_streams(chunk.input), now)
                settled = True
                for inp in self.follower.inputs:  # a stream quiet for hold_seconds gives its last record up
                    held = self.pipeline.held_streams(inp)
                    for keep_unfinished, streams in quiet.due(inp.path, held, now):
                        events.append(self.pipeline.flush(inp, keep_unfinished, streams))
                        held = self.pipeline.held_streams(inp)
                        if keep_unfinished:
                            quiet.kept(inp.path, held & streams)
                    settled = settled and not held
                quiet.holding = not settled
                warnings = self._warnings()
                if any(part.height for part in events) or warnings or settled != handed.settled:
                    handed = _Batch(now, settled, events, warnings)
                    self._hand_over(handed, analysing)
        except KeyboardInterrupt:
            pass  # Ctrl-C ends following; what was read is still flushed and reported
        except BaseException:
            self.follower.stop()
            self._hand_over(_Batch(time.monotonic(), True, [], [], last=True), analysing)
            raise
        self.follower.stop()
        self._hand_over(_Batch(time.monotonic(), True, self._flush(), self._warnings(), last=True), analysing)
        analysing.join()
        if self.failure is not None:
            raise self.failure
        self._finish()

    def _hand_over(self, batch: _Batch, analysing: threading.Thread) -> None:
        """Queue `batch` for the analysis thread; wait while the queue is full (reading stays at most
        INBOX_BATCHES ahead of the analysis, so memory stays bounded), unless that thread has ended."""
        hand_over(self.inbox, batch, analysing.is_alive)

    def _analyse(self) -> None:
        """The analysis thread: add the events handed over (all that waits at once, as one batch), take in folds,
        say what changed; every `tick_seconds / 2` without new events, the clock alone moves folds and
        resolutions on. Ends after the last batch; an exception is kept for `run` to raise."""
        settled = True
        try:
            while True:
                try:
                    batches = [self.inbox.get(timeout=self.limits.tick_seconds / 2)]
                except queue.Empty:
                    now = time.monotonic()
                    self.analysis.advance(now)
                    self._say(now, settled, [])
                    continue
                while not batches[-1].last:
                    try:
                        batches.append(self.inbox.get_nowait())
                    except queue.Empty:
                        break
                now, settled = batches[-1].now, batches[-1].settled
                # folds are taken in before the new events: a piped file read in one go says the same things
                # every time
                self.analysis.advance(batches[0].now)
                events = [part for batch in batches for part in batch.events if part.height]
                if events:
                    self._add(pl.concat(events) if len(events) > 1 else events[0])
                warnings = [message for batch in batches for message in batch.warnings]
                if batches[-1].last:  # `run` says the rest (`_finish`) once this thread has ended
                    for message in warnings:
                        self.sink.warn(message)
                    return
                self._say(now, settled, warnings)
        except BaseException as exc:  # noqa: BLE001 - raised again on the reading thread (`run`)
            self.failure = exc

    def report(self) -> dict[str, Any]:
        """The scan report of everything read (what `scan` would print for the same lines)."""
        incidents = self.final if self.final is not None else self._shown(self.analysis.incidents())
        # every incident announced is listed, its count no lower than the one said (Tracker.merged)
        return build_report(summary_dict(self.pipeline.diag, self.pipeline.tally),
                            self.tracker.merged(incidents), self.analysis.traces)

    def _add(self, events: pl.DataFrame) -> None:
        if events.height == 0:
            return
        self.analysis.add(events)
        found = self.analysis.last_found
        if found.height:
            self.fresh.append(found)
        if self.echo:
            tags = dict(zip(zip(found.get_column("source"), found.get_column("line_no"), strict=True),
                            found.get_column("signature"), strict=True)) if found.height else {}
            self.sink.records(events, tags)

    def _flush(self) -> list[pl.DataFrame]:
        """Everything held, as events (the end)."""
        return [self.pipeline.flush(inp) for inp in self.follower.inputs]

    def _warnings(self) -> list[str]:
        """Warnings about the input not passed on yet (read here, on the reading thread, which writes them)."""
        diag = self.pipeline.diag
        new = diag.warnings[self.warned:]
        self.warned += len(new)
        for message in diag.source_warnings():
            if message not in self.source_warned:
                self.source_warned.add(message)
                new.append(message)
        return new

    def _shown(self, incidents: pl.DataFrame) -> pl.DataFrame:
        return incidents.filter(severity_at_least(pl.col("severity"), self.min_severity))

    def _opened_now(self, now: float) -> list[Change]:
        """The fast path: signature matches of a problem not open yet are announced at once.

        Only the matches whose (signature, key) is not an open incident are
        computed (the same stage functions, on those rows alone), so a busy service
        with known problems costs a lookup per batch.
        """
        fresh = pl.concat(self.fresh, how="diagonal_relaxed") if len(self.fresh) > 1 else self.fresh[0]
        self.fresh = []
        point = fresh.filter(pl.col("kind") == "point")
        if point.height == 0:
            return []
        keys = point.select("signature", "key").unique()
        new = [k for k in keys.iter_rows() if not self.tracker.open_now(fingerprint(*k))]
        if not new:
            return []
        wanted = pl.DataFrame(new, schema=keys.schema, orient="row")
        rows = point.join(wanted, on=["signature", "key"], how="semi", nulls_equal=True)
        return self.tracker.open(now, self._shown(self.analysis.point_incidents(rows)), self.analysis.traces)

    def _folded(self, now: float) -> pl.DataFrame | None:
        """The folded incidents when `tick_seconds` have passed since the last look and a fold changed them."""
        if now - self.looked_at < self.limits.tick_seconds:
            return None
        self.looked_at = now
        version = self.analysis.ranked_version
        incidents = self.analysis.current()
        if version == self.analysis.ranked_version:
            return None
        self.tracker.joined(self.analysis.state.aliases)
        return self._shown(incidents)

    def _say(self, now: float, settled: bool, warnings: list[str], final: bool = False) -> None:
        """Pass on `warnings`; announce new problems (said at once, before the folded incidents are looked at);
        look at the folded incidents; say what changed."""
        for message in warnings:
            self.sink.warn(message)
        board = partial(self.tracker.board, now)
        if opened := self._opened_now(now) if self.fresh else []:
            self.sink.changes(opened, board)
        incidents = self._folded(now)
        # an unknown error is opened only when nothing is held by the framer (see Tracker)
        changes = self.tracker.changes(now, incidents, self.analysis.traces, settled, final=final)
        if changes or incidents is not None:
            self.sink.changes(changes, board)

    def _finish(self) -> None:
        """Fold everything still waiting and say what is left."""
        now = time.monotonic()
        changes = self._opened_now(now) if self.fresh else []
        self.final = self._shown(self.analysis.incidents())
        self.tracker.joined(self.analysis.state.aliases)
        changes += self.tracker.changes(now, self.final, self.analysis.traces, True, final=True)
        self.sink.changes(changes, partial(self.tracker.board, now))
