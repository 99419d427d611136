"""Ranking: the documented score, and root causes ranked above the symptoms they lead to."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import polars as pl

from analyzer.analysis.ranking import rank

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def incident(fp, signature, severity, count, affected, start_s, end_s, leads_to=()):
    return {
        "fingerprint": fp, "signature": signature, "severity": severity, "count": count,
        "affected_requests": affected, "first_seen": T0 + timedelta(seconds=start_s),
        "last_seen": T0 + timedelta(seconds=end_s), "leads_to": list(leads_to),
    }


def frame(*rows):
    return pl.DataFrame(list(rows), schema_overrides={"leads_to": pl.List(pl.String)})


def test_score_follows_the_documented_formula():
    out = rank(frame(incident("a", "x", "high", 10, 9, 0, 100), incident("b", "y", "low", 1, 0, 0, 0)))
    a = out.filter(pl.col("fingerprint") == "a").row(0, named=True)
    assert a["score"] == round(40 * (1 + math.log10(10)) * (1 + math.log10(10)) * 1.0, 1)
    b = out.filter(pl.col("fingerprint") == "b").row(0, named=True)
    assert b["score"] == round(5 * 1 * 1 * 0.5, 1)  # ended when the period began: recency 0.5
    assert out.get_column("fingerprint").to_list() == ["a", "b"]


def test_cause_outranks_its_overlapping_symptoms_and_they_name_it():
    out = rank(frame(
        incident("storm", "http_5xx_storm", "high", 500, 480, 10, 70),
        incident("pool", "pool_exhausted", "high", 40, 40, 12, 60, leads_to=["http_5xx_storm"]),
        incident("db", "too_many_connections", "medium", 8, 0, 5, 20, leads_to=["pool_exhausted", "http_5xx_storm"]),
    ))
    assert out.get_column("fingerprint").to_list() == ["db", "pool", "storm"]
    caused = dict(zip(out.get_column("fingerprint"), out.get_column("caused_by").to_list(), strict=True))
    assert caused["db"] == []
    assert caused["pool"] == ["db"]
    assert sorted(caused["storm"]) == ["db", "pool"]


def test_no_causal_link_without_time_overlap():
    out = rank(frame(
        incident("storm", "http_5xx_storm", "high", 500, 480, 3600, 3700),
        incident("db", "too_many_connections", "medium", 8, 0, 0, 20, leads_to=["http_5xx_storm"]),
    ))
    assert out.get_column("fingerprint").to_list() == ["storm", "db"]
    assert out.get_column("caused_by").to_list() == [[], []]
