"""Ranking: a score per incident, root causes linked to their symptoms and ranked above them.

Score (shown in every report)::

    score = weight(severity) x (1 + log10(count)) x (1 + log10(1 + affected_requests)) x recency

with weight critical 100, high 40, medium 15, low 5, info 1, and recency from
0.5 (the incident ended when the analysed period began) to 1.0 (it was still
happening at its end); 1.0 when the period has no times.

Root cause above its symptoms: incident C *causes* incident S when S's
signature is in C's `leads_to` and their time spans overlap (with `slack` on
either side). S then names C in `caused_by`, C ranks by the best score of
itself and everything it causes, and a cause always comes before the
incidents it causes (ties are broken by causal depth).
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Final

import polars as pl

SEVERITIES: Final = ("info", "low", "medium", "high", "critical")
SEVERITY_WEIGHT: Final[dict[str, float]] = {"critical": 100.0, "high": 40.0, "medium": 15.0, "low": 5.0, "info": 1.0}
CAUSAL_SLACK: Final = timedelta(seconds=60)


def severity_at_least(severity: pl.Expr, floor: str) -> pl.Expr:
    """True where `severity` is `floor` or worse."""
    return severity.is_in(list(SEVERITIES[SEVERITIES.index(floor) :]))


def _scores(incidents: pl.DataFrame) -> pl.Series:
    times = incidents.get_column("last_seen").drop_nulls()
    start = incidents.get_column("first_seen").min()
    end = times.max() if times.len() else None
    out = []
    for sev, count, affected, last in incidents.select(
        "severity", "count", "affected_requests", "last_seen"
    ).iter_rows():
        recency = 1.0
        if start is not None and end is not None and last is not None and end > start:  # type: ignore[operator]
            recency = 0.5 + 0.5 * ((last - start) / (end - start))  # type: ignore[operator]
        value = SEVERITY_WEIGHT.get(sev, 1.0) * (1 + math.log10(max(count, 1))) * (1 + math.log10(1 + affected))
        out.append(round(value * recency, 1))
    return pl.Series("score", out, dtype=pl.Float64)


def _causes(incidents: pl.DataFrame, slack: timedelta) -> dict[int, list[int]]:
    """symptom row -> cause rows, by leads_to and overlapping time spans."""
    rows = incidents.select("signature", "leads_to", "first_seen", "last_seen").to_dicts()
    causes: dict[int, list[int]] = {}
    for c, cause in enumerate(rows):
        for s, symptom in enumerate(rows):
            if c == s or symptom["signature"] not in (cause["leads_to"] or []):
                continue
            spans = (cause["first_seen"], cause["last_seen"], symptom["first_seen"], symptom["last_seen"])
            if any(t is None for t in spans) or (
                cause["first_seen"] - slack <= symptom["last_seen"] and symptom["first_seen"] <= cause["last_seen"] + slack
            ):
                causes.setdefault(s, []).append(c)
    return causes


def rank(incidents: pl.DataFrame, slack: timedelta = CAUSAL_SLACK) -> pl.DataFrame:
    """Add `score`, `caused_by` (fingerprints) and `rank` (1 = read first); sorted by rank.

    Needs columns severity, signature, leads_to, count, affected_requests, first_seen, last_seen, fingerprint.
    """
    if incidents.height == 0:
        return incidents.with_columns(
            pl.lit(None, dtype=pl.Float64).alias("score"),
            pl.lit(None, dtype=pl.List(pl.String)).alias("caused_by"),
            pl.lit(None, dtype=pl.Int64).alias("rank"),
        )
    scores = _scores(incidents).to_list()
    causes = _causes(incidents, slack)
    effective = list(scores)
    depth = [0] * len(scores)
    for _ in range(len(scores)):  # propagate along cause chains until stable (acyclic in practice; bounded anyway)
        changed = False
        for s, cs in causes.items():
            for c in cs:
                if effective[s] > effective[c]:
                    effective[c], changed = effective[s], True
                if depth[s] < depth[c] + 1 and depth[c] + 1 < len(scores):
                    depth[s], changed = depth[c] + 1, True
        if not changed:
            break
    prints = incidents.get_column("fingerprint").to_list()
    caused_by = [[prints[c] for c in causes.get(i, [])] for i in range(len(scores))]
    order = sorted(range(len(scores)), key=lambda i: (-effective[i], depth[i], -scores[i], prints[i]))
    ranks = [0] * len(scores)
    for position, i in enumerate(order, start=1):
        ranks[i] = position
    return incidents.with_columns(
        pl.Series("score", scores, dtype=pl.Float64),
        pl.Series("caused_by", caused_by, dtype=pl.List(pl.String)),
        pl.Series("rank", ranks, dtype=pl.Int64),
    ).sort("rank")
