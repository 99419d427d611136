"""Incidents from events: window rules, fingerprints, counts per request, unknown clusters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from conftest import ROOT, read_events

from analyzer.analysis.engine import Analysis
from analyzer.analysis.incidents import fingerprint
from analyzer.analysis.signatures import load_signatures

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SIGS = load_signatures()


def loguru(at: float, message: str, level: str = "INFO", rid: str | None = None) -> str:
    ts = (T0 + timedelta(seconds=at)).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    suffix = f" | req_id={rid}" if rid else ""
    return f"{ts} | {level:<8} | shop.main:request_context:78 - {message}{suffix}\n"


def finished(at: float, status: int, path: str = "/orders", rid: str = "r", duration: float = 5.0) -> str:
    level = "ERROR" if status >= 500 else "INFO"
    return loguru(at, f"request finished method=POST path={path} status={status} duration_ms={duration}", level, rid)


def incidents_of(write, text: str) -> pl.DataFrame:
    events, _ = read_events(write("api.log", text))
    analysis = Analysis(SIGS)
    for batch in events.iter_slices(7):  # many small batches, as tail feeds them
        analysis.add(batch)
    return analysis.incidents()


def test_storm_needs_min_count_requests_within_the_window(write):
    below = "".join(finished(i * 2.5, 422, rid=f"req-a{i:03d}") for i in range(19))  # 19 in 45 s
    assert incidents_of(write, below).filter(pl.col("signature") == "http_422_storm").height == 0
    spread = "".join(finished(i * 4.0, 422, rid=f"req-b{i:03d}") for i in range(25))  # 25 in 96 s: never 20 in 60 s
    assert incidents_of(write, spread).filter(pl.col("signature") == "http_422_storm").height == 0
    storm = "".join(finished(100 + i * 0.5, 422, rid=f"req-c{i:03d}") for i in range(20))
    found = incidents_of(write, below + storm).filter(pl.col("signature") == "http_422_storm")
    assert found.height == 1
    row = found.row(0, named=True)
    assert row["key"] == "api|/orders"  # the rule's group_by: service and route
    assert row["affected_requests"] == row["count"]
    assert {f"req-c{i:03d}" for i in range(20)} <= set(row["request_ids"])


def test_storms_are_per_route(write):
    text = "".join(finished(i * 0.5, 422, path=f"/r{i % 2}", rid=f"req-x{i:03d}") for i in range(30))  # 15 per route
    assert incidents_of(write, text).filter(pl.col("signature") == "http_422_storm").height == 0


def test_unknown_errors_cluster_by_template_and_count_once_per_request(write):
    lines = []
    for i, sku in enumerate((4711, 5100, 5101)):
        rid = f"req-{i}"
        lines.append(loguru(i, f"reconcile failed: sku {sku} expected {i} got -1", "ERROR", rid))
        lines.append(finished(i + 0.1, 500, path="/inventory", rid=rid))
    found = incidents_of(write, "".join(lines)).filter(pl.col("signature") == "unknown")
    assert found.height == 1, found.select("template")
    row = found.row(0, named=True)
    assert row["template"] == "reconcile failed: sku <*> expected <*> got <*> | req_id=<*>"  # the miner's
    assert row["count"] == 3 and row["affected_requests"] == 3
    assert row["fingerprint"] == fingerprint("unknown", row["key"])


def test_fingerprint_is_stable_and_distinguishes_signature_and_key():
    assert fingerprint("relation_missing", "orders") == fingerprint("relation_missing", "orders")
    assert len({fingerprint(s, k) for s in ("relation_missing", "deadlock") for k in ("orders", "items")}) == 4


def test_compacting_evidence_keeps_every_count_and_request(monkeypatch):
    from analyzer.analysis import engine as analysis

    events, _ = read_events(ROOT / "samples/compose/compose.log")

    def incidents(every):
        monkeypatch.setattr(analysis, "COMPACT_EVERY", every)
        run = Analysis(SIGS)
        for batch in events.iter_slices(100):
            run.add(batch)
        found = run.incidents().sort("fingerprint")
        return found.select("fingerprint", "count", "affected_requests", "request_ids", "first_seen", "last_seen"), found

    whole, _ = incidents(10**9)
    compacted, frame = incidents(1)
    assert whole.equals(compacted)
    assert all(len(examples) >= 1 for examples in frame.get_column("examples").to_list())


def test_unknown_messages_without_an_exception_group_by_mined_template_across_batches(write):
    """A word that varies (a name, not a number) is a variable once enough values are seen, and the
    records of earlier batches regroup under the template it generalized to."""
    names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
    lines = [loguru(i, f"payment declined for customer {name} by gateway", "ERROR", f"req-p{i}")
             for i, name in enumerate(names)]
    lines += [loguru(20 + i, f"cache node {node} unreachable", "ERROR", f"req-c{i}") for i, node in enumerate(["a", "b"])]
    found = incidents_of(write, "".join(lines)).filter(pl.col("signature") == "unknown")
    by_template = dict(found.select("template", "count").iter_rows())
    payment = [t for t in by_template if t.startswith("payment declined")]
    assert len(payment) == 1 and by_template[payment[0]] == len(names), by_template
    assert "<*>" in payment[0]
    assert sum(t.startswith("cache node") for t in by_template) >= 1
