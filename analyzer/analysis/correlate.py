"""Correlate stage: events -> request traces, and ID-less records tied back to their request.

A *trace* is everything logged under one `request_id`: the services involved,
when it started and ended, its HTTP method/path/status, its duration, its
first error, and its first few events. Traces are built batch by batch as
partial aggregates that merge associatively (`Traces.add`), so the batch path
and `tail` share them; old traces that nothing points at are pruned, so the
table stays bounded however long the input.

Many records that belong to a request carry no ID: uvicorn's access line,
uvicorn's `Exception in ASGI application` traceback (logged after the request
context is gone), the database's own error. `link_frames` ties them back
where the evidence allows, and says how (`linked_by`: "own" for an ID the
record carried, "none" when nothing fits, else how):

* access lines: the request of the same service with the same method, path
  and status that ended at (nearly) the same moment;
* errors of a service that logs request IDs: the nearest failed request of
  that service (or one that never logged its status: a worker killed with
  it), within seconds, one error per request first;
* database records (PostgreSQL logs no request IDs): the request, of any
  service, that was in flight when the record was written (and, for a
  statement with a duration, for all of it), preferring a failed request for
  an error, then one of the service its application name names (`%a`:
  `app=ledger-web` serves `web`), then a request not yet linked; a record
  timed in whole seconds (`%t`) may have been written at any moment of its
  second;
* access lines of a service that logs no request IDs at all (plain uvicorn,
  hypercorn, Granian, gunicorn's default access log): each one of a failed
  (5xx) or refused (4xx) request is a request of its own, *seen in the access
  log* (`seen_id`: named by where its access line is, never shown as an ID
  the app logged), and is tied to it; a 2xx or 3xx is none (nothing there
  needs a request to count). One line per request: where the app logs each
  request beside the server's access line, the access line is the request
  (`request_pairs`). A storm of 4xx on such a service so counts the requests
  it affected (`failed` stays a 5xx: a refused request did not fail on the
  server);
* errors of such a service: the nearest request of that service its access
  log shows failing (a 5xx, never a 4xx), of the same process when both
  records name theirs, within the same seconds (in a log without times:
  within `LinkWindow.lines` lines of the same file), one error per request
  first. The server may print the access line before the traceback or after
  it: the nearest wins, then the nearest in lines of the same file (logs
  timed in whole seconds). A database record is offered such a request (a
  failed one first, for an error) only when its access line told a duration
  (else nothing shows the statement ran within it);
* records of other services without IDs (workers, jobs) stay unlinked: no
  evidence ties them to a request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from analyzer.events import UTC_TS
from analyzer.ingest.formats import DATABASE_FORMATS
from analyzer.analysis.owned_strings import own_strings
from analyzer.vocabulary import SEEN_PREFIX

TRACE_EVENTS = 12  # events kept per trace, for the report's trace view
TRAIL_MESSAGE_CHARS = 200
DETACH_EVERY = 16  # batches between copies of the trace table into buffers of its own

TRACE_SCHEMA: dict[str, pl.DataType] = {
    "request_id": pl.String(),
    "services": pl.List(pl.String),
    "start": UTC_TS,
    "end": UTC_TS,
    "http_method": pl.String(),
    "http_path": pl.String(),
    "http_status": pl.Int32(),
    "duration_ms": pl.Float64(),
    "first_error": pl.String(),
    "pid": pl.Int64(),  # the process of its first record that names one (a request seen in the access log: its line's)
    "events": pl.Int64(),
    "notable": pl.Boolean(),
    "trail": pl.String(),  # the first TRACE_EVENTS events, one JSON object per line (ts, service, level, message)
}


@dataclass(frozen=True)
class TraceLimits:
    """Bounds on the trace table: notable traces (an error, a warning, a 4xx/5xx) are kept, the rest age out.

    At most `max_traces` rows of at most TRACE_EVENTS short events each: about
    100 MB in the worst case, whatever the input size.
    """

    horizon: timedelta = timedelta(minutes=10)  # un-notable traces older than this (vs. newest) are dropped
    max_traces: int = 50_000  # hard cap; the oldest go first
    # rows the table may hold over `max_traces` before the oldest are cut back to it: the cut copies the whole
    # table, so tail (a batch every few tens of milliseconds) lets it grow a little between cuts; scan: none
    slack: int = 0


@dataclass(frozen=True)
class LinkWindow:
    """How far apart (in time) a record and its request may be to be linked."""

    access: timedelta = timedelta(seconds=2)
    error_before: timedelta = timedelta(seconds=5)
    error_after: timedelta = timedelta(seconds=1)
    in_flight: timedelta = timedelta(milliseconds=100)
    max_request: timedelta = timedelta(minutes=2)  # longest request considered in flight
    lines: int = 10  # records without a time: how many lines from an error its access line may be (other writers')


def empty_traces() -> pl.DataFrame:
    return pl.DataFrame(schema=TRACE_SCHEMA)


def _is_error(frame_level: pl.Expr) -> pl.Expr:
    return frame_level.is_in(["error", "critical"])




def seen_id(source: pl.Expr, line_no: pl.Expr) -> pl.Expr:
    """The name of the request an access line without an ID tells: where that line is (stable, unique per input)."""
    return pl.concat_str(pl.lit(SEEN_PREFIX), source.cast(pl.String), pl.lit(":"), line_no.cast(pl.String))


def is_seen(request_id: pl.Expr) -> pl.Expr:
    """Requests seen only in an access log (`seen_id`), not named by an ID the application logged."""
    return request_id.str.starts_with(SEEN_PREFIX)


def shift_seen(request_id: pl.Expr, lines: int) -> pl.Expr:
    """`seen_id`s named `lines` lines on (other IDs as they are): a byte range read on its own counts its lines
    from 1, and analyzer.scale moves them on once it knows the lines before the range."""
    line = _seen_line(request_id) + lines
    moved = pl.concat_str(request_id.str.replace(r"[0-9]+$", ""), line.cast(pl.String))
    return pl.when(is_seen(request_id)).then(moved).otherwise(request_id)


#: How far apart an access line and the application's own line of one request may be written.
SAME_REQUEST_SECONDS = 1
ACCESS_LINE = r'HTTP/[0-9.]+" [0-9]{3}'  # `"GET /x HTTP/1.1" 200`: written by the server, not the application
_SAME_REQUEST = ("service", "http_method", "http_path", "http_status")


def request_pairs() -> tuple[list[str], pl.Expr, pl.Expr, pl.Expr]:
    """For rows in time order, an access line and the application's own line of one request (a middleware's
    `POST /orders status=500 duration=18ms`): the columns they share, whether a row is the server's access line,
    its rank among the rows of its kind sharing them, and whether it has its one partner of the other kind
    (the n-th of each kind, written within SAME_REQUEST_SECONDS of each other)."""
    same = list(_SAME_REQUEST)
    kind = pl.col("message").str.contains(ACCESS_LINE).fill_null(False)
    nth = pl.int_range(pl.len()).over(*same, kind)
    pair = [*same, nth]
    spread = pl.col("ts").max().over(pair) - pl.col("ts").min().over(pair)
    paired = (pl.len().over(pair) == 2) & (spread <= pl.duration(seconds=SAME_REQUEST_SECONDS)).fill_null(False) \
        & pl.col("http_status").is_not_null()
    return same, kind, nth, paired


def _seen_requests(events: pl.DataFrame) -> pl.Series:
    """Which access lines without an ID are a request of their own (`seen_id`): one that failed (a 5xx), which
    an error of a service that logs no IDs may be tied to (`_link_orphans`), or one the server refused (a 4xx),
    which a storm of them counts; never a 2xx or 3xx. One per request, so not the application's own line of a
    request whose access line the server wrote too (`request_pairs`)."""
    seen = (
        pl.col("request_id").is_null() & (pl.col("http_status") >= 400) & pl.col("http_method").is_not_null()
        & pl.col("line_no").is_not_null()
    )
    rows = events.select(seen.alias("_s"))
    if not rows.get_column("_s").any():
        return rows.get_column("_s")
    _, kind, _, paired = request_pairs()
    candidates = events.with_row_index("_i").filter(seen).with_columns(kind.alias("_kind"))
    kinds = candidates.get_column("_kind")
    if kinds.all() or not kinds.any():  # a pair needs a line of each kind: an access log alone has none
        return rows.get_column("_s")
    twins = candidates.sort("ts", maintain_order=True, nulls_last=True).filter(paired & ~pl.col("_kind")).get_column("_i")
    return rows.get_column("_s") & ~pl.int_range(events.height, dtype=pl.UInt32, eager=True).is_in(twins.implode())


def _partial(events: pl.DataFrame) -> pl.DataFrame:
    """One row per request in `events` (its ID, or the access line of a 4xx or 5xx request without one: `seen_id`):
    the partial aggregate that `_merge` combines."""
    seen = pl.col("_seen")
    rows = events.with_columns(_seen_requests(events).alias("_seen")).filter(pl.col("request_id").is_not_null() | seen)
    if rows.height == 0:
        return empty_traces()
    error = _is_error(pl.col("level")) | pl.col("exc_type").is_not_null()
    # a plain String (JSON lines), not a list of structs: nested strings would stay views into each batch
    trail = pl.struct("ts", "service", "level", pl.col("message").str.slice(0, TRAIL_MESSAGE_CHARS), "line_no")
    trail = trail.struct.json_encode()
    return (
        rows.with_columns(pl.when(seen).then(seen_id(pl.col("source"), pl.col("line_no"))).otherwise("request_id")
                          .alias("request_id"))
        .group_by("request_id", maintain_order=True)
        .agg(
            pl.col("service").unique(maintain_order=True).alias("services"),
            pl.col("ts").min().alias("start"),
            pl.col("ts").max().alias("end"),
            pl.col("http_method").drop_nulls().first(),
            pl.col("http_path").drop_nulls().first(),
            pl.col("http_status").max(),
            pl.col("duration_ms").max(),
            pl.col("message").filter(error).first().alias("first_error"),
            pl.col("pid").drop_nulls().first(),
            pl.len().cast(pl.Int64).alias("events"),
            (error | (pl.col("http_status") >= 400) | (pl.col("level") == "warning")).any().alias("notable"),
            trail.head(TRACE_EVENTS).str.join("\n").alias("trail"),
        )
        .select(TRACE_SCHEMA.keys())
        .cast(TRACE_SCHEMA)  # type: ignore[arg-type]
        .pipe(own_strings)
    )


def partial(events: pl.DataFrame) -> pl.DataFrame:
    """The trace partial aggregate of one batch (what `Traces.add` merges in)."""
    return _partial(events)


def _merge(table: pl.DataFrame) -> pl.DataFrame:
    """Combine partial aggregates of the same request (associative, order-preserving)."""
    return (
        table.group_by("request_id", maintain_order=True)
        .agg(
            pl.col("services").explode().unique(maintain_order=True),
            pl.col("start").min(),
            pl.col("end").max(),
            pl.col("http_method").drop_nulls().first(),
            pl.col("http_path").drop_nulls().first(),
            pl.col("http_status").max(),
            pl.col("duration_ms").max(),
            pl.col("first_error").drop_nulls().first(),
            pl.col("pid").drop_nulls().first(),
            pl.col("events").sum(),
            pl.col("notable").any(),
            pl.col("trail").str.join("\n"),
        )
        .with_columns(pl.col("trail").str.split("\n").list.head(TRACE_EVENTS).list.join("\n"))
        .cast(TRACE_SCHEMA)  # type: ignore[arg-type]
    )


class Traces:
    """The running trace table: fed event batches, queried at report time."""

    def __init__(self, limits: TraceLimits | None = None) -> None:
        self.limits = limits or TraceLimits()
        self.table = empty_traces()
        self.newest: datetime | None = None
        self.updates = 0

    def add(self, events: pl.DataFrame) -> None:
        """A batch of events into the table, then the table pruned."""
        self.add_partial(_partial(events))
        self.prune()

    def add_partial(self, part: pl.DataFrame, rows: int | None = None, newest: datetime | None = None) -> None:
        """`add` of a batch's partial aggregate (`partial`), computed elsewhere (analyzer.scale replays shards),
        without the pruning: the caller links what it must first (`prune` after).

        analyzer.scale may leave out rows that nothing links to and `prune` then removes (`rows`: how many the
        batch had, `newest`: their latest end), so that the table, its clock and its pruning are what the whole
        batch would have made them."""
        if (part.height if rows is None else rows) == 0:
            return
        if part.height:
            ids = part.get_column("request_id")
            again = self.table.get_column("request_id").is_in(ids.implode()) if self.table.height else None
            if again is None or not again.any():  # only new requests: appended, the table is not copied
                self.table = pl.concat([self.table, part]) if self.table.height else part
            else:
                self.table = pl.concat([self.table.filter(~again), _merge(pl.concat([self.table.filter(again), part]))])
        self.updates += 1
        if self.updates % DETACH_EVERY == 0:  # let go of the buffers earlier batches left behind
            self.table = own_strings(self.table).rechunk()
        if rows is None:
            newest = part.get_column("end").max()  # type: ignore[assignment]
        if newest is not None and (self.newest is None or newest > self.newest):  # type: ignore[operator]
            self.newest = newest  # type: ignore[assignment]

    def prune(self) -> None:
        """Drop the un-notable traces older than the horizon (vs. the newest end), then cut to `max_traces`."""
        limits = self.limits
        if self.newest is not None:
            cutoff = self.newest - limits.horizon
            keep = self.table.select(
                (pl.col("notable") | (pl.col("end") >= cutoff) | pl.col("end").is_null()).fill_null(False)).to_series()
            if not keep.all():  # a filter copies the table: only when something goes
                self.table = self.table.filter(keep)
        if self.table.height > limits.max_traces + limits.slack:
            self.table = self.table.sort("end", nulls_last=True).tail(limits.max_traces)

    def lookup(self, request_ids: list[str]) -> pl.DataFrame:
        return self.table.filter(pl.col("request_id").is_in(request_ids))


def _failed() -> pl.Expr:
    """A request known to have failed on the server: a 5xx, or an error logged and no status known."""
    status = pl.col("http_status")
    return (status >= 500).fill_null(pl.col("first_error").is_not_null())


def _unfinished() -> pl.Expr:
    """A request that never logged its status (still running, or killed with its worker)."""
    return pl.col("http_status").is_null()


#: What an access-shaped record and the request it is linked to share (the request's first service).
ACCESS_KEYS = ("service", "http_method", "http_path", "http_status")


def access_shaped(rows: pl.DataFrame) -> pl.DataFrame:
    """Evidence rows without an ID or a link that tell a status: linked to the request that ended then (`_link_access`)."""
    return rows.filter(
        pl.col("request_id").is_null() & pl.col("linked_by").is_null() & pl.col("http_status").is_not_null()
        & pl.col("ts").is_not_null()
    )


def _link_access(rows: pl.DataFrame, traces: pl.DataFrame, window: LinkWindow) -> pl.DataFrame:
    """Access-shaped rows (method, path, status, no ID) -> the request that ended then with those fields (one the
    application logged: a request seen in the access log is its own line's, `_link_seen`)."""
    keys = list(ACCESS_KEYS)
    want = access_shaped(rows)
    if want.height == 0 or traces.height == 0:
        return rows
    ends = (
        traces.filter(pl.col("end").is_not_null() & pl.col("http_status").is_not_null() & ~is_seen(pl.col("request_id")))
        .with_columns(pl.col("services").list.first().alias("service"))
        .select(*keys, pl.col("end").alias("ts"), pl.col("request_id").alias("_linked"))
        .sort("ts")
    )
    found = want.select("_row", *(pl.col(k).cast(ends.schema[k]) for k in keys), "ts").sort("ts").join_asof(
        ends, on="ts", by=keys, strategy="nearest", tolerance=window.access, check_sortedness=False
    )
    return _apply(rows, found.select("_row", "_linked", pl.lit("access").alias("_how")))


def _link_seen(rows: pl.DataFrame, unlogged: pl.DataFrame) -> pl.DataFrame:
    """Access lines still unlinked that are themselves a request seen in the access log of a service that logs
    no IDs (`unlogged`: `_unlogged`) -> that request."""
    want = rows.filter(pl.col("request_id").is_null() & pl.col("linked_by").is_null() & pl.col("http_status").is_not_null())
    if want.height == 0 or unlogged.height == 0:
        return rows
    own = want.select("_row", seen_id(pl.col("source"), pl.col("line_no")).alias("_linked"))
    found = own.filter(pl.col("_linked").is_in(unlogged.get_column("request_id").implode()))
    return _apply(rows, found.with_columns(pl.lit("access").alias("_how")))


def _apply(rows: pl.DataFrame, found: pl.DataFrame) -> pl.DataFrame:
    """Write linked IDs (`_row` -> `_linked`, `_how`) into rows that had none.

    `_row` is each row's position (rows are never reordered while linking), so the IDs are written
    in place: no join, no copy of the other columns.
    """
    found = found.filter(pl.col("_linked").is_not_null())
    if found.height == 0:
        return rows
    at = found.get_column("_row")
    return rows.with_columns(
        rows.get_column("request_id").clone().scatter(at, found.get_column("_linked")),
        rows.get_column("linked_by").clone().scatter(at, found.get_column("_how")),
    )


CANDIDATES_PER_RECORD = 8  # best-ranked requests kept per record before the greedy one-to-one pass
LINK_SLICE_ROWS = 10_000  # records paired with requests at a time (the pair frame of a slice stays ~50 MB)


def requests(traces: pl.DataFrame) -> pl.DataFrame:
    """The trace table's requests as linking sees them: first service, when they ran, failed or unfinished."""
    return traces.filter(pl.col("end").is_not_null()).select(
        "request_id",
        pl.col("services").list.first().alias("req_service"),
        # a request logged once, at its end, with its duration began that long before
        pl.min_horizontal(pl.coalesce("start", "end"), pl.col("end") - pl.duration(microseconds=(pl.col("duration_ms") * 1000).cast(pl.Int64)))
        .alias("start"),
        "end",
        _failed().alias("failed"),
        _unfinished().alias("unfinished"),
        pl.col("pid").alias("req_pid"),
        is_seen(pl.col("request_id")).alias("seen"),
    )


def _unlogged(traces: pl.DataFrame) -> pl.DataFrame:
    """The requests (`requests`' columns; `end` null for an untimed one) seen in the access log of a service no
    request the application named went through (one that logs request IDs ties its records by them, as before:
    its access lines name no request of their own)."""
    seen = is_seen(pl.col("request_id"))
    named = traces.filter(~seen).get_column("services").explode().unique().implode()
    mine = traces.filter(seen & ~pl.col("services").list.first().is_in(named))
    return pl.concat([requests(mine), mine.filter(pl.col("end").is_null()).select(
        "request_id", pl.col("services").list.first().alias("req_service"), "start", "end", _failed().alias("failed"),
        _unfinished().alias("unfinished"), pl.col("pid").alias("req_pid"), pl.lit(True).alias("seen"))])


def error_pairs(orphans: pl.DataFrame, reqs: pl.DataFrame, window: LinkWindow) -> pl.DataFrame:
    """Errors of services that log IDs x failed (or unfinished) requests of the same service, moments apart.

    An equality join on (service, second) over the seconds the window spans,
    then the exact range: never a cross product of errors and requests.
    """
    second = pl.col("end").dt.epoch("s").alias("_second")
    failed = reqs.filter(pl.col("failed") | pl.col("unfinished")).with_columns(second)
    lo = (pl.col("ts") - window.error_before).dt.epoch("s")
    hi = (pl.col("ts") + window.error_after).dt.epoch("s")
    spans = orphans.with_columns(pl.int_ranges(lo, hi + 1).alias("_second")).explode("_second")
    pairs = spans.join(failed, left_on=["service", "_second"], right_on=["req_service", "_second"], how="inner")
    pairs = pairs.filter(
        pl.col("end").is_between(pl.col("ts") - window.error_before, pl.col("ts") + window.error_after)
    ).drop("_second")
    return pairs.with_columns(pl.lit("error").alias("how"), (~pl.col("failed")).cast(pl.Int8).alias("mismatch"),
                              pl.lit(0, dtype=pl.Int64).alias("lines"))


#: `lines` of a request whose access line is in another file than the record: after any in the same file.
OTHER_FILE = 2**62


def _seen_line(request_id: pl.Expr = pl.col("request_id")) -> pl.Expr:
    """The line of the access line a request seen in the access log is named by (`seen_id`)."""
    return request_id.str.extract(r":([0-9]+)$").cast(pl.Int64)


def _last_line() -> pl.Expr:
    return pl.col("line_no") + pl.col("line_count").fill_null(1).cast(pl.Int64) - 1


def _lines_apart(line: pl.Expr) -> pl.Expr:
    """How many lines an access line (at `line`) is before an error record's first line or after its last, doubled,
    plus one after it: as near, the line before wins (a server that prints the access line after the traceback
    printed the one before for the request before, which the error before took: the greedy choice goes in order)."""
    return pl.when(line < pl.col("line_no")).then((pl.col("line_no") - line) * 2) \
        .otherwise(pl.max_horizontal(line - _last_line(), pl.lit(0)) * 2 + 1)


def seen_pairs(orphans: pl.DataFrame, reqs: pl.DataFrame, window: LinkWindow) -> pl.DataFrame:
    """Errors of services that log no IDs x the failed requests their access logs show (`_unlogged`), as
    `error_pairs` pairs them, of the same process where both records name theirs; `lines` (`_lines_apart`;
    OTHER_FILE in different files) decides where times tie (a log timed in whole seconds)."""
    pairs = error_pairs(orphans, reqs, window).filter((pl.col("pid") == pl.col("req_pid")).fill_null(True))
    same_file = pl.col("request_id").str.starts_with(pl.concat_str(pl.lit(SEEN_PREFIX), pl.col("source"), pl.lit(":")))
    lines = pl.when(same_file).then(_lines_apart(_seen_line())).otherwise(pl.lit(OTHER_FILE, dtype=pl.Int64))
    return pairs.with_columns(lines.fill_null(OTHER_FILE).alias("lines"))


def untimed_pairs(orphans: pl.DataFrame, reqs: pl.DataFrame, window: LinkWindow) -> pl.DataFrame:
    """Errors without a time of services that log no IDs x the failed requests without a time their access log
    shows in the same file, at most `window.lines` lines before the error's first line or after its last (a log
    with no times at all: uvicorn's own layout written to a file), of the same process where both name theirs.
    An equality join on (service, file, block of lines) over the blocks the reach spans: no cross product."""
    block = window.lines + 1
    file = pl.col("request_id").str.strip_prefix(SEEN_PREFIX).str.replace(r":\d+$", "")
    reqs = reqs.with_columns(_seen_line().alias("_line"), file.alias("_file")).with_columns((pl.col("_line") // block).alias("_block"))
    spans = orphans.with_columns(
        pl.int_ranges((pl.col("line_no") - window.lines) // block, (_last_line() + window.lines) // block + 1).alias("_block")
    ).explode("_block")
    pairs = spans.join(reqs, left_on=["service", "source", "_block"], right_on=["req_service", "_file", "_block"], how="inner")
    apart = _lines_apart(pl.col("_line"))
    return pairs.filter((apart // 2 <= window.lines) & (pl.col("pid") == pl.col("req_pid")).fill_null(True)).select(
        "_row", "ts", "end", "request_id", pl.lit("error").alias("how"), pl.lit(0, dtype=pl.Int8).alias("mismatch"),
        apart.cast(pl.Int64).alias("lines"))


def in_flight(window: LinkWindow) -> tuple[tuple[pl.Expr, ...], tuple[pl.Expr, ...]]:
    """When a request (`start`, `end`: `requests`) was running for the whole time a database record covers (`began`,
    `ts`, `precision`: `orphans_of`): the inequality join's predicates, then the filters on its pairs."""
    joined = (
        pl.col("start") <= pl.col("began") + pl.col("precision") + window.in_flight,
        pl.col("end") >= pl.col("ts") - window.in_flight,
    )
    within = (
        pl.col("end") <= pl.col("ts") + window.max_request,
        # a request that ran for all of a timed statement lasted at least as long (whatever second it was logged in)
        pl.col("end") - pl.col("start") >= pl.col("ts") - pl.col("began") - window.in_flight,
    )
    return joined, within


def _in_flight_pairs(orphans: pl.DataFrame, reqs: pl.DataFrame, window: LinkWindow, told: pl.DataFrame) -> pl.DataFrame:
    """Database records x requests running for the whole time the record covers (an inequality join).

    `mismatch` ranks how well a request fits, worst first: the wrong kind (a failed request for a record
    that is no error, or the other way round), no record of its own service telling the same failure
    (`told`: request_id, signature), not the service the record's application name names."""
    joined, within = in_flight(window)
    pairs = orphans.join_where(reqs, *joined).filter(*within)
    pairs = pairs.join(told.with_columns(pl.lit(True).alias("same")), on=["request_id", "signature"], how="left")
    # the application name a database record carries (`%a`, `app=ledger-web`) names the service it serves, when set
    unnamed = ~pl.col("app").str.contains(pl.col("req_service"), literal=True).fill_null(False)
    mismatch = ((pl.col("failed") != pl.col("is_error")).cast(pl.Int8) * 4 + (~pl.col("same").fill_null(False)).cast(pl.Int8) * 2
                + unnamed.cast(pl.Int8))
    return pairs.with_columns(pl.lit("in_flight").alias("how"), mismatch.alias("mismatch"),
                              pl.lit(0, dtype=pl.Int64).alias("lines")).drop("same")


def _best(pairs: pl.DataFrame) -> pl.DataFrame:
    """Per record, its CANDIDATES_PER_RECORD best-ranked requests (by mismatch, then distance in time, then in
    lines: `seen_pairs`)."""
    return (
        pairs.with_columns((pl.col("end") - pl.col("ts")).abs().alias("distance"))
        .sort("_row", "mismatch", "distance", "lines", "request_id")
        .group_by("_row", maintain_order=True)
        .agg(
            pl.col("ts").first(), pl.col("how").first(),
            pl.struct("mismatch", "distance", "lines", "request_id").head(CANDIDATES_PER_RECORD).alias("candidates"),
        )
    )


def _choose(how: str, candidates: list[dict], used: dict[tuple[str, str], int]) -> str:
    """Errors of one service spread over its failed requests first; database records prefer the right kind."""
    def rank(c: dict) -> tuple:
        taken = used.get((how, c["request_id"]), 0)
        return (taken, c["mismatch"], c["distance"], c["lines"]) if how == "error" else (c["mismatch"], taken, c["distance"])

    return min(candidates, key=rank)["request_id"]


def orphans_of(rows: pl.DataFrame) -> pl.DataFrame:
    """Evidence rows without an ID, a link or a status (errors, database records), with the span of time they
    cover: `began` (`ts` less the duration they report) and `precision` (a time in whole seconds, PostgreSQL's
    %t, was written at some moment of that second)."""
    orphan = (
        pl.col("request_id").is_null() & pl.col("linked_by").is_null() & pl.col("ts").is_not_null()
        & pl.col("http_status").is_null()
    )
    return rows.filter(orphan).with_columns(
        (pl.col("ts") - pl.duration(milliseconds=pl.col("duration_ms").fill_null(0))).alias("began"),
        pl.when(pl.col("ts").dt.truncate("1s") == pl.col("ts")).then(pl.duration(seconds=1))
        .otherwise(pl.duration(seconds=0)).alias("precision"),
    )


def _untimed_errors(rows: pl.DataFrame, untimed: pl.DataFrame) -> pl.DataFrame:
    """Errors without an ID, a link or a time of the services whose access logs show requests without a time."""
    if untimed.height == 0:
        return rows.clear().select("_row")
    error = pl.col("level").cast(pl.String).is_in(["error", "critical"]) | pl.col("exc_type").is_not_null()
    return rows.filter(
        pl.col("request_id").is_null() & pl.col("linked_by").is_null() & pl.col("ts").is_null() & pl.col("http_status").is_null()
        & error & pl.col("service").cast(pl.String).is_in(untimed.get_column("req_service").unique().implode())
        & ~pl.col("format").cast(pl.String).is_in(list(DATABASE_FORMATS)).fill_null(False)
    ).select("_row", "ts", pl.col("service").cast(pl.String), "pid", pl.col("source").cast(pl.String), "line_no", "line_count")


def _link_orphans(rows: pl.DataFrame, reqs: pl.DataFrame, unlogged: pl.DataFrame, window: LinkWindow) -> pl.DataFrame:
    """Errors and database records without an ID -> a request (`reqs`: `requests`; `unlogged`: `_unlogged`).

    Candidate pairs come from vectorized joins; the choice is greedy in time
    order so that concurrent failures spread one per request (Python runs over
    the few orphan records only, with at most CANDIDATES_PER_RECORD each).
    """
    orphans = orphans_of(rows).select(
        "_row", "ts", pl.col("service").cast(pl.String), pl.col("format").cast(pl.String),
        pl.col("logger").cast(pl.String).alias("app"),
        (pl.col("level").is_in(["error", "critical"]) | pl.col("exc_type").is_not_null()).alias("is_error"),
        "began", "precision", "pid", pl.col("source").cast(pl.String), "line_no", "line_count",
    )
    # an error is tied to a request that failed (a 5xx), never to one the server refused (a 4xx)
    untimed_failed = unlogged.filter(pl.col("end").is_null() & pl.col("failed"))
    if (orphans.height == 0 or reqs.height == 0) and untimed_failed.height == 0:
        return rows
    # requests seen in the access log of a service that logs IDs are none of linking's business (`_unlogged`)
    reqs = reqs.filter(~pl.col("seen"))
    id_services = reqs.get_column("req_service").unique().implode()
    unlogged_services = unlogged.get_column("req_service").unique().implode()
    database = pl.col("format").is_in(list(DATABASE_FORMATS)).fill_null(False)
    from_app = orphans.filter(pl.col("service").is_in(id_services) & pl.col("is_error"))
    from_log = orphans.filter(pl.col("service").is_in(unlogged_services) & pl.col("is_error") & ~database)
    from_db = orphans.filter(~pl.col("service").is_in(id_services) & database)
    # anything else is a worker or job of its own: no evidence ties it to a request
    used: dict[tuple[str, str], int] = {}  # (how, request) -> records already tied to it that way
    best = [_best(error_pairs(part, reqs, window)) for part in from_app.iter_slices(LINK_SLICE_ROWS)]
    best += [_best(seen_pairs(part, unlogged.filter(pl.col("end").is_not_null()), window))
             for part in from_log.iter_slices(LINK_SLICE_ROWS)]
    untimed = _untimed_errors(rows, untimed_failed)
    best += [_best(untimed_pairs(part, untimed_failed, window)) for part in untimed.iter_slices(LINK_SLICE_ROWS)]
    rows = _choose_links(rows, best, used)
    if from_db.height == 0:
        return rows
    # the failures the app's own records tell, once those are tied: a database error goes first to a request
    # whose service logged the same failure (the driver's exception of that deadlock), whatever else ran then
    told = rows.filter(pl.col("request_id").is_not_null() & ~pl.col("format").cast(pl.String).is_in(list(DATABASE_FORMATS)))
    told = told.select("request_id", pl.col("signature").cast(pl.String)).drop_nulls().unique()
    from_db = from_db.join(rows.select("_row", pl.col("signature").cast(pl.String)), on="_row", how="left")
    # an access line that tells no duration tells only when its request ended: no record is shown to run within it
    reqs = pl.concat([reqs, unlogged.filter(pl.col("start") < pl.col("end"))])
    best = [_best(_in_flight_pairs(part, reqs, window, told)) for part in from_db.iter_slices(LINK_SLICE_ROWS)]
    return _choose_links(rows, best, used)


def _choose_links(rows: pl.DataFrame, best: list[pl.DataFrame], used: dict[tuple[str, str], int]) -> pl.DataFrame:
    """The greedy choice, in time order, over each record's best candidates (bounded pair frames, one per
    slice of LINK_SLICE_ROWS records, however much evidence)."""
    options = pl.concat([b for b in best if b.height], how="diagonal_relaxed") if any(b.height for b in best) else None
    if options is None:
        return rows
    options = options.sort("ts", "_row").drop("ts")
    links: list[tuple[int, str, str]] = []
    for row_id, how, candidates in options.iter_rows():
        chosen = _choose(how, candidates, used)
        used[(how, chosen)] = used.get((how, chosen), 0) + 1
        links.append((row_id, chosen, how))
    schema = {"_row": pl.UInt32, "_linked": pl.String, "_how": pl.String}
    return _apply(rows, pl.DataFrame(links, schema=schema, orient="row"))


_LINK_COLUMNS = (
    "ts", "service", "format", "level", "logger", "exc_type", "duration_ms", "request_id", "http_method", "http_path",
    "http_status", "signature", "pid", "source", "line_no", "line_count",
)


def _slim(frame: pl.DataFrame) -> pl.DataFrame:
    """The columns linking reads, with the repetitive ones Categorical (as compacted evidence keeps them)."""
    linked_by = pl.col("linked_by") if "linked_by" in frame.columns else pl.lit(None)
    missing = {c: pl.lit(None, dtype=pl.String).alias(c) for c in ("logger", "signature") if c not in frame.columns}
    return frame.select(*(missing.get(c, c) for c in _LINK_COLUMNS), linked_by.cast(pl.String).alias("linked_by")).with_columns(
        pl.col(name).cast(pl.Categorical) for name in ("service", "format", "level", "logger", "exc_type", "http_method", "signature",
                                                       "source")
    )


def _around(traces: pl.DataFrame, rows: pl.DataFrame, window: LinkWindow) -> pl.DataFrame:
    """The requests that may be linked to `rows` at all: those that ended from `error_before` before the
    first record to `max_request` after the last. Small batches (tail) then join a few requests, not the table."""
    first, last = rows.get_column("ts").min(), rows.get_column("ts").max()
    if first is None or last is None:
        return traces
    lo = first - max(window.error_before, window.access, window.in_flight)  # type: ignore[operator]
    # untimed requests (end null) stay: records without a time are tied to them by line (`untimed_pairs`)
    return traces.filter(pl.col("end").is_between(lo, last + window.max_request) | pl.col("end").is_null())  # type: ignore[operator]


def link_frames(frames: list[pl.DataFrame], traces: pl.DataFrame, window: LinkWindow | None = None) -> list[pl.DataFrame]:
    """Fill `request_id` of evidence rows that lack one (see the module doc), over several frames at once.

    Sets `linked_by`: "own" for an ID the record carried, "access", "error" or "in_flight" for a link,
    "none" when no request fits. Rows that already have a `linked_by` were linked before (analyzer.analysis.engine
    links evidence for good once its requests have ended) and are left alone.
    The joins run on the few columns linking reads, all frames together (one greedy choice over
    all records); the heavy columns (text) are never copied.
    """
    window = window or LinkWindow()
    sizes = [frame.height for frame in frames]
    slim = pl.concat([_slim(frame) for frame in frames if frame.height]) if any(sizes) else None
    if slim is None:
        return frames
    traces = _around(traces, slim, window)
    reqs = requests(traces)
    unlogged = _unlogged(traces)
    slim = _link_seen(_link_access(slim.with_row_index("_row"), traces, window), unlogged)
    slim = _link_orphans(slim, reqs, unlogged, window)
    untried = pl.col("linked_by").is_null()
    slim = slim.with_columns(
        pl.when(untried & pl.col("request_id").is_not_null()).then(pl.lit("own"))
        .when(untried).then(pl.lit("none")).otherwise(pl.col("linked_by")).alias("linked_by")
    )
    linked, start = [], 0
    for frame, size in zip(frames, sizes, strict=True):
        part = slim.slice(start, size)
        linked.append(frame.with_columns(part.get_column("request_id"), part.get_column("linked_by")) if size else frame)
        start += size
    return linked

