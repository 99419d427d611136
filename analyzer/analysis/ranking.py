"""Ranking: the order a person on call reads incidents in, each cause directly above its symptoms.

Order. Severity first (a less severe incident never sits above a more severe
one unless it is that incident's cause), then user impact: failed requests
(the incident's requests that ended in a 5xx), affected requests, occurrences,
then the score, then the fingerprint (a stable tie-break).

Causes. Incident C *causes* incident S when C began before S ended (give or
take CAUSE_LAG), they are at most `slack` apart, and either C's signature
declares S's in `leads_to`, or C is a cause and S a symptom that share
requests. S lists at most MAX_CAUSES direct causes in `caused_by`, the best
evidence first (a declared edge, then shared requests, then closeness in
time), each with that evidence. The first is S's *primary* cause.

A cause is at least as severe as what it causes: its severity is raised to
its worst descendant's (the `why` line says so), so it may rank above them.
It is placed right above its first symptom when that comes earlier than the
cause's own place, and its primary symptoms follow it directly, first first,
whenever that puts nothing less severe above something more severe.

Score (shown in every report, one tie-break among equals)::

    score = weight(severity) x (1 + log10(count)) x (1 + log10(1 + affected_requests)) x recency

with weight critical 100, high 40, medium 15, low 5, info 1, and recency from
0.5 (the incident ended when the analysed period began) to 1.0 (it was still
happening at its end).

Incidents below the run's minimum severity take no rank number (`rank` null)
and come last, so the ranks a report shows are 1..n without gaps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import polars as pl

from analyzer.events import SEVERITIES  # noqa: F401 - lowest first; re-exported for the modules that use it here
SEVERITY_WEIGHT: Final[dict[str, float]] = {"critical": 100.0, "high": 40.0, "medium": 15.0, "low": 5.0, "info": 1.0}
CAUSAL_SLACK: Final = timedelta(seconds=60)
#: A cause may be logged this much after its symptom ended (the database's ERROR after the app's traceback).
CAUSE_LAG: Final = timedelta(seconds=2)
MAX_CAUSES: Final = 3
#: What `rank` adds: dropped before ranking a changed set of incidents again.
RANK_COLUMNS: Final = ("score", "caused_by", "why", "rank")

CAUSE_SCHEMA: Final = pl.Struct({
    "fingerprint": pl.String, "declared": pl.Boolean, "shared_requests": pl.Int64, "overlap_seconds": pl.Float64,
    "gap_seconds": pl.Float64,
})


def severity_at_least(severity: pl.Expr, floor: str) -> pl.Expr:
    """True where `severity` is `floor` or worse."""
    return severity.is_in(list(SEVERITIES[SEVERITIES.index(floor) :]))


def _level(severity: str | None) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


def _scores(rows: list[dict[str, Any]]) -> list[float]:
    lasts = [r["last_seen"] for r in rows if r["last_seen"] is not None]
    firsts = [r["first_seen"] for r in rows if r["first_seen"] is not None]
    start, end = (min(firsts), max(lasts)) if firsts and lasts else (None, None)
    out = []
    for r in rows:
        recency = 1.0
        if start is not None and end is not None and r["last_seen"] is not None and end > start:
            recency = 0.5 + 0.5 * ((r["last_seen"] - start) / (end - start))
        value = SEVERITY_WEIGHT.get(r["severity"], 1.0) * (1 + math.log10(max(r["count"] or 0, 1))) \
            * (1 + math.log10(1 + (r["affected_requests"] or 0)))
        out.append(round(value * recency, 1))
    return out


@dataclass(frozen=True)
class Edge:
    """Why incident `cause` is a direct cause of another: the evidence a report shows."""

    cause: int
    declared: bool  # the cause's signature lists the symptom's in `leads_to`
    shared_requests: int
    overlap_seconds: float  # how long both were happening (0.0 when either is a single moment or has no time)
    gap_seconds: float  # the time between them when they do not overlap

    def strength(self) -> tuple[bool, int, float, float]:
        return (self.declared, self.shared_requests, -self.gap_seconds, self.overlap_seconds)


def _timing(c: dict[str, Any], s: dict[str, Any], slack: timedelta) -> tuple[float, float] | None:
    """(overlap, gap) in seconds when C can have caused S: it began before S ended (give or take CAUSE_LAG)
    and the two are at most `slack` apart; None otherwise. Times unknown: (0.0, 0.0)."""
    if any(t is None for t in (c["first_seen"], c["last_seen"], s["first_seen"], s["last_seen"])):
        return (0.0, 0.0)
    if c["first_seen"] > s["last_seen"] + CAUSE_LAG:
        return None
    between = (max(c["first_seen"], s["first_seen"]) - min(c["last_seen"], s["last_seen"])).total_seconds()
    if between > slack.total_seconds():
        return None
    return (-between, 0.0) if between < 0 else (0.0, between)


def _edges(rows: list[dict[str, Any]], slack: timedelta) -> dict[int, list[Edge]]:
    """symptom row -> its direct causes (at most MAX_CAUSES, strongest evidence first; rows in fingerprint
    order, so ties resolve the same way in every run)."""
    request_sets = [set(r["request_ids"] or ()) for r in rows]
    edges: dict[int, list[Edge]] = {}
    for c, cause in enumerate(rows):
        for s, symptom in enumerate(rows):
            if c == s:
                continue
            declared = symptom["signature"] in (cause["leads_to"] or ())
            if not declared and not (cause["role"] == "cause" and symptom["role"] == "symptom"):
                continue
            shared = len(request_sets[c] & request_sets[s])
            timing = _timing(cause, symptom, slack) if declared or shared else None
            if timing is not None:
                edges.setdefault(s, []).append(Edge(c, declared, shared, *timing))
    return {s: sorted(found, key=Edge.strength, reverse=True)[:MAX_CAUSES] for s, found in edges.items()}


def _primary_causes(edges: dict[int, list[Edge]]) -> dict[int, int]:
    """symptom -> the cause it sits under: its strongest cause, unless that closes a loop."""
    parent: dict[int, int] = {}
    for s in sorted(edges):
        for edge in edges[s]:
            ancestor: int | None = edge.cause
            while ancestor is not None and ancestor != s:
                ancestor = parent.get(ancestor)
            if ancestor is None:
                parent[s] = edge.cause
                break
    return parent


def _raised(levels: list[int], parent: dict[int, int]) -> list[int]:
    """Each incident's severity level, raised to that of the worst incident it (transitively) causes."""
    out = list(levels)
    for s in parent:
        node, level = s, out[s]
        while node in parent:
            node = parent[node]
            if out[node] >= level:
                break
            out[node] = level
    return out


def _order(keys: list[tuple[Any, ...]], levels: list[int], parent: dict[int, int]) -> list[int]:
    """Rows in reading order: by key, each cause followed at once by its symptoms where severity allows."""
    natural = sorted(range(len(keys)), key=lambda i: keys[i])
    children: dict[int, list[int]] = {}
    for i in natural:
        if i in parent:
            children.setdefault(parent[i], []).append(i)
    placed: set[int] = set()
    out: list[int] = []

    def next_level(excluding: int) -> int:
        return next((levels[i] for i in natural if i not in placed and i != excluding), -1)

    def place(i: int) -> None:
        placed.add(i)
        out.append(i)
        for child in children.get(i, []):
            if child not in placed and next_level(child) <= levels[child]:
                place(child)

    for i in natural:
        if i not in placed:
            root = i  # a cause comes first: moved up above its symptom, which severity allows (it was raised)
            while root in parent and parent[root] not in placed:
                root = parent[root]
            place(root)
    return out


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def _why(i: int, rows: list[dict[str, Any]], levels: list[int], base: list[int], parent: dict[int, int],
         edges: dict[int, list[Edge]], rank_of: dict[int, int]) -> str:
    """One line saying why the incident sits where it does: severity (and why raised), impact, causes."""
    r = rows[i]
    severity = SEVERITIES[levels[i]]
    if levels[i] > base[i]:
        effects = sorted(rank_of[s] for s, p in parent.items() if p == i and s in rank_of)
        severity += f" (raised from {SEVERITIES[base[i]]}: it causes " + (
            ", ".join(f"#{n}" for n in effects) if effects else "a hidden incident") + ")"
    failed, affected = r["failed_requests"] or 0, r["affected_requests"] or 0
    if affected:
        impact = f"{_plural(failed, 'failed request')} of {_plural(affected, 'affected request')}"
    else:
        impact = f"{_plural(r['count'] or 0, 'occurrence')}, no request affected"
    causes = [f"#{rank_of[e.cause]}" for e in edges.get(i, []) if e.cause in rank_of]
    return "; ".join([severity, impact] + (["caused by " + ", ".join(causes)] if causes else []))


def rank(incidents: pl.DataFrame, slack: timedelta = CAUSAL_SLACK, min_severity: str = "info") -> pl.DataFrame:
    """Add `score`, `caused_by` (causes with evidence), `severity` (raised for causes), `why` and `rank`; sorted.

    Needs columns severity, role, signature, leads_to, count, affected_requests, failed_requests,
    request_ids, first_seen, last_seen, fingerprint. Incidents below `min_severity` get no rank.
    """
    if incidents.height == 0:
        return incidents.with_columns(
            pl.lit(None, dtype=pl.Float64).alias("score"),
            pl.lit(None, dtype=pl.List(CAUSE_SCHEMA)).alias("caused_by"),
            pl.lit(None, dtype=pl.String).alias("why"),
            pl.lit(None, dtype=pl.Int64).alias("rank"),
        )
    incidents = incidents.sort("fingerprint")
    rows = incidents.select(
        "severity", "role", "signature", "leads_to", "count", "affected_requests", "failed_requests", "request_ids",
        "first_seen", "last_seen", "fingerprint",
    ).to_dicts()
    scores = _scores(rows)
    edges = _edges(rows, slack)
    parent = _primary_causes(edges)
    base = [_level(r["severity"]) for r in rows]
    levels = _raised(base, parent)
    keys = [
        (-levels[i], -(r["failed_requests"] or 0), -(r["affected_requests"] or 0), -(r["count"] or 0), -scores[i],
         r["fingerprint"])
        for i, r in enumerate(rows)
    ]
    floor = _level(min_severity)
    shown = [i for i in _order(keys, levels, parent) if levels[i] >= floor]
    hidden = sorted((i for i in range(len(rows)) if levels[i] < floor), key=lambda i: keys[i])
    rank_of = {i: position for position, i in enumerate(shown, start=1)}
    caused_by = [
        [{"fingerprint": rows[e.cause]["fingerprint"], "declared": e.declared, "shared_requests": e.shared_requests,
          "overlap_seconds": e.overlap_seconds, "gap_seconds": e.gap_seconds} for e in edges.get(i, [])]
        for i in range(len(rows))
    ]
    why = [_why(i, rows, levels, base, parent, edges, rank_of) for i in range(len(rows))]
    order = shown + hidden
    return incidents.with_columns(
        pl.Series("severity", [SEVERITIES[level] for level in levels], dtype=pl.String),
        pl.Series("score", scores, dtype=pl.Float64),
        pl.Series("caused_by", caused_by, dtype=pl.List(CAUSE_SCHEMA)),
        pl.Series("why", why, dtype=pl.String),
        pl.Series("rank", [rank_of.get(i) for i in range(len(rows))], dtype=pl.Int64),
    )[order]
