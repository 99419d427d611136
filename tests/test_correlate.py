"""Request traces and ID-less records tied back to their request, on real sample logs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
from conftest import ROOT, json_report, read_events
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.analysis.engine import Analysis
from analyzer.analysis.correlate import TraceLimits, Traces, link_frames
from analyzer.diagnostics import Diagnostics
from analyzer.ingest.pipeline import Pipeline
from analyzer.analysis.signatures import load_signatures
from analyzer.ingest.sources import resolve

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
    (linked,) = link_frames([orphans], traces.table)
    assert linked.get_column("linked_by").to_list() == ["error"] * orphans.height
    for rid, exc in linked.select("request_id", "exc_type").iter_rows():
        assert REQUESTS[rid]["status"] >= 500, (rid, exc)
    # one traceback per failed request: none is claimed twice
    rids = linked.get_column("request_id")
    assert rids.n_unique() == rids.len()


def test_access_lines_are_tied_to_the_request_with_the_same_route_and_status():
    events, traces = traced(ROOT / "samples/api/api-text.log")
    access = events.filter((pl.col("logger") == "uvicorn.access") & (pl.col("http_status") == 422))
    (linked,) = link_frames([access], traces.table)
    storm = {rid for rid, r in REQUESTS.items() if r["status"] == 422}
    got = linked.get_column("request_id").drop_nulls().to_list()
    assert len(got) == access.height == 34  # 30 in the storm, 4 sparse
    assert set(got) <= storm
    assert len(set(got)) >= 0.9 * len(storm)  # access lines of one route and status within ms may swap


def test_database_records_are_tied_to_the_request_in_flight():
    events, traces = traced(ROOT / "samples/compose/compose.log")
    slow = events.filter((pl.col("service") == "db") & (pl.col("duration_ms") >= 1000))
    (linked,) = link_frames([slow], traces.table)
    expected = {s["request_id"] for i in MANIFEST["incidents"] if i["signature"] == "pg_slow_statement"
                and i.get("run") == "api-text" for s in i["statements"] if s["statement_sleep_ms"] >= 1000}
    assert set(linked.get_column("request_id").to_list()) == expected
    assert set(linked.get_column("linked_by").to_list()) == {"in_flight"}


def _compose_minutes_apart(minutes: int) -> str:
    """`docker compose logs` of an API (Loguru, request IDs) and PostgreSQL (stderr): a request in flight while
    the database reports an error for it, then `minutes` later a warning (a record every scan reads)."""
    def api(at: str, text: str) -> str:
        return f"api-1  | 2026-11-23 {at} | INFO     | app.middleware:log_requests:41 - {text}\n"
    return (
        api("00:00:00.000", "--> GET /orders/7 | req_id=0f1e2d3c4b5a69788796a5b4c3d2e1f0")
        + 'db-1   | 2026-11-23 00:00:00.100 UTC [4242] ERROR:  relation "orders_archive" does not exist at character 15\n'
        + "db-1   | 2026-11-23 00:00:00.100 UTC [4242] STATEMENT:  SELECT * FROM orders_archive\n"
        + api("00:00:00.200", "GET /orders/7 200 200.00ms | req_id=0f1e2d3c4b5a69788796a5b4c3d2e1f0")
        + api(f"00:{minutes:02d}:00.000", "GET /health 200 1.00ms | req_id=aaaabbbbccccddddeeeeffff00001111")
        .replace("INFO    ", "WARNING ")
    )


def test_a_batch_longer_than_the_trace_horizon_ties_its_first_records_to_their_requests(cli, write):
    """The trace table drops an un-notable request once the newest one ended a horizon later; a batch spanning
    more than that (one quiet night in one chunk) used to drop it on arrival, before the batch's own database
    error was tied to it. Screened and exhaustive scans read the batch differently, so they disagreed too."""
    path = write("compose.log", _compose_minutes_apart(int(TraceLimits().horizon.total_seconds() // 60) + 5))
    report = json_report(cli, str(path))
    (missing,) = [i for i in report["incidents"] if i["signature"] == "relation_missing"]
    assert missing["request_ids"] == ["0f1e2d3c4b5a69788796a5b4c3d2e1f0"]
    assert missing["affected_requests"] == 1
    assert report == json_report(cli, str(path), "--exhaustive")


def test_trace_table_is_bounded():
    events, _ = read_events(ROOT / "samples/api/api-text.log")
    traces = Traces(TraceLimits(max_traces=25))
    traces.add(events)
    assert traces.table.height <= 25


@settings(max_examples=8, deadline=None)
@given(size=st.integers(min_value=1, max_value=400))
def test_the_trace_table_is_the_same_whatever_the_batches(size):
    """A request whose records span batches is merged; one seen once is appended: the table holds the same
    traces as when the input comes in one batch."""
    events, _ = read_events(ROOT / "samples/compose/compose.log")
    whole, batched = Traces(), Traces()
    whole.add(events)
    for start in range(0, events.height, size):
        batched.add(events.slice(start, size))
    assert batched.table.sort("request_id").equals(whole.table.sort("request_id"))


def test_a_table_with_slack_is_cut_back_to_its_cap_keeping_the_latest():
    """Past its cap by more than the slack, the table is cut to the cap: the traces that ended last stay."""
    events, _ = read_events(ROOT / "samples/api/api-text.log")
    traces = Traces(TraceLimits(max_traces=25, slack=10))
    everything = Traces(TraceLimits(max_traces=10**6))
    heights, cuts = [], 0
    for start in range(0, events.height, 20):
        batch = events.slice(start, 20)
        before, known = traces.table.height, everything.table.height
        traces.add(batch)
        everything.add(batch)
        heights.append(traces.table.height)
        if traces.table.height < before + everything.table.height - known:  # some were cut
            cuts += 1
            assert traces.table.height == 25
            latest = everything.table.sort("end", nulls_last=True).tail(25).get_column("request_id")
            assert set(traces.table.get_column("request_id").to_list()) == set(latest.to_list())
    assert cuts and max(heights) <= 35 and max(heights) > 25  # past the cap by at most the slack, then cut


def test_records_are_linked_while_their_requests_are_still_known(write):
    """A long input prunes old traces; evidence is tied to its request before that, so links do not depend on it.

    Ten minutes of compose output, one request every 2 s, each with a slow statement on the db
    service while it runs. A trace table that keeps only the last 120 requests gives the same
    300 affected requests as the default one: each statement was linked once its request had
    ended, while that request was still in the table (linking only at the end would find 120).
    """
    t0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

    def at(seconds: float, fmt: str) -> str:
        return (t0 + timedelta(seconds=seconds)).strftime(fmt)[:-3]

    lines = []
    for i in range(300):
        rid, start = f"req-{i:04d}", i * 2.0
        api = at(start, "%Y-%m-%d %H:%M:%S.%f")
        lines.append(f"api-1  | {api} | INFO     | shop.main:request_context:78 - request started method=GET "
                     f"path=/report | req_id={rid}\n")
        db = at(start + 1.0, "%Y-%m-%d %H:%M:%S.%f")
        lines.append(f"db-1   | {db} UTC [{100 + i}] LOG:  duration: 800.000 ms  statement: SELECT pg_sleep(0.8)\n")
        end = at(start + 1.2, "%Y-%m-%d %H:%M:%S.%f")
        lines.append(f"api-1  | {end} | INFO     | shop.main:request_context:78 - request finished method=GET "
                     f"path=/report status=200 duration_ms=1200.0 | req_id={rid}\n")
    log = write("compose.log", "".join(lines))
    diag = Diagnostics()
    batches = list(Pipeline(diag, chunk_bytes=16 << 10).run(resolve([str(log)], diag)))

    def slow_statements(limits: TraceLimits) -> tuple[int, int]:
        run = Analysis(load_signatures([]), traces=Traces(limits))
        for batch in batches:
            run.add(batch)
        assert run.traces.table.height <= limits.max_traces
        found = run.incidents().filter(pl.col("signature") == "pg_slow_statement")
        return found.select(pl.col("count").sum(), pl.col("affected_requests").sum()).row(0)

    assert slow_statements(TraceLimits()) == (300, 300)
    # a table that holds the last 240 s (120 requests): SETTLE + SETTLE_BATCH + a batch, not the whole input
    assert slow_statements(TraceLimits(horizon=timedelta(seconds=240), max_traces=120)) == (300, 300)


def test_records_outside_requests_are_never_tied_to_one(write):
    """A healthcheck's FATAL (`in_requests = false`) logged while a request runs stays unlinked; a slow query
    logged at the same moment is tied to that request."""
    lines = [
        ("api-1  | 2026-11-23 10:00:00.000 | INFO     | shop.main:request_context:78 - request started method=GET "
        "path=/report | req_id=req-1\n"),
        'db-1   | 2026-11-23 10:00:00.500 UTC [101] FATAL:  role "root" does not exist\n',
        "db-1   | 2026-11-23 10:00:00.600 UTC [102] LOG:  duration: 550.000 ms  statement: SELECT pg_sleep(0.55)\n",
        ("api-1  | 2026-11-23 10:00:01.000 | INFO     | shop.main:request_context:78 - request finished method=GET "
        "path=/report status=200 duration_ms=1000.0 | req_id=req-1\n"),
    ]
    events, _ = read_events(write("compose.log", "".join(lines)))
    run = Analysis(load_signatures([]))
    run.add(events)
    found = {sig: rids for sig, rids in run.incidents().select("signature", "request_ids").iter_rows()}
    assert found["pg_slow_statement"] == ["req-1"]
    assert found["pg_healthcheck_role_missing"] == []
