"""Incidents stage: evidence rows -> incidents (Polars aggregations).

*Evidence* is the small part of the event stream the later stages need: every
event a signature matched (`kind` = "point"), every event a window rule counts
("window"), and every error or traceback no signature explains ("unknown").
`Analysis` collects it batch by batch; `build_incidents` turns it into one row
per incident:

* point matches group by fingerprint = signature + key captures (a signature may
  key on the exception and its culprit frame: analyzer.analysis.exceptions);
* window rules (storms, slow requests) count the distinct requests per
  `group_by` in a sliding window and keep the rows of every window that
  reached `min_count`;
* unknown errors cluster by template + culprit (exception line or message
  with numbers, IDs, quoted values and addresses masked; made when the
  evidence is collected, see analyzer.analysis.engine); a request already
  explained by a signature (by a record of its own, or one tied to it by route
  or error; a database record tied by time alone explains nothing) does not
  also make an unknown incident, and a request that logged several
  unexplained errors counts once, under the most telling one (the one with a
  traceback).

One failure is one incident, whichever services logged it: the app's
traceback, the access line and the database's ERROR of one deadlock group
together. `services` lists every service with evidence and `service_counts`
its occurrences there; `service` is where users felt it (the service that
logged it under the most requests, else the one that logged it most).

`count` is occurrences: within a service, the records of one request count
once; across services, a record of another service that shares a request with
the busiest service, or falls within SAME_FAILURE of one of its occurrences,
is that occurrence seen twice. `records` is the number of records behind them.
Distinct request IDs are `affected_requests`, listed in `request_ids` (capped).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import polars as pl

from analyzer.events import UTC_TS
from analyzer.analysis.correlate import is_seen, request_pairs
from analyzer.analysis.settings import WindowOverride
from analyzer.analysis.signatures import Signature, SignatureSet

MAX_REQUEST_IDS = 10_000
MAX_EXAMPLES = 3
MAX_EXAMPLE_CHARS = 8_000
#: Records of one failure in two services (the app's traceback, the database's ERROR) are at most this far apart.
SAME_FAILURE: Final = timedelta(seconds=2)
GROUP: Final = ["signature", "key"]

#: Event columns evidence keeps (plus kind, signature, key, captures, and exc_line for unknown errors).
EVIDENCE_EVENT_COLUMNS = (
    "ts", "source", "line_no", "service", "format", "level", "logger", "message", "text", "request_id",
    "http_method", "http_path", "http_status", "duration_ms", "exc_type", "pid", "line_count",
)
UNKNOWN = "unknown"

_EXAMPLE = pl.Struct({"source": pl.String, "line_no": pl.Int64, "ts": UTC_TS, "text": pl.String})
INCIDENT_SCHEMA: dict[str, pl.DataType] = {
    "fingerprint": pl.String(),
    "signature": pl.String(),
    "service": pl.String(),
    "services": pl.List(pl.String),
    "service_counts": pl.List(pl.Struct({"service": pl.String, "count": pl.Int64})),
    "key": pl.String(),
    "captures": pl.String(),
    "template": pl.String(),
    "exception": pl.String(),
    "culprit": pl.String(),
    "count": pl.Int64(),
    "records": pl.Int64(),
    "first_seen": UTC_TS,
    "last_seen": UTC_TS,
    "request_ids": pl.List(pl.String),
    "affected_requests": pl.Int64(),
    "timeline": pl.List(pl.Struct({"minute": UTC_TS, "count": pl.UInt32})),
    "examples": pl.List(_EXAMPLE),
    "level": pl.String(),
    "exc_type": pl.String(),
    "http_path": pl.String(),
    "duration_p50_ms": pl.Float64(),
    "duration_p95_ms": pl.Float64(),
    "duration_max_ms": pl.Float64(),
}


def clip_text(text: pl.Expr, limit: int = MAX_EXAMPLE_CHARS) -> pl.Expr:
    """Long records keep their head and their tail (where a traceback's exception line is)."""
    half = limit // 2
    tail = text.str.tail(half).str.replace(r"^[^\n]*\n", "")  # from a line start
    clipped = pl.concat_str([text.str.head(half), pl.lit("\n  [… cut …]\n"), tail])
    return pl.when(text.str.len_chars() > limit).then(clipped).otherwise(text)


def fingerprint(signature: str, key: str | None) -> str:
    """Stable incident identity: the same problem gets the same ID in every run, whichever services saw it."""
    raw = "\x1f".join((signature, key or ""))
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def _owned() -> pl.Expr:
    """Rows that carry their request's ID (or were tied to it by route or error): one occurrence per request.

    Rows tied only by time (`in_flight` database records) and rows of no request each count once.
    """
    return pl.col("request_id").is_not_null() & (pl.col("linked_by").fill_null("") != "in_flight")


#: Records of a signature with an `occurrence_window` but no time are one occurrence this many lines apart.
NEARBY_LINES: Final = 5


def _sessions(rows: pl.LazyFrame, windows: dict[str, float]) -> pl.LazyFrame:
    """Rows of signatures with an `occurrence_window` (outside requests) collapsed to the first row of each
    run of records that follow one another within it, per incident and service (by line when untimed)."""
    window = pl.col("signature").replace_strict(windows, default=None, return_dtype=pl.Float64)
    rows = rows.with_columns(window.alias("_window"))
    plain = rows.filter(pl.col("_window").is_null() | pl.col("_own"))
    grouped = rows.filter(pl.col("_window").is_not_null() & ~pl.col("_own")).sort("source", "ts", "line_no", nulls_last=True)
    by = [*GROUP, "service", "source"]
    gap = (pl.col("ts") - pl.col("ts").shift(1).over(by)).dt.total_microseconds() / 1e6
    lines = pl.col("line_no") - pl.col("line_no").shift(1).over(by)
    starts = pl.when(pl.col("ts").is_not_null()).then(gap.fill_null(float("inf")) > pl.col("_window")) \
        .otherwise(lines.fill_null(NEARBY_LINES + 1) > NEARBY_LINES)
    return pl.concat([plain, grouped.filter(starts)], how="vertical_relaxed").drop("_window")


def _occurrence_rows(rows: pl.LazyFrame, windows: dict[str, float]) -> pl.LazyFrame:
    """One row per occurrence in each service: one per owned request (its first record), one per other record
    (or per run of records, for a signature with an `occurrence_window`)."""
    cols = [*GROUP, "service", "request_id", "ts", "_own"]
    owned = rows.filter("_own").group_by(*GROUP, "service", "request_id").agg(pl.col("ts").min(), pl.lit(True).alias("_own"))
    others = rows.filter(~pl.col("_own"))
    if windows:
        others = _sessions(others, windows)
    return pl.concat([owned.select(cols), others.select(cols)], how="vertical_relaxed")


def _occurrences(rows: pl.LazyFrame, windows: dict[str, float]) -> pl.DataFrame:
    """Per incident: `count` (occurrences across services), `services`, `service_counts` and `service` (felt by)."""
    occ = _occurrence_rows(rows, windows).collect()
    per_service = occ.group_by(*GROUP, "service").agg(pl.len().cast(pl.Int64).alias("count"), pl.col("_own").sum().alias("_felt"))
    per_incident = per_service.sort(["count", "service"], descending=[True, False], nulls_last=True).group_by(
        GROUP, maintain_order=True
    ).agg(
        pl.col("service").first().alias("_primary"),
        pl.col("count").first().alias("_primary_count"),
        pl.col("service").sort_by("_felt", "count", descending=True, maintain_order=True).first().alias("service"),
        pl.struct("service", "count").alias("service_counts"),
        pl.col("service").alias("services"),
    )
    spread = per_incident.filter(pl.col("services").list.len() > 1).select(*GROUP, "_primary")
    unmatched = _unmatched(occ.join(spread, on=GROUP, nulls_equal=True)) if spread.height else None
    out = per_incident.with_columns(pl.col("_primary_count").alias("count"))
    if unmatched is not None and unmatched.height:
        out = out.join(unmatched, on=GROUP, how="left", nulls_equal=True).with_columns(
            (pl.col("count") + pl.col("_unmatched").fill_null(0)).alias("count")
        ).drop("_unmatched")
    return out.drop("_primary", "_primary_count")


def _unmatched(occ: pl.DataFrame) -> pl.DataFrame:
    """Per incident seen in several services: the occurrences outside its busiest service (`_primary`)
    that are not one of the busiest service's own, seen again (same request, or within SAME_FAILURE)."""
    primary = occ.filter(pl.col("service").eq_missing(pl.col("_primary")))
    others = occ.filter(~pl.col("service").eq_missing(pl.col("_primary"))).with_row_index("_o")
    same_request = others.join(
        primary.select(*GROUP, "request_id").drop_nulls().unique(), on=[*GROUP, "request_id"], how="semi", nulls_equal=True
    ).get_column("_o")
    timed = others.filter(pl.col("ts").is_not_null() & ~pl.col("_o").is_in(same_request.implode())).sort("ts")
    near = timed.join_asof(
        primary.filter(pl.col("ts").is_not_null()).select(*GROUP, pl.col("ts"), pl.col("ts").alias("_near")).sort("ts"),
        on="ts", by=GROUP, strategy="nearest", tolerance=SAME_FAILURE, check_sortedness=False,
    ).filter(pl.col("_near").is_not_null()).get_column("_o")
    seen_again = pl.concat([same_request, near])
    return others.filter(~pl.col("_o").is_in(seen_again.implode())).group_by(GROUP).agg(
        pl.len().cast(pl.Int64).alias("_unmatched")
    )


def _aggregate(rows: pl.DataFrame | pl.LazyFrame, windows: dict[str, float] | None = None) -> pl.DataFrame:
    """The common incident aggregates over evidence rows grouped by GROUP (rows in input order).

    The plan is lazy so that each aggregation reads only its columns: an eager group_by copies every
    column of the rows first.
    """
    rows = rows.lazy().with_columns(_owned().alias("_own"))
    for name in ("exc_line", "culprit"):  # bulk rows and window rows have neither
        if name not in rows.collect_schema().names():
            rows = rows.with_columns(pl.lit(None, dtype=pl.String).alias(name))
    examples = (
        rows.filter(pl.col("text").is_not_null())  # only the rows compaction kept whole; never a struct per row
        .group_by(GROUP, maintain_order=True)
        .agg(pl.struct("source", "line_no", "ts", "text").unique(maintain_order=True).head(MAX_EXAMPLES).alias("examples"))
    )
    incidents = rows.group_by(GROUP, maintain_order=True).agg(
        pl.len().cast(pl.Int64).alias("records"),
        pl.col("ts").min().alias("first_seen"),
        pl.col("ts").max().alias("last_seen"),
        pl.col("request_id").drop_nulls().unique(maintain_order=True).alias("_rids"),
        pl.col("captures").drop_nulls().first(),
        pl.col("level").first(),
        pl.col("exc_type").drop_nulls().first(),
        pl.col("exc_line").drop_nulls().first().alias("exception"),
        pl.col("culprit").drop_nulls().first(),
        pl.col("http_path").drop_nulls().first(),
        pl.col("duration_ms").quantile(0.5).alias("duration_p50_ms"),
        pl.col("duration_ms").quantile(0.95).alias("duration_p95_ms"),
        pl.col("duration_ms").max().alias("duration_max_ms"),
    ).join(examples, on=GROUP, how="left", nulls_equal=True)
    timeline = (
        rows.filter(pl.col("ts").is_not_null())
        .group_by(*GROUP, pl.col("ts").dt.truncate("1m").alias("minute"))
        .agg(pl.len().alias("count"))
        .sort("minute")
        .group_by(GROUP)
        .agg(pl.struct("minute", "count").alias("timeline"))
    )
    aggregated = incidents.join(timeline, on=GROUP, how="left", nulls_equal=True).with_columns(
        pl.col("_rids").list.len().cast(pl.Int64).alias("affected_requests"),
        pl.col("_rids").list.head(MAX_REQUEST_IDS).alias("request_ids"),
    ).collect()
    return aggregated.join(_occurrences(rows, windows or {}), on=GROUP, how="left", nulls_equal=True)


def _finish(incidents: pl.DataFrame) -> pl.DataFrame:
    """Fingerprints, missing columns, schema order."""
    incidents = incidents.with_columns(
        pl.struct("signature", "key")
        .map_elements(lambda s: fingerprint(s["signature"], s["key"]), return_dtype=pl.String)
        .alias("fingerprint")
    )
    missing = [pl.lit(None, dtype=t).alias(c) for c, t in INCIDENT_SCHEMA.items() if c not in incidents.columns]
    return incidents.with_columns(missing).select(
        pl.col(c).cast(t) for c, t in INCIDENT_SCHEMA.items()
    )


def _point_incidents(evidence: pl.DataFrame, bulk: pl.DataFrame | None, windows: dict[str, float]) -> pl.DataFrame:
    """Signature matches grouped by fingerprint; `bulk` holds more matches, without text (analyzer.analysis.engine.compact).

    Lazy, so neither frame is copied whole: each aggregation reads its own columns.
    """
    point = pl.col("kind") == "point"
    parts = [evidence.lazy().filter(point)] if evidence.height and bool(evidence.select(point.any()).item()) else []
    if bulk is not None and bulk.height:
        parts.append(bulk.lazy().with_columns(pl.col(pl.Categorical).cast(pl.String)))
    if not parts:
        return _finish(pl.DataFrame(schema={"signature": pl.String, "key": pl.String}))
    rows = pl.concat(parts, how="diagonal_relaxed") if len(parts) > 1 else parts[0]
    return _finish(_aggregate(rows, windows))


def _window_members(rows: pl.DataFrame, sig: Signature, override: WindowOverride | None) -> pl.DataFrame:
    """Rows of `sig` that fall in a window where at least min_count distinct requests occurred."""
    seconds = (override and override.window_seconds) or sig.window_seconds or 60.0
    min_count = (override and override.min_count) or sig.min_count or 1
    group = list(sig.group_by) or ["service"]
    rows = rows.filter(pl.col("ts").is_not_null())
    # one row per request (an access line and the app's summary line of the same request count once)
    rows = rows.sort("ts").with_columns(request_keys().alias("_req"))
    # the row kept of a pair carries the request its partner was seen as (the access line's, `seen_id`)
    rows = rows.with_columns(pl.col("request_id").fill_null(pl.col("request_id").drop_nulls().first().over("_req")))
    rows = rows.unique(subset=["_req", *group], keep="first", maintain_order=True).sort("ts")
    if rows.height == 0:
        return rows
    period = f"{int(seconds * 1_000_000)}us"
    counts = rows.rolling(index_column="ts", period=period, group_by=group).agg(pl.len().alias("_n"))
    ends = counts.filter(pl.col("_n") >= min_count).select(*group, pl.col("ts").alias("_end")).unique().sort("_end")
    if ends.height == 0:
        return rows.clear()
    joined = rows.join_asof(
        ends.with_columns(pl.col("_end").alias("ts")), on="ts", by=group, strategy="forward",
        tolerance=f"{int(seconds * 1_000_000)}us", check_sortedness=False,
    )
    return joined.filter(pl.col("_end").is_not_null()).drop("_end", "_req")


def request_keys() -> pl.Expr:
    """A key per request for rows in time order: the request ID the application logged, else the pairing of an
    access line with the application's line of the same request (`request_pairs`; one of the two may be a
    request seen in the access log), else a request seen in the access log, else the row itself."""
    same, _, nth, paired = request_pairs()
    pair = [*same, nth]
    seen = is_seen(pl.col("request_id")).fill_null(False)
    no_id = pl.col("request_id").is_null() | seen
    key = pl.concat_str([pl.lit("pair"), *(pl.col(c).cast(pl.String).fill_null("") for c in same),
                         nth.cast(pl.String)], separator="\x1f")
    paired = paired & (no_id.sum().over(pair) == pl.len().over(pair))
    return (
        pl.when(~no_id).then(pl.col("request_id"))
        .when(paired).then(key)
        .when(seen).then(pl.col("request_id"))
        .otherwise(pl.concat_str(pl.lit("row\x1f"), pl.int_range(pl.len()).cast(pl.String)))
    )


def window_members(evidence: pl.DataFrame, sigs: SignatureSet, overrides: dict[str, WindowOverride]) -> pl.DataFrame:
    """The window rows of `evidence` that fall in a window reaching its rule's min_count, with the incident `key`
    (the rule's `group_by` values: a storm on one route of one service is its own incident)."""
    parts = []
    rows = evidence.filter(pl.col("kind") == "window")
    for sig_id in rows.get_column("signature").unique().to_list():
        if sig_id not in sigs:
            continue
        sig = sigs[sig_id]
        members = _window_members(rows.filter(pl.col("signature") == sig_id), sig, overrides.get(sig_id))
        if members.height == 0:
            continue
        key_cols = sig.group_by or ("service",)
        key = pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in key_cols], separator="|")
        parts.append(members.with_columns(key.alias("key")))
    return pl.concat(parts, how="diagonal_relaxed") if parts else rows.clear().with_columns(pl.lit("").alias("key"))


def window_incidents(members: pl.DataFrame) -> pl.DataFrame:
    """Incidents of window members (`window_members`)."""
    if members.height == 0:
        return _finish(pl.DataFrame(schema={"signature": pl.String, "key": pl.String}))
    return _finish(_aggregate(members))


def unknown_key() -> pl.Expr:
    """An unknown error's incident key: its template, and its culprit frame when it has one."""
    return pl.when(pl.col("culprit").is_null()).then(pl.col("template")) \
        .otherwise(pl.concat_str("template", pl.lit(" @ "), "culprit"))


def explained_requests(evidence: pl.DataFrame) -> pl.Series:
    """The requests a signature explains: those of its matches, but not one a database record was tied to by
    time alone (in flight then). Their unknown errors make no incident of their own."""
    return evidence.filter((pl.col("kind") == "point") & _owned()).get_column("request_id")


def _unknown_incidents(evidence: pl.DataFrame, bulk: pl.DataFrame | None = None) -> pl.DataFrame:
    explained = explained_requests(evidence)
    if bulk is not None and bulk.height:
        explained = pl.concat([explained, bulk.get_column("request_id").drop_nulls()])
    explained_ids = explained.unique()
    explained_row = pl.col("request_id").is_in(explained_ids.implode()).fill_null(False)
    rows = evidence.filter((pl.col("kind") == "unknown") & ~explained_row)
    if rows.height == 0:
        return _finish(pl.DataFrame(schema={"signature": pl.String, "key": pl.String}))
    rows = rows.with_row_index("_i")
    rows = rows.sort(pl.col("exc_type").is_null(), "_i").unique(
        subset=[pl.coalesce("request_id", pl.col("_i").cast(pl.String))], keep="first", maintain_order=True
    ).sort("_i").drop("_i")
    rows = rows.with_columns(pl.lit(UNKNOWN).alias("signature"), unknown_key().alias("key"))
    incidents = _aggregate(rows).join(rows.group_by("key").agg(pl.col("template").first()), on="key", how="left")
    return _finish(incidents)


def build_incidents(
    evidence: pl.DataFrame, sigs: SignatureSet, overrides: dict[str, WindowOverride] | None = None,
    bulk: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """All incidents of the evidence (unranked; see analyzer.analysis.ranking); `bulk`: more signature matches, text-less."""
    if evidence.height == 0:
        return _finish(pl.DataFrame(schema={"signature": pl.String, "key": pl.String}))
    return pl.concat([
        _point_incidents(evidence, bulk, {s.id: s.occurrence_seconds for s in sigs if s.occurrence_seconds}),
        window_incidents(window_members(evidence, sigs, overrides or {})),
        _unknown_incidents(evidence, bulk),
    ])
