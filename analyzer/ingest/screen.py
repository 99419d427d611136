"""Screen: which framed records can matter to an analysis, found in one cheap pass before anything is parsed.

Full normalization (request fields, request IDs, exception types, ranges)
and the analysis after it (traces, routes, matching) cost 10-20 vectorized
passes a record, and all but a few percent of production records can never
match a signature or a window rule. So the ingest stage (analyzer.ingest.pipeline)
screens every batch of records first and normalizes fully only the records
the screen keeps; the others are read just far enough for what the summary
counts (format, service, time, unparsed records: `parse_records(light=True)`)
and never reach the analysis. `scan --exhaustive` turns the screen off; a
differential test (tests/test_screen.py) keeps both modes' reports identical.

A record is kept when it is a *candidate*: anything a signature or a rule
of the compiled set can select. That is, derived from the set itself (so a
user's signature widens the screen by itself):

* it holds one of the signatures' keywords (the same literal alternation the
  match stage's prefilter runs);
* it reads like level warning or above (a level word anywhere: a superset of
  what every format's level parser maps to warning, error or critical);
* it tells an HTTP status of 400 or above where the request model reads a
  status (an access message, a `status=` key, a request line);
* it holds a traceback's start, or its first line is an exception line alone
  (what gives `exc_type`);
* a duration field appears and its value reaches the smallest duration any
  keyword-less signature asks for (the number is read only where the key is);
* a keyword-less signature that none of the above covers adds its own
  pattern; one without a pattern or a covering condition turns the screen off.

Kept too, so that what later stages build is the same:

* records that name a request ID a candidate named (the other records of the
  requests it touches; the IDs are remembered, bounded, for later batches);
* records with a duration and a path (the per-route latency the report shows
  beside a slow incident is built from every such record);
* the records of the requests the correlate stage may tie a kept record
  without an ID to (`requests_to_link`: an access line's request by its end,
  an error's nearest requests that never logged a status, a database record's
  requests in flight), weighed only as far as the correlate stage weighs them.

The pipeline holds the dropped records that name a request for as long as the
trace table keeps an unmarked request (its `lookback`), and revives them,
fully parsed and before the batch's own records, when a later kept record
names their request or may be tied to it: so a request cut by a batch edge, a
service printed after another, or a second input whose times start over gives
the same traces either way.

Formats whose event text is not the record as written (JSON and CSV ones
decode or re-render it) or whose parser reads fields the screen does not
see (gunicorn's access log: trailing durations) are never screened: their
records are always kept.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

import polars as pl
import regex

from analyzer.analysis.correlate import CANDIDATES_PER_RECORD, LinkWindow
from analyzer.ingest.formats import DATABASE_FORMATS
from analyzer.ingest.formats.base import Format
from analyzer.ingest.formats.common import (
    BARE_EXCEPTION,
    DURATION_PATTERN,
    REQUEST_ID_KEY,
    durations_ms,
    on_rows,
    request_ids,
)

if TYPE_CHECKING:
    from analyzer.analysis.signatures import Signature, SignatureSet

#: Formats the screen never drops a record of (their event text or fields are not what the raw record shows).
UNSCREENED: Final = frozenset({"json", "loguru_json", "postgres_json", "postgres_csv", "gunicorn_access"})

_RUST_META = regex.compile(r"([\\.+*?()|\[\]{}^$#&\-~])")
#: Level words that every format maps to warning or above (analyzer.ingest.formats.common.LEVEL_MAP), as they
#: are written: upper case, lower case or capitalized (logfmt's and alembic's variants included: WARNI, CRITI).
_LEVEL_WORDS: Final = ("WARN", "ERR", "FATAL", "PANIC", "CRIT", "ALERT", "EMERG", "EXCEPTION", "FAILED")
LEVEL: Final = "|".join(w for word in _LEVEL_WORDS for w in dict.fromkeys((word, word.lower(), word.capitalize())))
#: Where the request model (analyzer.ingest.formats.common.request_fields, access_fields) reads a status, with a
#: status of 400 or above (or one out of range, which the range check counts): an access message, a status key,
#: a request line anywhere.
STATUS: Final = (
    r'HTTP/[0-9.]+" [04-9]'
    r"""|status(?:_code|code)?['"]?\s*[=:]\s*['"]?[45]"""
    r'|(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /[^\s"]*(?: HTTP/[0-9.]+"?| (?:1\.[01]|2|3)"|"?)(?: -+>| =>| ->|:)? '
    r"(?:status(?:_code)?=)?[45][0-9][0-9](?: |$|,)"
)
TRACEBACK: Final = r"Traceback \(most recent call last\):"
#: A duration key (analyzer.ingest.formats.common.DURATION_PATTERN's keys, PostgreSQL's `duration: `): only
#: records where it appears have their durations read.
DURATION_WORDS: Final = (
    r"[Dd]uration|DURATION|[Ee]lapsed|ELAPSED|[Tt]ook|TOOK|[Ll]atency|LATENCY|_time|time_|_TIME|TIME_|_taken|_TAKEN"
)
#: A request ID key (analyzer.ingest.formats.common.REQUEST_ID_PATTERN's own, so that a key added there counts here).
_ID_WORDS: Final = REQUEST_ID_KEY
_LEVELS_ABOVE: Final = frozenset({"warning", "error", "critical"})
MAX_REMEMBERED_IDS: Final = 100_000
#: Where at least this share of a batch's records named a request, the next batch's IDs are read from every
#: record at once: finding the key first costs a pass of its own that then spares little.
DIRECT_IDS_SHARE: Final = 0.5


def _escape(literal: str) -> str:
    return _RUST_META.sub(r"\\\1", literal)


def _lower_bound(sig: Signature, column: str) -> float | None:
    """The least value `column` may take under `sig`'s conditions (None: no condition bounds it from below)."""
    least = None
    for cond in sig.when:
        if cond.column != column:
            continue
        found = None
        if cond.any_of:
            found = min(float(v) for v in cond.any_of)
        for op, value in cond.bounds:
            if op in ("gte", "gt"):
                found = value if found is None else max(found, value)
        if found is not None:
            least = found if least is None else max(least, found)
    return least


class Screen:
    """The candidate test of one compiled signature set, plus the request IDs candidates named (state)."""

    def __init__(self, sigs: SignatureSet | Iterable[Signature]) -> None:
        signatures = tuple(sigs)
        keywords = tuple(dict.fromkeys(kw for sig in signatures for kw in sig.keywords))
        self.min_duration: float | None = None  # ms; None: no rule looks at durations alone
        self.patterns: list[str] = []  # patterns of keyword-less signatures the rest does not cover
        self.enabled = True
        for sig in signatures:
            if sig.keywords:
                continue
            level = next((c for c in sig.when if c.column == "level" and c.any_of), None)
            if level is not None and set(level.any_of) <= _LEVELS_ABOVE:
                continue
            status = _lower_bound(sig, "http_status")
            if status is not None and status >= 400:
                continue
            if any(c.column == "exc_type" for c in sig.when):
                continue
            duration = _lower_bound(sig, "duration_ms")
            if duration is not None:
                self.min_duration = duration if self.min_duration is None else min(self.min_duration, duration)
                continue
            if sig.pattern is None:
                self.enabled = False  # it selects by a field the screen cannot see: every record may matter
                continue
            self.patterns.append(sig.pattern)  # a pass of its own: its named groups clash with no other pattern
        parts = [*(_escape(kw) for kw in keywords), LEVEL, STATUS, TRACEBACK]
        self.pattern = "|".join(f"(?:{p})" for p in parts)
        self.touched: OrderedDict[str, None] = OrderedDict()  # request IDs candidates named, newest last
        self.ids = pl.Series("request_id", [], dtype=pl.String)  # the request ID each record of the last batch names
        self.named_share = 0.0  # the share of the last batch's records that named a request

    def keep(self, records: pl.DataFrame, formats: tuple[Format, ...]) -> pl.Series:
        """Which of a batch of framed records (analyzer.ingest.framing: `fmt`, `head`, `text`) are kept."""
        n = records.height
        if not self.enabled or n == 0:
            return pl.repeat(True, n, eager=True)
        text, head = pl.col("text"), pl.col("head")
        candidate = text.str.contains(self.pattern).fill_null(True)
        for pattern in self.patterns:
            candidate = candidate | text.str.contains(pattern).fill_null(True)
        # a line that is an exception line alone (a traceback's tail cut off by other writers' lines): a plain
        # record of it has an exception type (analyzer.ingest.normalize), whichever format its line was first given
        candidate = candidate | head.str.contains(BARE_EXCEPTION).fill_null(True)
        # the request each record names (its text's own; the JSON formats are kept): read from every record
        # where most of the last batch's named one, else only where a key is found first
        direct = self.named_share >= DIRECT_IDS_SHARE
        # the tests on every record, in one call: Polars runs independent expressions side by side
        candidate, timed, *named = records.select(
            candidate,
            text.str.contains(DURATION_WORDS).fill_null(False).alias("timed"),
            *(() if direct else (head.str.contains(_ID_WORDS).fill_null(False).alias("named"),)),
        ).get_columns()
        timed = timed & ~candidate
        with_path = timed
        text = records.get_column("text")
        if timed.any():
            slow, with_path = self._timed(text, timed)
            candidate = candidate | slow
        head = records.get_column("head")
        if direct or named[0].all():
            ids = request_ids(head)
        else:
            ids = on_rows(named[0], request_ids(head.filter(named[0])), None)
        self.named_share = ids.is_not_null().mean() or 0.0
        self.remember(ids.filter(candidate).drop_nulls().unique().to_list())
        keep = candidate | with_path
        unscreened = [code for code, fmt in enumerate(formats) if fmt.name in UNSCREENED]
        if unscreened:
            keep = keep | records.get_column("fmt").is_in(unscreened)
        if self.touched and not keep.all():
            keep = keep | ids.is_in(pl.Series(list(self.touched), dtype=pl.String).implode()).fill_null(False)
        self.ids = ids
        return keep

    def _timed(self, text: pl.Series, rows: pl.Series) -> tuple[pl.Series, pl.Series]:
        """Among `rows`: those where a duration reaches the threshold, and those with a duration and a path."""
        found = text.filter(rows).to_frame("t").with_row_index("i").select(
            "i", pl.col("t").str.extract_all(DURATION_PATTERN).alias("m")
        ).explode("m").drop_nulls("m")
        per = found.select("i").with_columns(durations_ms(found.get_column("m")).alias("ms"))
        per = per.filter(pl.col("ms").is_not_null()).group_by("i").agg(pl.col("ms").max())
        at = rows.arg_true()
        none = pl.repeat(False, len(text), eager=True)
        if per.height == 0:
            return none, none
        idx = per.get_column("i")
        slow = per.get_column("ms") >= self.min_duration if self.min_duration is not None else None
        path = text.gather(at.gather(idx)).str.contains("/", literal=True)
        slow_rows = none.clone().scatter(at.gather(idx.filter(slow)), True) if slow is not None else none
        path_rows = none.clone().scatter(at.gather(idx.filter(path)), True)
        return slow_rows, path_rows

    def remember(self, ids: list[str]) -> None:
        """Keep the records of these requests from now on (bounded: the oldest IDs are forgotten first)."""
        for rid in ids:
            self.touched[rid] = None
            self.touched.move_to_end(rid)
        while len(self.touched) > MAX_REMEMBERED_IDS:
            self.touched.popitem(last=False)


#: How far apart a record without a request ID and a request may be for the correlate stage to tie them.
_WINDOW: Final = LinkWindow()


def _marks(ends: pl.Series, lo: pl.Series, hi: pl.Series) -> pl.Series:
    """Indices into `ends` (sorted) of the values within any [lo, hi] (the windows merged first, so that
    each index comes out once however many windows overlap)."""
    windows = pl.DataFrame({"lo": lo, "hi": hi}).sort("lo")
    reach = pl.col("hi").cum_max()
    windows = windows.with_columns((pl.col("lo") > reach.shift(1)).fill_null(True).cum_sum().alias("g"))
    merged = windows.group_by("g").agg(pl.col("lo").min(), pl.col("hi").max())
    start = ends.search_sorted(merged.get_column("lo"), side="left")
    stop = ends.search_sorted(merged.get_column("hi"), side="right")
    frame = pl.DataFrame({"a": start, "b": stop}).filter(pl.col("b") > pl.col("a"))
    if frame.height == 0:
        return pl.Series("i", [], dtype=pl.Int64)
    return frame.select(pl.int_ranges("a", "b").explode().alias("i")).to_series()


def _nearest(pairs: pl.DataFrame) -> pl.Series:
    """Per record (`orphan`), its candidate requests (`request_id`, `distance`, `sure`) up to the distance where
    CANDIDATES_PER_RECORD of them are `sure` to be eligible: the correlate stage ranks a record's requests by
    distance (after kinds of request the kept records are themselves) and weighs only that many."""
    pairs = pairs.sort("orphan", "distance").with_columns(
        pl.col("sure").cast(pl.Int32).cum_sum().over("orphan").alias("_n")
    )
    limit = pairs.filter(pl.col("_n") >= CANDIDATES_PER_RECORD).group_by("orphan").agg(pl.col("distance").min().alias("_limit"))
    pairs = pairs.join(limit, on="orphan", how="left")
    return pairs.filter(pl.col("_limit").is_null() | (pl.col("distance") <= pl.col("_limit"))).get_column("request_id")


def requests_to_link(kept: pl.DataFrame, rest: pl.DataFrame) -> pl.Series:
    """The request IDs, among the records the screen dropped (`rest`: `request_id`, `ts`, `service`,
    `maybe_status`), of the requests the correlate stage may tie a kept record without an ID to
    (analyzer.analysis.correlate): access lines (of a status under 400; one of 400 or above goes with a
    request of that status, kept already) by the request's end; errors by the end of the nearest requests of
    their service that never logged a status; database records by the requests in flight, nearest first.
    A superset: which request wins is the correlate stage's choice, made on the same traces. The requests of
    services that log no IDs (the 5xx access lines themselves, analyzer.analysis.correlate `seen_id`) need
    nothing here: a status of 500 or above makes a record a candidate, kept already."""
    orphans = kept.filter(pl.col("request_id").is_null() & pl.col("ts").is_not_null()).with_row_index("orphan")
    spans = rest.filter(pl.col("request_id").is_not_null() & pl.col("ts").is_not_null())
    if orphans.height == 0 or spans.height == 0:
        return pl.Series("request_id", [], dtype=pl.String)
    spans = spans.group_by("request_id").agg(
        pl.col("service").first(), pl.col("ts").min().alias("first"), pl.col("ts").max().alias("last"),
        (~pl.col("maybe_status").any()).alias("sure"),  # never logged a status: unfinished for sure
    ).sort("last")
    found: list[pl.Series] = []
    database = pl.col("format").is_in(DATABASE_FORMATS)
    error = pl.col("level").is_in(["error", "critical"]) | pl.col("exc_type").is_not_null()
    window = _WINDOW
    access = orphans.filter(pl.col("http_status") < 400)
    for (service,), part in access.partition_by("service", as_dict=True).items() if access.height else ():
        mine = spans.filter(pl.col("service") == service)
        ts = part.get_column("ts")
        found.append(mine.get_column("request_id").gather(_marks(mine.get_column("last"), ts - window.access, ts + window.access)))
    errors = orphans.filter(pl.col("http_status").is_null() & ~database & error)
    for (service,), part in errors.partition_by("service", as_dict=True).items() if errors.height else ():
        mine = spans.filter(pl.col("service") == service)
        last = mine.get_column("last")
        ts = part.get_column("ts")
        start = last.search_sorted(ts - window.error_before, side="left")
        stop = last.search_sorted(ts + window.error_after, side="right")
        pairs = part.select("orphan", "ts").with_columns(start.alias("a"), stop.alias("b")).filter(pl.col("b") > pl.col("a"))
        if pairs.height:
            pairs = pairs.select("orphan", "ts", pl.int_ranges("a", "b").alias("i")).explode("i")
            at = pairs.get_column("i")
            pairs = pairs.with_columns(
                mine.get_column("request_id").gather(at).alias("request_id"), mine.get_column("sure").gather(at).alias("sure"),
                (last.gather(at) - pairs.get_column("ts")).abs().alias("distance"),
            )
            found.append(_nearest(pairs))
    rows = orphans.filter(pl.col("http_status").is_null() & database)
    if rows.height:  # in flight for all of the statement: started before it began, ended after it ended
        windows = rows.select(
            "orphan", pl.col("ts").alias("at"), (pl.col("ts") - window.in_flight).alias("lo"),
            (pl.col("ts") + window.max_request).alias("hi"),
            (pl.col("ts") - pl.duration(milliseconds=pl.col("duration_ms").fill_null(0)) + window.in_flight).alias("began"),
        )
        pairs = spans.join_where(windows, pl.col("last") >= pl.col("lo"), pl.col("first") <= pl.col("began"))
        pairs = pairs.filter(pl.col("last") <= pl.col("hi")).select(
            "orphan", "request_id", (pl.col("last") - pl.col("at")).abs().alias("distance"), pl.lit(True).alias("sure")
        )
        if pairs.height:
            found.append(_nearest(pairs))
    if not found:
        return pl.Series("request_id", [], dtype=pl.String)
    return pl.concat(found).unique()
