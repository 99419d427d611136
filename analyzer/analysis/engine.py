"""The stages after events, run batch by batch: match -> correlate -> incidents -> rank.

`Analysis.add` takes one batch of normalized events (from `Pipeline`), feeds
the trace table, matches the batch against the signature set and keeps its
evidence (see analyzer.analysis.incidents). Evidence waits in `pending` until the log
has moved `settle` past it (every request it may belong to has ended), is then
tied to its request (analyzer.analysis.correlate) while the bounded trace table still
holds that request, and is compacted in strides (`compact`: whole rows for the
examples and windows, text-less bulk rows for the rest).
`Analysis.incidents` turns what was collected into ranked incidents at any
moment, from a `Snapshot` (pending rows are linked on the fly): once at the
end for `scan`, on a worker thread for `tail` (analyzer.live). Both paths run
exactly these functions.

Only evidence is kept, never the whole event stream, so memory follows the
number of problems, not the size of the input; the trace table prunes itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, timedelta

import polars as pl

from analyzer.analysis.copies import Copies, copy_key
from analyzer.analysis.correlate import LinkWindow, Traces, link_frames
from analyzer.analysis.correlate import partial as trace_partial
from analyzer.analysis.exceptions import CULPRIT, EXCEPTION, RESERVED_KEYS, culprits
from analyzer.ingest.formats.common import exception_lines
from analyzer.analysis.owned_strings import own_strings
from analyzer.analysis.incidents import (
    EVIDENCE_EVENT_COLUMNS,
    MAX_EXAMPLES,
    UNKNOWN,
    build_incidents,
    clip_text,
)
from analyzer.analysis.match import match_events
from analyzer.analysis.ranking import rank
from analyzer.analysis.routes import RouteDurations
from analyzer.analysis.settings import Settings
from analyzer.analysis.signatures import SignatureSet
from analyzer.analysis.templates import template
from analyzer.miner import TemplateMiner
from analyzer.events import within_period

_ERROR_LEVELS = ("error", "critical")
COMPACT_EVERY = 50_000  # evidence rows between compactions
#: Evidence is linked to its requests for good once the newest record is this much later: by then every
#: request it may belong to has ended (LinkWindow.max_request), and the trace table still holds it
#: (TraceLimits.horizon is longer), however long the input.
SETTLE = LinkWindow().max_request


def _in_period(events: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    keep = within_period(settings.since, settings.until)
    return events if keep is None else events.filter(keep)


def _exception_fields(rows: pl.DataFrame) -> pl.DataFrame:
    """`exc_line` (the traceback's last `Type: message` line, read before clipping: it is at the end) and
    `culprit` (analyzer.analysis.exceptions) of each row."""
    text = rows.get_column("text")
    return rows.with_columns(exception_lines(text).alias("exc_line"), culprits(text).alias("culprit"))


def _exception_key(sig_key: list[str] | None) -> pl.Expr:
    """A match's key with the reserved parts its signature keys on (`exception`, `culprit`) appended."""
    parts = {EXCEPTION: template(pl.coalesce("exc_line", "exc_type")).fill_null(""), CULPRIT: pl.col("culprit").fill_null("")}
    return pl.concat_str([pl.col("key"), *(parts[name] for name in sig_key or () if name in parts)], separator="|")


def _unknown_templates(rows: pl.DataFrame, miner: TemplateMiner | None) -> pl.DataFrame:
    """`template` (and `template_id`) of unexplained errors: an exception's type and masked message; any other
    message's template from the miner (analyzer.miner), whose ids `Analysis` resolves again when templates
    generalize. Without a miner every message is masked (analyzer.analysis.templates)."""
    exception = pl.col("exc_line").is_not_null() | pl.col("exc_type").is_not_null()
    masked = template(pl.coalesce("exc_line", pl.concat_str("exc_type", pl.lit(": "), "message"), "message"))
    rows = rows.with_columns(masked.alias("template"), pl.lit(None, dtype=pl.UInt64).alias("template_id"))
    plain = rows.select((~exception).arg_true()).to_series()
    if miner is None or plain.len() == 0:
        return rows
    mined = miner.add(rows.get_column("message").gather(plain))
    return rows.with_columns(
        rows.get_column("template").scatter(plain, mined.get_column("template")),
        rows.get_column("template_id").scatter(plain, mined.get_column("template_id")),
    )


def evidence_of(events: pl.DataFrame, matches: pl.DataFrame, sigs: SignatureSet,
                miner: TemplateMiner | None = None) -> pl.DataFrame:
    """The rows of one batch later stages need: matched events, window-rule members, unexplained errors."""
    kinds = pl.DataFrame(
        {
            "signature": [s.id for s in sigs],
            "kind": ["window" if s.window_seconds else "point" for s in sigs],
            "_in_requests": [s.in_requests for s in sigs],
            "_by_exception": [[k for k in s.key if k in RESERVED_KEYS] or None for s in sigs],
        },
        schema={"signature": pl.String, "kind": pl.String, "_in_requests": pl.Boolean, "_by_exception": pl.List(pl.String)},
    )
    columns = events.select(EVIDENCE_EVENT_COLUMNS).with_row_index("row")
    matched = matches.join(kinds, on="signature", how="left").join(columns, on="row", how="inner")
    by_exception = pl.col("_by_exception").is_not_null()
    keyed = matched.filter(by_exception)
    if keyed.height:  # signatures that group their records by exception and culprit: the few rows they matched
        keyed = _exception_fields(keyed)
        keyed = pl.concat([
            part.with_columns(_exception_key(part.get_column("_by_exception")[0].to_list()).alias("key"))
            for part in keyed.partition_by("signature")
        ])
        matched = pl.concat([matched.filter(~by_exception), keyed], how="diagonal_relaxed")
    point_rows = matched.filter(pl.col("kind") == "point").get_column("row").unique()
    unexplained = _exception_fields(columns.filter(
        (pl.col("level").is_in(_ERROR_LEVELS) | pl.col("exc_type").is_not_null()) & ~pl.col("row").is_in(point_rows.implode())
    ))
    unexplained = _unknown_templates(unexplained, miner).with_columns(
        pl.lit("unknown").alias("kind"),
        pl.lit(UNKNOWN).alias("signature"),
        pl.lit("").alias("key"),
        pl.lit("{}").alias("captures"),
    )
    evidence = pl.concat([matched, unexplained], how="diagonal_relaxed").sort("row", maintain_order=True).drop("row", "_by_exception")
    # set when tied to its request (analyzer.analysis.correlate); "none" at once for signatures of records outside requests
    outside = (~pl.col("_in_requests")).fill_null(False) & pl.col("request_id").is_null()  # null: an unknown error
    linked_by = pl.when(outside).then(pl.lit("none")).otherwise(pl.lit(None, dtype=pl.String)).alias("linked_by")
    return own_strings(evidence.with_columns(clip_text(pl.col("text")), linked_by, copy_key()).drop("_in_requests"))


#: Evidence columns with few distinct values: stored as Categorical (4 bytes a row instead of a 16-byte view).
LOW_CARDINALITY = (
    "kind", "signature", "source", "service", "format", "level", "http_method", "exc_type", "linked_by",
)

#: What a signature match past its incident's examples still needs: to be counted (by line when untimed), timed
#: and tied to its request.
BULK_COLUMNS = (
    "kind", "signature", "service", "key", "ts", "source", "line_no", "format", "level", "request_id", "http_method",
    "http_path", "http_status", "duration_ms", "exc_type", "linked_by", "pid", "line_count",
)


def _categorical(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col(name).cast(pl.Categorical) for name in LOW_CARDINALITY if name in frame.columns)


def compact(evidence: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Evidence as it is kept between batches: (whole rows, bulk rows); bulky text only where a report shows it.

    Past the first MAX_EXAMPLES rows of an incident (signature, service, key or
    template) in the frame, a signature match only has to be counted, timed and
    tied to its request: it goes to the *bulk* frame with BULK_COLUMNS alone
    (a String column costs 16 bytes a row even when null, so the columns are
    dropped, not nulled). An unknown error past its template's examples keeps its
    template but loses its text. Window rows are short access/summary lines and
    stay whole (which rows fall in a storm window is only known at the end).
    Repetitive columns become Categorical; `expand` turns them back into String.
    """
    key = pl.coalesce("template", "key") if "template" in evidence.columns else pl.col("key")
    group = ["kind", "signature", "service", key]
    later = (pl.int_range(pl.len()).over(group) >= MAX_EXAMPLES) & (pl.col("kind") != "window")
    evidence = evidence.with_columns(later.alias("_later"))
    bulk = evidence.filter(pl.col("_later") & (pl.col("kind") == "point")).select(BULK_COLUMNS)
    whole = evidence.filter(~(pl.col("_later") & (pl.col("kind") == "point")))
    dropped = ("text", "message", "captures")  # line_no stays: untimed records are told apart by it (_sessions)
    whole = whole.with_columns(
        pl.when(pl.col("_later")).then(None).otherwise(pl.col(name)).alias(name) for name in dropped
    ).drop("_later")
    return _categorical(own_strings(whole)), _categorical(own_strings(bulk))


def expand(evidence: pl.DataFrame) -> pl.DataFrame:
    """Compacted evidence back to the plain String columns the later stages use."""
    return evidence.with_columns(pl.col(name).cast(pl.String) for name in LOW_CARDINALITY if name in evidence.columns)


def failed_requests(incidents: pl.DataFrame, traces: pl.DataFrame) -> pl.Series:
    """Per incident: how many of its requests (of those the trace table still holds) ended in a 5xx."""
    failed = traces.filter(pl.col("http_status") >= 500).select("request_id")
    per = (
        incidents.select("fingerprint", "request_ids").explode("request_ids")
        .join(failed, left_on="request_ids", right_on="request_id", how="semi")
        .group_by("fingerprint").agg(pl.len().cast(pl.Int64).alias("failed_requests"))
    )
    return incidents.select("fingerprint").join(per, on="fingerprint", how="left").get_column("failed_requests").fill_null(0)


def _concat(parts: list[pl.DataFrame]) -> pl.DataFrame:
    return pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame()


@dataclass(frozen=True)
class Snapshot:
    """What incidents are computed from, as of one moment.

    Frames are immutable, so another thread may compute from a snapshot while
    batches keep arriving (tail does; see analyzer.live).
    """

    kept: tuple[pl.DataFrame, ...]  # compacted evidence, whole rows
    bulk: tuple[pl.DataFrame, ...]  # compacted evidence, signature matches past their examples (BULK_COLUMNS)
    recent: tuple[pl.DataFrame, ...]  # evidence tied to its requests, not compacted yet
    pending: tuple[pl.DataFrame, ...]  # evidence too recent to be tied to its requests for good
    traces: pl.DataFrame
    routes: pl.DataFrame

    @property
    def rows(self) -> int:
        return sum(part.height for part in (*self.kept, *self.bulk, *self.recent, *self.pending))

    def whole(self) -> pl.DataFrame:
        """The whole rows as one frame with String columns."""
        return _concat([expand(part) for part in self.kept] + list(self.recent) + list(self.pending))

    def bulk_rows(self) -> pl.DataFrame:
        """The bulk rows as one frame (Categorical columns kept: the later stages read them as they are)."""
        return _concat(list(self.bulk))

    def evidence(self) -> pl.DataFrame:
        """All of it as one frame with String columns (bulk rows have no text)."""
        return _concat([self.whole(), *(expand(part) for part in self.bulk)])


@dataclass
class BatchPart:
    """What one batch leaves for the later stages, before it meets any state but the miner's: its trace
    partial aggregate, its latest record time, its evidence (not yet tied to requests), and the events
    themselves (None once shipped: analyzer.scale drops them)."""

    traces: pl.DataFrame
    latest: datetime | None
    evidence: pl.DataFrame
    events: pl.DataFrame | None = None
    # set when `traces` lacks rows the trace table prunes on arrival (analyzer.scale): the batch's trace rows
    # and their latest end (see Traces.add_partial)
    trace_rows: int | None = None
    trace_newest: datetime | None = None


def batch_part(events: pl.DataFrame, sigs: SignatureSet, settings: Settings,
               miner: TemplateMiner | None) -> BatchPart | None:
    """The stateless stages of `Analysis.add` for one batch (None when the time filter leaves nothing)."""
    events = _in_period(events, settings)
    if events.height == 0:
        return None
    traces = trace_partial(events)
    latest = events.get_column("ts").max()
    found = evidence_of(events, match_events(events, sigs), sigs, miner)
    return BatchPart(traces, latest, found, events)  # type: ignore[arg-type]


class Analysis:
    """Collects evidence and traces across batches; produces ranked incidents on demand."""

    def __init__(self, sigs: SignatureSet, settings: Settings | None = None, traces: Traces | None = None,
                 settle: timedelta = SETTLE) -> None:
        self.sigs = sigs
        self.settings = settings or Settings()
        self.traces = traces or Traces()
        self.routes = RouteDurations()
        self.kept: list[pl.DataFrame] = []  # compacted evidence, whole rows: one frame per COMPACT_EVERY rows
        self.bulk: list[pl.DataFrame] = []  # compacted evidence, bulk rows (see `compact`)
        self.recent: list[pl.DataFrame] = []  # evidence of the batches since the last compaction
        self.recent_rows = 0
        self.pending: list[pl.DataFrame] = []  # evidence not linked for good yet (see `_settle`)
        self.pending_oldest: list[datetime | None] = []  # each pending part's oldest record time
        self.clock: datetime | None = None  # the latest record time seen
        self.settle = settle
        self.miner = TemplateMiner()  # templates of unexplained messages that are not exceptions
        self.copies = Copies()  # database records already read from another file (counted once)
        # while a snapshot is out (tail): how many pending parts it holds; they, and `kept`, stay as they are
        self.frozen: int | None = None

    def add(self, events: pl.DataFrame) -> pl.DataFrame:
        """Match, correlate and keep the evidence of one batch; returns that batch's evidence."""
        part = batch_part(events, self.sigs, self.settings, self.miner)
        if part is None:
            return pl.DataFrame()
        self.routes.add(part.events)
        return self.absorb(part)

    def absorb(self, part: BatchPart) -> pl.DataFrame:
        """The bookkeeping of `add` for a batch whose pieces were computed elsewhere (`batch_part`, e.g. on
        another machine: analyzer.scale): feed the trace table, move the clock, keep the evidence, settle.
        `add` runs exactly this, so a replay of the same parts in the same order ends in the same state.
        Route durations are not touched (the caller adds or merges them)."""
        # first: this batch's records may belong to this batch's requests
        self.traces.add_partial(part.traces, part.trace_rows, part.trace_newest)
        latest = part.latest
        if latest is not None and (self.clock is None or latest > self.clock):  # type: ignore[operator]
            self.clock = latest  # type: ignore[assignment]
        found = self.copies.drop_copies(part.evidence)
        if found.height:
            self.pending.append(found)
            self.pending_oldest.append(found.get_column("ts").min())  # type: ignore[arg-type]
        if self._settle_due():
            self._settle()
        # pruned only now: a batch may span more than the horizon, and its first records settle against its
        # requests, which a prune by the batch's newest end would have dropped (how the table is fed, as a whole
        # batch or as the screen's kept records and the requests it revives, must not decide a link)
        self.traces.prune()
        return found

    def _settle_due(self) -> bool:
        """Whether the pending evidence it may settle holds rows `settle` old (checked in `settle / 4` strides)."""
        times = [t for t in self.pending_oldest[self.frozen or 0:] if t is not None]
        if self.clock is None or not times:  # no times: waiting would not help
            return sum(part.height for part in self.pending[self.frozen or 0:]) >= COMPACT_EVERY
        return min(times) < self.clock - self.settle * 1.25  # type: ignore[operator]

    def _settle(self) -> None:
        """Tie the pending rows older than `settle` to their requests for good and keep them; compact when enough.

        By then every request such a row may belong to has ended, and the trace table still holds it:
        linking at the end instead would only find the requests of the last minutes of a long input.
        While a snapshot is out (`frozen`), its pending parts stay as they are and nothing is
        compacted.
        """
        start = self.frozen or 0
        pending = pl.concat(self.pending[start:], how="diagonal_relaxed")
        ready = pl.col("ts").is_null()
        if self.clock is not None:
            ready |= pl.col("ts") < self.clock - self.settle  # type: ignore[operator]
        settled, rest = pending.filter(ready), pending.filter(~ready)
        self.pending[start:] = [rest] if rest.height else []
        self.pending_oldest[start:] = [rest.get_column("ts").min()] if rest.height else []  # type: ignore[list-item]
        if settled.height == 0:
            return
        self.recent.append(link_frames([settled], self.traces.table)[0])
        self.recent_rows += settled.height
        if self.recent_rows >= COMPACT_EVERY and self.frozen is None:
            whole, bulk = compact(pl.concat(self.recent, how="diagonal_relaxed"))  # the new rows only
            self.kept.append(whole)
            if bulk.height:
                self.bulk.append(bulk)
            self.recent, self.recent_rows = [], 0

    def snapshot(self) -> Snapshot:
        return Snapshot(tuple(self.kept), tuple(self.bulk), tuple(self.recent), tuple(self.pending),
                        self.traces.table, self.routes.stats())

    def incidents(self) -> pl.DataFrame:
        """Ranked incidents with their signatures' explanations (see analyzer.report.model for the fields)."""
        return self.incidents_of(self.snapshot())

    def incidents_of(self, snapshot: Snapshot) -> pl.DataFrame:
        """`incidents()` as of `snapshot` (safe on another thread)."""
        return self._ranked(snapshot.whole(), snapshot.traces, snapshot.routes, snapshot.bulk_rows())

    def point_incidents(self, evidence: pl.DataFrame) -> pl.DataFrame:
        """Ranked incidents of these evidence rows' signature matches alone, with the counts they hold.

        What tail announces the moment a known problem arrives: a point match needs no window or
        history to be an incident (storms and unknown clusters wait for the full computation).
        """
        rows = evidence.filter(pl.col("kind") == "point") if evidence.height else evidence
        return self._ranked(rows, self.traces.table, self.routes.stats())

    def _ranked(self, evidence: pl.DataFrame, traces: pl.DataFrame, routes: pl.DataFrame,
                bulk: pl.DataFrame | None = None) -> pl.DataFrame:
        more = [bulk] if bulk is not None and bulk.height else []
        evidence, *more = link_frames([evidence, *more], traces)  # empty frames pass through untouched
        evidence = self._current_templates(evidence)
        incidents = build_incidents(evidence, self.sigs, self.settings.overrides, bulk=more[0] if more else None)
        return self.ranked(incidents, traces, routes)

    def ranked(self, incidents: pl.DataFrame, traces: pl.DataFrame, routes: pl.DataFrame) -> pl.DataFrame:
        """Unranked incidents (`build_incidents`) with their routes' durations, failed requests and signatures'
        explanations, ranked."""
        incidents = incidents.join(routes, on=["service", "http_path"], how="left", nulls_equal=False)
        incidents = incidents.with_columns(failed_requests(incidents, traces))
        return rank(self._explained(incidents), min_severity=self.settings.min_severity)

    def _current_templates(self, evidence: pl.DataFrame) -> pl.DataFrame:
        """Mined templates as the miner knows them now: an earlier batch's template may have generalized since."""
        if "template_id" not in evidence.columns or evidence.get_column("template_id").null_count() == evidence.height:
            return evidence
        now = self.miner.resolve(evidence.get_column("template_id"))
        return evidence.with_columns(pl.coalesce(now.get_column("template"), pl.col("template")).alias("template"))

    @cached_property
    def _meta(self) -> pl.DataFrame:
        """Each signature's title, severity, role, cause, fix, docs and leads_to (built once: tail ranks its
        incidents several times a second)."""
        return pl.DataFrame(
            [
                {
                    "signature": s.id, "title": s.title, "severity": s.severity, "role": s.role,
                    "cause": s.cause, "fix": list(s.fix), "docs": list(s.docs), "leads_to": list(s.leads_to),
                }
                for s in self.sigs
            ],
            schema={
                "signature": pl.String, "title": pl.String, "severity": pl.String, "role": pl.String,
                "cause": pl.String, "fix": pl.List(pl.String), "docs": pl.List(pl.String), "leads_to": pl.List(pl.String),
            },
        )

    @cached_property
    def _by_exception(self) -> list[str]:
        """Signatures keyed by their exception."""
        return [s.id for s in self.sigs if EXCEPTION in s.key]

    def _explained(self, incidents: pl.DataFrame) -> pl.DataFrame:
        """Join each incident with its signature's title, severity, role, cause, fix, docs, leads_to."""
        joined = incidents.join(self._meta, on="signature", how="left")
        unknown = pl.col("signature") == UNKNOWN
        by_exception = pl.col("signature").is_in(self._by_exception)
        return joined.with_columns(
            pl.when(pl.col("exception").is_not_null() & (unknown | by_exception)).then(pl.col("exception").str.slice(0, 120))
            .when(unknown).then(pl.concat_str(pl.lit("Unknown error: "), pl.col("template").str.slice(0, 120)))
            .otherwise(pl.col("title")).alias("title"),
            pl.when(unknown).then(pl.when(pl.col("level") == "critical").then(pl.lit("high")).otherwise(pl.lit("medium")))
            .otherwise(pl.col("severity")).alias("severity"),
            pl.when(unknown).then(pl.lit("cause")).otherwise(pl.col("role")).alias("role"),
            pl.when(unknown).then(pl.lit(
                "No signature knows this error. It is grouped with errors of the same type and message template "
                "so that it is seen, not dropped."
            )).otherwise(pl.col("cause")).alias("cause"),
            pl.col("fix").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            pl.col("docs").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            pl.col("leads_to").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        )
