"""Ranking: severity, then user impact; each cause directly above its symptoms, with evidence; `why` lines."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.analysis.ranking import MAX_CAUSES, SEVERITIES, rank

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def incident(fp, signature, severity, count, affected, start_s, end_s, leads_to=(), role="cause", failed=0,
             requests=()):
    return {
        "fingerprint": fp, "signature": signature, "severity": severity, "role": role, "count": count,
        "affected_requests": affected, "failed_requests": failed, "request_ids": list(requests),
        "first_seen": T0 + timedelta(seconds=start_s), "last_seen": T0 + timedelta(seconds=end_s),
        "leads_to": list(leads_to),
    }


def frame(*rows):
    return pl.DataFrame(list(rows), schema_overrides={"leads_to": pl.List(pl.String), "request_ids": pl.List(pl.String)})


def order(out: pl.DataFrame) -> list[str]:
    return out.get_column("fingerprint").to_list()


def causes(out: pl.DataFrame) -> dict[str, list[str]]:
    return {row["fingerprint"]: [c["fingerprint"] for c in row["caused_by"]] for row in out.iter_rows(named=True)}


def test_score_follows_the_documented_formula():
    out = rank(frame(incident("a", "x", "high", 10, 9, 0, 100), incident("b", "y", "low", 1, 0, 0, 0)))
    a = out.filter(pl.col("fingerprint") == "a").row(0, named=True)
    assert a["score"] == round(40 * (1 + math.log10(10)) * (1 + math.log10(10)) * 1.0, 1)
    b = out.filter(pl.col("fingerprint") == "b").row(0, named=True)
    assert b["score"] == round(5 * 1 * 1 * 0.5, 1)  # ended when the period began: recency 0.5
    assert order(out) == ["a", "b"]


def test_severity_first_then_failed_then_affected_requests():
    out = rank(frame(
        incident("many", "x", "medium", 900, 900, 0, 10, failed=0),
        incident("failing", "y", "medium", 5, 5, 0, 10, failed=5),
        incident("crit", "z", "critical", 1, 0, 0, 10),
        incident("some", "w", "medium", 50, 50, 0, 10, failed=0),
    ))
    assert order(out) == ["crit", "failing", "many", "some"]
    assert out.get_column("rank").to_list() == [1, 2, 3, 4]


def test_cause_sits_directly_above_its_symptom_and_is_raised_to_its_severity():
    out = rank(frame(
        incident("storm", "http_5xx_storm", "high", 500, 480, 10, 70, role="symptom", failed=480),
        incident("other", "missing_greenlet", "high", 40, 40, 0, 100, failed=40),
        incident("pool", "pool_exhausted", "high", 40, 40, 12, 60, leads_to=["http_5xx_storm"], role="symptom", failed=40),
        incident("db", "too_many_connections", "medium", 8, 0, 5, 20, leads_to=["pool_exhausted", "http_5xx_storm"]),
    ))
    assert order(out) == ["db", "pool", "storm", "other"]
    assert causes(out) == {"db": [], "pool": ["db"], "storm": ["pool", "db"], "other": []}
    db = out.row(0, named=True)
    assert db["severity"] == "high" and "raised from medium" in db["why"] and "#2" in db["why"]
    storm = out.row(2, named=True)
    assert storm["why"].startswith("high; 480 failed requests of 480 affected requests; caused by #2, #1")
    evidence = storm["caused_by"][0]
    assert evidence["declared"] is True and evidence["overlap_seconds"] > 0 and evidence["gap_seconds"] == 0


def test_no_causal_link_far_apart_in_time_or_when_the_cause_comes_after():
    out = rank(frame(
        incident("storm", "http_5xx_storm", "high", 500, 480, 3600, 3700, role="symptom"),
        incident("db", "too_many_connections", "medium", 8, 0, 0, 20, leads_to=["http_5xx_storm"]),
        incident("late", "deadlock", "high", 1, 1, 3800, 3800, leads_to=["http_5xx_storm"]),
    ))
    assert causes(out) == {"storm": [], "db": [], "late": []}
    assert order(out)[-1] == "db"


def test_shared_requests_link_a_cause_to_a_symptom_without_a_declared_edge():
    out = rank(frame(
        incident("slow", "slow_request", "medium", 3, 3, 0, 10, role="symptom", requests=["r1", "r2", "r3"]),
        incident("bug", "unknown", "medium", 2, 2, 0, 10, requests=["r1", "r2"]),
    ))
    [edge] = out.filter(pl.col("fingerprint") == "slow").row(0, named=True)["caused_by"]
    assert edge["fingerprint"] == "bug" and edge["declared"] is False and edge["shared_requests"] == 2


def test_at_most_three_causes_strongest_first():
    rows = [incident("sym", "http_5xx_storm", "high", 10, 10, 0, 60, role="symptom", requests=["r1", "r2"])]
    rows += [incident(f"c{n}", f"cause{n}", "high", 1, 1, n, n, leads_to=["http_5xx_storm"], requests=["r1"] * (n == 4))
             for n in range(5)]
    out = rank(frame(*rows))
    found = causes(out)["sym"]
    assert len(found) == MAX_CAUSES and found[0] == "c4"


def test_hidden_incidents_take_no_rank():
    out = rank(frame(incident("a", "x", "high", 1, 0, 0, 1), incident("b", "y", "info", 1, 0, 0, 1),
                     incident("c", "z", "medium", 1, 0, 0, 1)), min_severity="medium")
    assert out.get_column("rank").to_list() == [1, 2, None]
    assert order(out) == ["a", "c", "b"]


_SEV = st.sampled_from(SEVERITIES)
_SIGS = [f"s{n}" for n in range(6)]


@st.composite
def incident_sets(draw):
    n = draw(st.integers(1, 8))
    rows = []
    for i in range(n):
        start = draw(st.integers(0, 300))
        rows.append(incident(
            f"f{i}", draw(st.sampled_from(_SIGS)), draw(_SEV), draw(st.integers(1, 50)), draw(st.integers(0, 50)),
            start, start + draw(st.integers(0, 120)), leads_to=draw(st.lists(st.sampled_from(_SIGS), max_size=3)),
            role=draw(st.sampled_from(["cause", "symptom"])), failed=draw(st.integers(0, 5)),
            requests=draw(st.lists(st.sampled_from(["r1", "r2", "r3", "r4"]), max_size=3, unique=True)),
        ))
    return rows


@settings(max_examples=150, deadline=None)
@given(incident_sets())
def test_nothing_ranks_above_a_more_severe_incident_unless_it_is_its_cause(rows):
    out = rank(frame(*rows)).to_dicts()
    assert [r["rank"] for r in out] == list(range(1, len(out) + 1))
    level = {r["fingerprint"]: SEVERITIES.index(r["severity"]) for r in out}
    caused = {r["fingerprint"]: {c["fingerprint"] for c in r["caused_by"]} for r in out}
    for i, upper in enumerate(out):
        assert len(upper["caused_by"]) <= MAX_CAUSES
        for lower in out[i + 1:]:
            if level[upper["fingerprint"]] < level[lower["fingerprint"]]:
                assert upper["fingerprint"] in caused[lower["fingerprint"]], (upper, lower)
