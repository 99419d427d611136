"""Request traces and ID-less records tied back to their request, on real sample logs."""

from __future__ import annotations

import json

import polars as pl
from conftest import ROOT, read_events

from analyzer.correlate import TraceLimits, Traces, link_requests

MANIFEST = json.loads((ROOT / "samples" / "manifest.json").read_text())
REQUESTS = {r["request_id"]: r for r in MANIFEST["runs"]["api-text"]["requests"]}


def traced(*paths):
    events, _ = read_events(*paths)
    traces = Traces()
    for batch in events.iter_slices(500):  # several batches: partial traces must merge
        traces.add(batch)
    return events, traces


def test_traces_summarize_each_request():
    _, traces = traced(ROOT / "samples/api/api-text.log")
    table = traces.table
    assert set(REQUESTS) <= set(table.get_column("request_id").to_list())
    for rid in ("8c7c3c47-aeb2-48e0-b67e-499e2b881061",):  # a MissingGreenlet request
        row = traces.lookup([rid]).row(0, named=True)
        assert row["services"] == ["api-text"]  # the file's stem: no envelope names the service
        assert row["http_status"] == REQUESTS[rid]["status"] == 500
        assert row["http_path"] == "/customers/1/summary"
        assert row["first_error"].startswith("request finished")
        first = json.loads(row["trail"].splitlines()[0])
        assert first["message"].startswith("request started") and first["service"] == "api-text"


def test_tracebacks_without_id_are_tied_to_their_failed_request():
    events, traces = traced(ROOT / "samples/api/api-text.log")
    orphans = events.filter(pl.col("exc_type").is_not_null() & pl.col("request_id").is_null())
    assert orphans.height == sum(r["status"] == 500 for r in REQUESTS.values()) == 8
    linked = link_requests(orphans, traces.table)
    assert linked.get_column("linked_by").to_list() == ["error"] * orphans.height
    for rid, exc in linked.select("request_id", "exc_type").iter_rows():
        assert REQUESTS[rid]["status"] >= 500, (rid, exc)
    # one traceback per failed request: none is claimed twice
    rids = linked.get_column("request_id")
    assert rids.n_unique() == rids.len()


def test_access_lines_are_tied_to_the_request_with_the_same_route_and_status():
    events, traces = traced(ROOT / "samples/api/api-text.log")
    access = events.filter((pl.col("logger") == "uvicorn.access") & (pl.col("http_status") == 422))
    linked = link_requests(access, traces.table)
    storm = {rid for rid, r in REQUESTS.items() if r["status"] == 422}
    got = linked.get_column("request_id").drop_nulls().to_list()
    assert len(got) == access.height == 34  # 30 in the storm, 4 sparse
    assert set(got) <= storm
    assert len(set(got)) >= 0.9 * len(storm)  # access lines of one route and status within ms may swap


def test_database_records_are_tied_to_the_request_in_flight():
    events, traces = traced(ROOT / "samples/compose/compose.log")
    slow = events.filter((pl.col("service") == "db") & (pl.col("duration_ms") >= 1000))
    linked = link_requests(slow, traces.table)
    expected = {s["request_id"] for i in MANIFEST["incidents"] if i["signature"] == "pg_slow_statement"
                and i.get("run") == "api-text" for s in i["statements"] if s["statement_sleep_ms"] >= 1000}
    assert set(linked.get_column("request_id").to_list()) == expected
    assert set(linked.get_column("linked_by").to_list()) == {"in_flight"}


def test_trace_table_is_bounded():
    events, _ = read_events(ROOT / "samples/api/api-text.log")
    traces = Traces(TraceLimits(max_traces=25))
    traces.add(events)
    assert traces.table.height <= 25
