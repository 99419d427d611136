"""Incidents kept up to date from new evidence alone (what `tail` computes; analyzer.live).

`LiveAnalysis` is `Analysis` (the same match, correlate and incident stage
functions) whose settled evidence is not kept: each time the log has moved
`settle` past some evidence (every request it may belong to has ended), those
rows are tied to their requests (`link_frames`, as scan ties them) and *folded*
into an `IncidentState`, then dropped. Rows of a request that still has rows
waiting wait with them, so one request's evidence is folded at once, and a
request is counted once per incident and service as scan counts it.

`IncidentState.fold` runs `build_incidents` over the folded rows alone and
merges the result into one row per incident: counts, records and affected
requests add up; first and last seen, request IDs (capped), examples (the
first MAX_EXAMPLES), the minute timeline and the per-service counts merge;
the rest keeps its first value. Window rules (storms, slow requests) keep their
rows in time buckets: the rows of the last `window` seconds of each rule, marked
once counted, so a window spanning two folds finds the rows it needs, and older
rows expire. A tick therefore costs the new evidence plus a merge over the
incidents, never a pass over all evidence.

An unknown error clustered by the template miner keeps the fingerprint it was
first folded under: when the miner generalizes its template later, the rows
that now resolve to the same cluster join that incident, so it is announced
once, under one key, whatever the miner learns after.

Where it can differ from `scan` (which sees all evidence at once): an incident
spread over several services counts the occurrences of each fold's busiest
service plus the others not seen again there (incidents.py), fold by fold, and
`service` is the one it was first felt by; duration percentiles are the
records-weighted mean of each fold's. State is bounded: evidence waits at most
`settle` (and at most `max_rows` rows), window buckets hold one window, the
trace table and the miner cap themselves, and the state holds one row per
incident.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from analyzer.analysis.correlate import LinkWindow, TraceLimits, Traces, link_frames
from analyzer.analysis.engine import Analysis, Settings
from analyzer.analysis.incidents import (
    INCIDENT_SCHEMA,
    MAX_EXAMPLES,
    MAX_REQUEST_IDS,
    UNKNOWN,
    WindowOverride,
    build_incidents,
    explained_requests,
    fingerprint,
    unknown_key,
    window_incidents,
    window_members,
)
from analyzer.analysis.owned_strings import own_strings
from analyzer.analysis.signatures import SignatureSet
from analyzer.miner import TemplateMiner

#: Tail ties evidence to its requests after this much log time (scan waits LinkWindow.max_request): live output
#: wants incidents soon; a request still running after it is not tied to the database records logged during it.
TAIL_SETTLE = timedelta(seconds=10)
#: Rows of a request that still has rows waiting wait with them, but not longer than this many `settle`s.
LONGEST_WAIT = 4
#: Evidence is folded when its oldest row has waited `settle` and this share of it more: each fold takes about
#: that share of `settle` worth of rows.
FOLD_STRIDE = 0.1
#: Traces over the table's cap before its oldest are cut (analyzer.analysis.correlate.TraceLimits.slack): a cut
#: copies the table, every batch once it is full without it.
TRACE_SLACK = 5_000
#: Explained requests remembered across folds (a request's records are folded within LONGEST_WAIT settles).
MAX_EXPLAINED = 100_000
_SUMMED = ("count", "records", "affected_requests")
_FIRST = ("signature", "key", "service", "captures", "template", "exception", "culprit", "level", "exc_type",
          "http_path")


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=INCIDENT_SCHEMA)


def _timelines(both: pl.DataFrame) -> pl.DataFrame:
    """Per fingerprint: the minute timeline of every row of `both`, counts of the same minute added."""
    minutes = both.select("fingerprint", "timeline").explode("timeline").drop_nulls("timeline").unnest("timeline")
    return minutes.group_by("fingerprint", "minute").agg(pl.col("count").sum()).sort("minute").group_by(
        "fingerprint").agg(pl.struct("minute", "count").alias("timeline"))


def _service_counts(both: pl.DataFrame) -> pl.DataFrame:
    """Per fingerprint: occurrences per service added up, busiest first (as incidents.py lists them)."""
    per = both.select("fingerprint", "service_counts").explode("service_counts").drop_nulls("service_counts")
    per = per.unnest("service_counts").group_by("fingerprint", "service").agg(pl.col("count").sum())
    return per.sort(["count", "service"], descending=[True, False], nulls_last=True).group_by(
        "fingerprint", maintain_order=True).agg(pl.struct("service", "count").alias("service_counts"),
                                                pl.col("service").alias("services"))


def merge(old: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """Unranked incidents of earlier evidence (`old`) and of the evidence after it (`new`), one row per fingerprint."""
    if old.height == 0:
        return new
    if new.height == 0:
        return old
    both = pl.concat([old, new], how="vertical_relaxed")
    weight = pl.col("records").filter(pl.col("duration_p50_ms").is_not_null())
    merged = both.group_by("fingerprint", maintain_order=True).agg(
        *(pl.col(name).drop_nulls().first() for name in _FIRST),
        *(pl.col(name).sum() for name in _SUMMED),
        pl.col("first_seen").min(),
        pl.col("last_seen").max(),
        pl.col("request_ids").list.explode(keep_nulls=False, empty_as_null=False).drop_nulls().unique(maintain_order=True).head(MAX_REQUEST_IDS),
        pl.col("examples").list.explode(keep_nulls=False, empty_as_null=False).drop_nulls().unique(maintain_order=True).head(MAX_EXAMPLES),
        ((pl.col("duration_p50_ms") * pl.col("records")).sum() / weight.sum()).alias("duration_p50_ms"),
        ((pl.col("duration_p95_ms") * pl.col("records")).sum() / weight.sum()).alias("duration_p95_ms"),
        pl.col("duration_max_ms").max(),
    )
    merged = merged.join(_timelines(both), on="fingerprint", how="left").join(
        _service_counts(both), on="fingerprint", how="left")
    return merged.select(pl.col(c).cast(t) for c, t in INCIDENT_SCHEMA.items())


class IncidentState:
    """Running per-incident aggregates and window buckets, updated from new evidence alone (see the module doc)."""

    def __init__(self, sigs: SignatureSet, overrides: dict[str, WindowOverride], miner: TemplateMiner) -> None:
        self.sigs = sigs
        self.overrides = overrides
        self.miner = miner
        self.table = _empty()  # one row per incident, unranked
        self.windows = pl.DataFrame()  # window rows of the last window of their rule; `_counted` once a member
        self.seq = 0  # numbers window rows, so that a member is counted once
        self.clusters: dict[tuple[int, str | None], str] = {}  # (current template id, culprit) -> fingerprint
        self.version = 0  # grows with every fold that changed something
        self.explained: OrderedDict[str, None] = OrderedDict()  # requests a signature explained, newest last
        self.aliases: dict[str, str] = {}  # fingerprint of a cluster that joined another -> the other's

    def fold(self, rows: pl.DataFrame) -> None:
        """Update the incidents with these evidence rows (tied to their requests, templates current, mined
        clusters named: `clustered`). Touches the miner not: it may run on another thread."""
        if rows.height == 0:
            return
        windowed = pl.col("kind") == "window"
        self._explain(explained_requests(rows))
        # an unknown error of a request a signature explained in an earlier fold is no incident either
        others = rows.filter(~windowed & ~((pl.col("kind") == "unknown") & pl.col("request_id").is_in(
            pl.Series(list(self.explained), dtype=pl.String).implode()).fill_null(False)))
        parts = [build_incidents(others, self.sigs, self.overrides)] if others.height else []
        parts.append(window_incidents(self._new_members(rows.filter(windowed))))
        partial = pl.concat(parts, how="vertical_relaxed")
        if partial.height == 0:
            return
        self.table = merge(self.table, self._stable(partial, others) if "_cluster" in others.columns else partial)
        self.version += 1

    def _explain(self, ids: pl.Series) -> None:
        """Remember these explained requests (the newest MAX_EXPLAINED)."""
        for rid in ids.unique(maintain_order=True).to_list():
            self.explained[rid] = None
            self.explained.move_to_end(rid)
        while len(self.explained) > MAX_EXPLAINED:
            self.explained.popitem(last=False)

    def _new_members(self, rows: pl.DataFrame) -> pl.DataFrame:
        """Window members not counted before, among the buckets and `rows`; the buckets then expire."""
        rows = rows.filter(pl.col("ts").is_not_null())  # an untimed row is in no window
        if rows.height == 0:
            return rows
        rows = rows.with_columns(
            (pl.int_range(pl.len()) + self.seq).alias("_seq"), pl.lit(False).alias("_counted"))
        self.seq += rows.height
        every = pl.concat([self.windows, rows], how="diagonal_relaxed") if self.windows.height else rows
        members = window_members(every, self.sigs, self.overrides)
        fresh = members.filter(~pl.col("_counted"))
        counted = pl.col("_counted") | pl.col("_seq").is_in(fresh.get_column("_seq").implode())
        every = every.with_columns(counted.alias("_counted"))
        span = {s.id: (self.overrides[s.id].window_seconds if s.id in self.overrides and
                       self.overrides[s.id].window_seconds else s.window_seconds) or 60.0 for s in self.sigs}
        newest = every.get_column("ts").max()
        reach = pl.duration(microseconds=(pl.col("signature").replace_strict(span, default=60.0) * 1e6).cast(pl.Int64))
        self.windows = own_strings(every.filter(pl.col("ts") >= pl.lit(newest) - reach))  # see `_settle`
        return fresh.drop("_seq", "_counted")

    def clustered(self, rows: pl.DataFrame) -> pl.DataFrame:
        """`rows` (templates current) with `_cluster`, the miner's current id of each mined unknown error's
        template; the known clusters renamed to their current ids too. Reads the miner: call it on the thread
        that feeds the miner, with no fold under way."""
        if self.clusters:  # templates may have generalized since: name each cluster by its current template
            known = list(self.clusters.items())
            now = self.miner.resolve(pl.Series([k[0] for k, _ in known], dtype=pl.UInt64)).get_column("template_id")
            clusters: dict[tuple[int, str | None], str] = {}
            joined: dict[str, str] = {}
            for ((old, culprit), fp), cur in zip(known, now.to_list(), strict=True):
                first = clusters.setdefault((cur if cur is not None else old, culprit), fp)
                if first != fp:
                    joined[fp] = first
            self.clusters = clusters
            if joined:  # two clusters became one: the later joins the one folded first
                self.aliases |= joined
                moved = pl.col("fingerprint").is_in(list(joined))
                self.table = merge(self.table.filter(~moved),
                                   self.table.filter(moved).with_columns(pl.col("fingerprint").replace(joined)))
                self.version += 1
        if "template_id" not in rows.columns or rows.get_column("template_id").null_count() == rows.height:
            return rows.with_columns(pl.lit(None, dtype=pl.UInt64).alias("_cluster"))
        current = self.miner.resolve(rows.get_column("template_id")).get_column("template_id")
        return rows.with_columns(pl.coalesce(current, pl.col("template_id")).alias("_cluster"))

    def _stable(self, partial: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
        """`partial` with each mined unknown cluster under the fingerprint it was first folded under."""
        mined = rows.filter((pl.col("kind") == "unknown") & pl.col("_cluster").is_not_null())
        if mined.height == 0:
            return partial
        renamed: dict[str, str] = {}
        for key, cluster, culprit in mined.group_by(unknown_key().alias("key"), maintain_order=True).agg(
                pl.col("_cluster").first(), pl.col("culprit").first()).iter_rows():
            fp = fingerprint(UNKNOWN, key)
            first = self.clusters.setdefault((cluster, culprit), fp)
            if first != fp:
                renamed[fp] = first
        if not renamed:
            return partial
        return partial.with_columns(pl.col("fingerprint").replace(renamed))


class LiveAnalysis(Analysis):
    """`Analysis` whose settled evidence is folded into an `IncidentState` and dropped (see the module doc).

    `add` as `Analysis.add`; `advance` settles by the wall clock too (log time stands still when the input
    is quiet); `current` is the ranked state; `incidents` folds everything still waiting first.
    """

    def __init__(self, sigs: SignatureSet, settings: Settings | None = None, *, max_rows: int = 50_000,
                 settle: timedelta = TAIL_SETTLE, **kwargs: Any) -> None:
        kwargs.setdefault("traces", Traces(TraceLimits(slack=TRACE_SLACK)))
        super().__init__(sigs, settings, settle=settle, **kwargs)
        self.state = IncidentState(sigs, self.settings.overrides, self.miner)
        self.max_rows = max_rows  # evidence rows that may wait; beyond, the oldest are folded at once
        self.last_found = pl.DataFrame()  # evidence of the last batch added (tags for --lines)
        self.arrived: tuple[float, datetime] | None = None  # (monotonic time, clock) when the clock last moved
        self.ranked_version = -1
        self.ranked_state = pl.DataFrame()
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="logscan-fold")
        self.folding: Future[None] | None = None  # the fold under way

    def add(self, events: pl.DataFrame) -> pl.DataFrame:
        before = self.clock
        self.last_found = super().add(events)
        if self.clock is not None and self.clock != before:
            self.arrived = (time.monotonic(), self.clock)
        return self.last_found

    def _waiting(self) -> int:
        return sum(part.height for part in self.pending)

    def _settle_due(self) -> bool:
        """Whether rows have waited `settle` (in strides of FOLD_STRIDE of it), or too many rows wait."""
        return self._waiting() > self.max_rows or self._due(self.clock)

    def _due(self, clock: datetime | None) -> bool:
        times = [t for t in self.pending_oldest if t is not None]
        if clock is None or not times:
            return False
        return min(times) < clock - self.settle * (1 + FOLD_STRIDE)  # type: ignore[operator]

    def advance(self, now: float) -> None:
        """Take in a finished fold; settle what has waited `settle` by the wall clock since the newest record came
        (`now`: monotonic)."""
        if self.folding is not None and self.folding.done():
            self._collect()
        if self.arrived is None or not self.pending:
            return
        clock = self.arrived[1] + timedelta(seconds=now - self.arrived[0])
        if self._due(clock):
            self._settle(clock)

    def _settle(self, clock: datetime | None = None, everything: bool = False) -> None:
        """Fold the rows older than `settle` (all with `everything`) on the worker: one fold at a time, the rows
        wait while one is under way (see the module doc). Only the parts that hold such rows are looked at."""
        if self.folding is not None:
            if not everything and not self.folding.done():
                return
            self._collect()
        clock = clock or self.clock
        cutoff = None if everything or clock is None else clock - self.settle  # type: ignore[operator]
        over = self._waiting() > self.max_rows
        ripe = [i for i, t in enumerate(self.pending_oldest) if everything or over or t is None or cutoff is None
                or t < cutoff]
        if not ripe:
            return
        pending = pl.concat([self.pending[i] for i in ripe], how="diagonal_relaxed")
        later = [self.pending[i] for i in range(len(self.pending)) if i not in ripe]
        later_oldest: list[datetime | None] = [self.pending_oldest[i] for i in range(len(self.pending)) if i not in ripe]
        if everything or cutoff is None:
            ready = pl.lit(True)
        else:
            keep = max(self.max_rows * 3 // 4 - sum(part.height for part in later), 0)
            # an unknown error waits until the errors that may explain its request (logged up to error_before after
            # it ended, then tied to it) are folded too
            late = (pl.col("kind") == "unknown") & (pl.col("ts") >= cutoff - LinkWindow().error_before)
            ready = pl.col("ts").is_null() | ((pl.col("ts") < cutoff) & ~late) | (pl.int_range(pl.len()) < pl.len() - keep)
            # rows of a request that still has rows waiting wait with them (not past LONGEST_WAIT)
            unready = pending.filter(~ready).get_column("request_id")
            open_ids = pl.concat([unready, *(part.get_column("request_id") for part in later)]).drop_nulls().unique()
            ready &= ~(pl.col("request_id").is_in(open_ids.implode()).fill_null(False)
                       & (pl.col("ts") >= clock - self.settle * LONGEST_WAIT))  # type: ignore[operator]
        marked = pending.with_columns(ready.alias("_ready"))
        settled, rest = marked.filter("_ready").drop("_ready"), marked.filter(~pl.col("_ready")).drop("_ready")
        if rest.height:
            rest = own_strings(rest)  # a filtered frame keeps every buffer it was cut from: rows wait fold after fold
            # due when its newest rows are; the rows held with them come along (LONGEST_WAIT at the latest)
            young = rest.filter(pl.col("ts") >= cutoff).get_column("ts").min() if cutoff is not None else None
            oldest = young if young is not None else rest.get_column("ts").min() + self.settle * (LONGEST_WAIT - 1)
            later, later_oldest = [rest, *later], [oldest, *later_oldest]
        self.pending, self.pending_oldest = later, later_oldest  # type: ignore[assignment]
        if settled.height == 0:
            return
        rows = self.state.clustered(self._current_templates(settled))
        if everything:
            self._fold(rows, self.traces.table)
        else:
            self.folding = self.worker.submit(self._fold, rows, self.traces.table)

    def _fold(self, rows: pl.DataFrame, traces: pl.DataFrame) -> None:
        """Tie `rows` to their requests (`traces`) and fold them (on the worker)."""
        self.state.fold(link_frames([rows], traces)[0])

    def _collect(self) -> None:
        """Wait for the fold under way."""
        if self.folding is not None:
            self.folding.result()  # an exception here is a bug: let it surface
            self.folding = None

    def current(self) -> pl.DataFrame:
        """The ranked incidents of the evidence folded so far (what this run shows: `visible`)."""
        if self.ranked_version != self.state.version:
            self.ranked_state = self.visible(self.ranked(self.state.table, self.traces.table, self.routes.stats()))
            self.ranked_version = self.state.version
        return self.ranked_state

    def incidents(self) -> pl.DataFrame:
        """Every evidence row folded (none waits any more), then `current`."""
        self._settle(everything=True)
        return self.current()

    def visible(self, incidents: pl.DataFrame) -> pl.DataFrame:
        """The incidents to say and report (all of them here; the tail command leaves out ignored ones)."""
        return incidents
