"""Live analysis for `logscan tail`: the scan pipeline fed in small batches, and what changed said at once.

`LiveTail.run` loops: wait for the follower (analyzer.follow) to report new
bytes, feed its chunks through the same `Pipeline.feed` and `Analysis.add` as
`scan`, and, at most every `tick_seconds`, compare `Analysis.incidents()` with
what was said before (`Tracker`, by fingerprint): a new incident is *opened*
at once, later occurrences make an *updated* (at most one per incident per
`update_seconds`), and one quiet for `resolve_after` is *resolved* (a new
occurrence opens it again). Records the framer holds (the last record of a
stream, which the next line might continue) are flushed after `hold_seconds`
without new input.

Incidents are recomputed from all the evidence (that is what makes the storm
and slow-request windows of analyzer.incidents work unchanged); measured at
40-60 ms for 150-7,000 evidence rows on our 2-core machine but 0.3-1 s at
5,000-33,000 rows (benchmarks/tail_latency.py: busy compose traffic then falls
behind; an incremental recomputation is the known next step), hence a 250 ms
tick: computed at once when evidence arrives after a quiet moment (so a lone
new problem is announced within the batch latency), at most 4 times a second
in a burst.

Bounded state (`Limits`): evidence rows are capped at `max_evidence_rows`
(`BoundedAnalysis`); traces and route statistics bound themselves
(analyzer.correlate, analyzer.routes); the tracker keeps one small entry per
incident.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import polars as pl

from analyzer.analysis import Analysis
from analyzer.follow import Follower
from analyzer.incidents import MAX_EXAMPLES, UNKNOWN
from analyzer.pipeline import Pipeline
from analyzer.ranking import rank, severity_at_least
from analyzer.report import build_report, incident_dicts
from analyzer.summary import summary_dict

RATE_SECONDS = 60.0
_RANK_COLUMNS = ("score", "caused_by", "rank")


@dataclass(frozen=True)
class Limits:
    """How often tail works and how much it keeps; every value is a command-line option."""

    tick_seconds: float = 0.25  # least time between two incident computations
    hold_seconds: float = 0.5  # quiet spell after which held records are flushed
    update_seconds: float = 1.0  # at most one "updated" per incident per this
    resolve_after: float = 300.0  # an incident quiet this long is resolved
    max_evidence_rows: int = 50_000  # evidence kept; beyond it the oldest rows go (counts stay)


class BoundedAnalysis(Analysis):
    """`Analysis` whose evidence stays under `max_rows`, keeping every incident's count honest.

    Beyond `max_rows` rows the oldest are dropped down to three quarters of it,
    keeping each (signature, service, key)'s first rows (the examples reports
    show; they count towards the three quarters, so the cap holds unless there
    are more than max_rows / 4 such groups). What the dropped rows counted is carried per fingerprint and added
    back by `incidents()`: count and affected requests, first seen; an
    incident whose rows are all gone (a storm window long past) stays as it
    was last computed. Timelines, request IDs and duration percentiles cover
    the rows kept.
    """

    def __init__(self, *args: Any, max_rows: int = Limits.max_evidence_rows, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_rows = max_rows
        self.carried = pl.DataFrame()  # fingerprint, count, affected_requests, first_seen of dropped rows
        self.gone = pl.DataFrame()  # incidents with no row left, as last computed (unranked)
        self.last_found = pl.DataFrame()  # evidence of the last batch added (tags for --lines)

    def add(self, events: pl.DataFrame) -> pl.DataFrame:
        self.last_found = super().add(events)
        if self.evidence_rows > self.max_rows:
            self._trim()
        return self.last_found

    def _trim(self) -> None:
        before = self.incidents().drop(_RANK_COLUMNS)
        evidence = self.evidence().with_row_index("_i")
        first = pl.col("_i").rank("ordinal").over("signature", "service", "key") <= MAX_EXAMPLES
        firsts = evidence.select(first.sum()).item()
        newest = pl.col("_i") >= evidence.height - max(self.max_rows * 3 // 4 - firsts, 0)
        self.replace_evidence(evidence.filter(first | newest).drop("_i"))
        after = super().incidents().select("fingerprint", "count", "affected_requests")
        totals = before.select("fingerprint", "count", "affected_requests", "first_seen")
        self.carried = totals.join(after, on="fingerprint", how="left", suffix="_kept").select(
            "fingerprint",
            (pl.col("count") - pl.col("count_kept").fill_null(0)).alias("count"),
            (pl.col("affected_requests") - pl.col("affected_requests_kept").fill_null(0)).alias("affected_requests"),
            "first_seen",
        )
        self.gone = before.join(after, on="fingerprint", how="anti")

    def incidents(self) -> pl.DataFrame:
        ranked = super().incidents()
        if self.carried.height == 0:
            return ranked
        current = ranked.drop(_RANK_COLUMNS)
        current = current.join(self.carried, on="fingerprint", how="left", suffix="_carried").with_columns(
            (pl.col("count") + pl.col("count_carried").fill_null(0)).alias("count"),
            (pl.col("affected_requests") + pl.col("affected_requests_carried").fill_null(0)).alias("affected_requests"),
            pl.min_horizontal("first_seen", "first_seen_carried").alias("first_seen"),
        ).drop("count_carried", "affected_requests_carried", "first_seen_carried")
        gone = self.gone.join(current, on="fingerprint", how="anti")
        return rank(pl.concat([current, gone], how="diagonal_relaxed") if gone.height else current)


Event = Literal["opened", "updated", "resolved"]


@dataclass(frozen=True)
class Change:
    """One thing to say about an incident (`incident` is the scan report's incident dict)."""

    event: Event
    incident: dict[str, Any]


@dataclass
class _Seen:
    count: int
    changed_at: float  # when its count last grew (monotonic)
    said_at: float  # when it was last announced or updated
    resolved: bool = False
    unsaid: bool = False  # grew since it was last said
    history: deque[tuple[float, int]] = field(default_factory=deque)  # (time, count) over the last minute

    def rate(self, now: float) -> float:
        """Occurrences per minute over the last minute."""
        while len(self.history) > 1 and now - self.history[1][0] >= RATE_SECONDS:
            self.history.popleft()
        then, count = self.history[0] if self.history else (now, self.count)
        return (self.count - count) * RATE_SECONDS / max(now - then, RATE_SECONDS)


@dataclass(frozen=True)
class BoardRow:
    """One line of the live board."""

    incident: dict[str, Any]  # fields of the scan report that the board shows
    rate: float  # per minute
    resolved: bool


class Tracker:
    """What has been said about each incident, by fingerprint; turns new incident frames into changes."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.seen: dict[str, _Seen] = {}
        self.latest = pl.DataFrame()

    def changes(self, now: float, incidents: pl.DataFrame | None, traces: Any, settled: bool,
                final: bool = False) -> list[Change]:
        """Changes since the last call; `incidents` is a fresh ranked frame, or None to only check the clock.

        A new *unknown* incident is opened only when `settled` (no record held by the framer): an
        error line whose traceback is still held looks unexplained until the traceback joins it.
        `final` says every update still held back by the rate limit.
        """
        opened: list[str] = []
        if incidents is not None:
            self.latest = incidents
        if (incidents is not None or settled) and self.latest.height:  # nothing computed yet: nothing to say
            for fp, signature, count in self.latest.select("fingerprint", "signature", "count").iter_rows():
                seen = self.seen.get(fp)
                if seen is None and signature == UNKNOWN and not settled:
                    continue
                if seen is None or (seen.resolved and count != seen.count):
                    opened.append(fp)
                    self.seen[fp] = _Seen(count, now, now, history=deque([(now, count)]))
                elif count != seen.count:
                    seen.count, seen.changed_at, seen.unsaid = count, now, True
                    seen.history.append((now, count))
        updated = [fp for fp, s in self.seen.items()
                   if s.unsaid and fp not in opened and (final or now - s.said_at >= self.limits.update_seconds)]
        resolved = [fp for fp, s in self.seen.items()
                    if not s.resolved and fp not in opened and now - s.changed_at >= self.limits.resolve_after]
        for fp in updated:
            self.seen[fp].said_at, self.seen[fp].unsaid = now, False
        for fp in resolved:
            self.seen[fp].resolved = True
        events: dict[str, Event] = {fp: "opened" for fp in opened}
        events |= {fp: "updated" for fp in updated} | {fp: "resolved" for fp in resolved}
        if not events:
            return []
        rows = self.latest.filter(pl.col("fingerprint").is_in(list(events)))
        return [Change(events[item["fingerprint"]], item) for item in incident_dicts(rows, traces)]

    def board(self, now: float) -> list[BoardRow]:
        """Every incident said so far, in rank order, with its rate."""
        columns = ("fingerprint", "rank", "severity", "title", "signature", "service", "count", "last_seen")
        rows = self.latest.select(columns).to_dicts() if self.latest.height else []
        return [BoardRow(row, self.seen[row["fingerprint"]].rate(now), self.seen[row["fingerprint"]].resolved)
                for row in rows if row["fingerprint"] in self.seen]


class Sink(Protocol):
    """Where tail says things (analyzer.tail_cli: the terminal, or JSON lines)."""

    def records(self, events: pl.DataFrame, tags: dict[tuple[str, int], str]) -> None:
        """New records, with the signature of those that are evidence (for --lines)."""

    def changes(self, changes: list[Change], board: list[BoardRow]) -> None:
        """Incident changes, and the board as it now stands."""

    def warn(self, message: str) -> None:
        """Something about the input: a rotation, a missing file, damaged lines."""


class LiveTail:
    """Follows inputs through the pipeline and the analysis, and tells `sink` what changed."""

    def __init__(self, follower: Follower, pipeline: Pipeline, analysis: BoundedAnalysis, sink: Sink,
                 limits: Limits, min_severity: str = "low", echo: bool = False) -> None:
        self.follower = follower
        self.pipeline = pipeline
        self.analysis = analysis
        self.sink = sink
        self.limits = limits
        self.min_severity = min_severity
        self.echo = echo
        self.tracker = Tracker(limits)
        self.dirty = False  # evidence arrived since incidents were last computed
        self.computed_at = 0.0
        self.warned = 0  # diag.warnings already passed on
        self.source_warned: set[str] = set()

    def run(self, stop: threading.Event) -> None:
        """Follow until `stop` is set or stdin (the only input) ends; everything held is flushed at the end."""
        self.follower.start()
        held_since: float | None = None  # when the last chunk came, while its last records are held
        try:
            while not stop.is_set() and not self.follower.finished:
                busy = held_since is not None or self.dirty
                self.follower.wait(self.limits.tick_seconds / 2 if busy else self.follower.poll_seconds)
                now = time.monotonic()
                chunks = self.follower.poll()
                for chunk in chunks:
                    self._add(self.pipeline.feed(chunk))
                if chunks:
                    held_since = now
                elif held_since is not None and now - held_since >= self.limits.hold_seconds:
                    self._flush()
                    held_since = None
                self._say(now, settled=held_since is None)
        except KeyboardInterrupt:
            pass  # Ctrl-C ends following; what was read is still flushed and reported
        finally:
            self.follower.stop()
        self._flush()
        self._say(time.monotonic(), settled=True, final=True)

    def report(self) -> dict[str, Any]:
        """The scan report of everything read (what `scan` would print for the same lines)."""
        shown = self.analysis.incidents().filter(severity_at_least(pl.col("severity"), self.min_severity))
        return build_report(summary_dict(self.pipeline.diag, self.pipeline.tally), shown, self.analysis.traces)

    def _add(self, events: pl.DataFrame) -> None:
        if events.height == 0:
            return
        self.analysis.add(events)
        found = self.analysis.last_found
        self.dirty = self.dirty or found.height > 0
        if self.echo:
            tags = dict(zip(zip(found.get_column("source"), found.get_column("line_no"), strict=True),
                            found.get_column("signature"), strict=True)) if found.height else {}
            self.sink.records(events, tags)

    def _flush(self) -> None:
        for inp in self.follower.inputs:
            self._add(self.pipeline.flush(inp))

    def _say(self, now: float, settled: bool, final: bool = False) -> None:
        """Pass on new warnings; compute incidents when due and report what changed.

        Due: new evidence, and the tick has passed or nothing is held any more (`settled`).
        """
        diag = self.pipeline.diag
        for message in diag.warnings[self.warned:]:
            self.sink.warn(message)
        self.warned = len(diag.warnings)
        for message in diag.source_warnings():
            if message not in self.source_warned:
                self.source_warned.add(message)
                self.sink.warn(message)
        incidents = None
        if self.dirty and (settled or now - self.computed_at >= self.limits.tick_seconds):
            incidents = self.analysis.incidents().filter(severity_at_least(pl.col("severity"), self.min_severity))
            self.dirty, self.computed_at = False, now
        changes = self.tracker.changes(now, incidents, self.analysis.traces, settled, final=final)
        if changes or incidents is not None:
            self.sink.changes(changes, self.tracker.board(now))
