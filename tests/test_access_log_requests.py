"""Servers that log no request IDs: each failed (5xx) or refused (4xx) request their access log shows is a
request of its own; a 2xx or 3xx is none.

tests/real_lines/ holds what hypercorn, Granian, gunicorn and uvicorn (under journald, or alone) print
by default: a `"GET /promo/code-N ..." 500` access line next to each `KeyError: 'code-N'` traceback, before it
(hypercorn, Granian) or after it, and no request ID anywhere. Each error is tied to the request its access line
tells (analyzer.analysis.correlate `seen_pairs`): its own, never one of another process or service, never a
refused one. A storm of refused requests (gunicorn's, uvicorn's through Loguru beside the app's own line of
each) affects every request it counts, and fails none.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from conftest import ROOT, json_report, read_events
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.analysis.correlate import SEEN_PREFIX, Traces, link_frames
from analyzer.commands.tail import TailFormat, run_tail
from analyzer.events import SCHEMA, conform

REAL = ROOT / "tests/real_lines"
#: file -> requests that failed with their KeyError (the access line names the code the traceback ends with)
FAILED = {"hypercorn.log": 12, "granian.log": 12, "journald_short.log": 3, "journald_short-precise.log": 3,
          "journald_short-iso.log": 3, "gunicorn_workers.log": 8,  # gunicorn: two workers, error log and access log
          "uvicorn_workers.log": 1,  # no times: tied by line
          "gunicorn_storm.log": 3}  # gunicorn: in the seconds of a storm of 422s, times in whole seconds


def _links(path: Path) -> list[tuple[str, str | None]]:
    """(the code its KeyError names, the path of the request it is tied to) of each traceback of `path`."""
    events, _ = read_events(path)
    traces = Traces()
    for batch in events.iter_slices(7):  # small batches, as tail feeds them: the partial traces merge
        traces.add(batch)
    errors = events.filter(pl.col("exc_type").is_not_null() & pl.col("request_id").is_null())
    (linked,) = link_frames([errors.with_columns(pl.lit(None, dtype=pl.String).alias("linked_by"))], traces.table)
    paths = dict(traces.table.select("request_id", "http_path").iter_rows())
    return [(re.findall(r"KeyError: '([^']*)'", text)[-1], paths.get(rid))
            for text, rid in linked.select("text", "request_id").iter_rows()]


def test_each_traceback_is_tied_to_the_failed_request_its_access_line_tells():
    for name, failed in FAILED.items():
        links = _links(REAL / name)
        assert len(links) == failed, name
        assert all(path == f"/promo/{code}" for code, path in links), (name, links)


def test_the_incident_counts_its_failed_requests_and_shows_one_as_seen_in_the_access_log(cli, monkeypatch):
    monkeypatch.chdir(ROOT)
    for name, failed in FAILED.items():
        report = json_report(cli, f"tests/real_lines/{name}", "--all")
        top = next(i for i in report["incidents"] if i["title"].startswith("KeyError: "))
        assert top["affected_requests"] == top["failed_requests"] == failed, name
        # named by where its access line is, never as an ID the application logged
        assert all(rid.startswith(SEEN_PREFIX + f"tests/real_lines/{name}:") for rid in top["request_ids"])
        trace = top["trace"]
        assert trace["request_id"] is None and trace["access_line"].startswith(f"tests/real_lines/{name}:")
        assert trace["status"] == 500 and trace["path"].startswith("/promo/") and trace["method"] == "GET"
        line = int(trace["access_line"].rsplit(":", 1)[1])
        assert '" 500 ' in (REAL / name).read_text().splitlines()[line - 1]


def test_the_terminal_report_says_the_request_was_seen_in_the_access_log(cli, plain_env, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = cli("scan", "tests/real_lines/hypercorn.log", "--all").stdout
    assert "count 12, 12 requests affected" in out
    assert "request seen in the access log at tests/real_lines/hypercorn.log:3" in " ".join(out.split())


def _two_workers(tmp_path: Path) -> Path:
    """hypercorn.log's requests as if two worker processes served them, each error printed after the other
    worker's access line: A0 A1 E0 E1, where the nearest access line to E0 is A1's, of the other process."""
    lines = (REAL / "hypercorn.log").read_text().splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.startswith("[")] + [len(lines)]
    records = ["".join(lines[a:b]) for a, b in zip(starts, starts[1:])]
    access = [r for r in records if '" 500 ' in r]
    errors = [r for r in records if "[ERROR]" in r]
    out = []
    for n in range(0, len(access), 2):
        pids = ["[17872]", "[17873]"]
        for k in (n, n + 1):
            out.append(access[k].replace("[17872]", pids[k - n], 1))
        for k in (n, n + 1):
            out.append(errors[k].replace("[17872]", pids[k - n], 1))
    path = tmp_path / "hypercorn-workers.log"
    path.write_text("".join(out))
    return path


def test_an_error_is_never_tied_to_another_processs_request(tmp_path, cli):
    path = _two_workers(tmp_path)
    links = _links(path)
    # even codes were served by the first process, odd ones by the second (within one process, in one second,
    # the access line before a traceback and the one after it may be as near: either may be taken for its own)
    assert all(p is not None and int(code[5:]) % 2 == int(p.rsplit("-", 1)[1]) % 2 for code, p in links), links
    assert len({p for _, p in links}) == 12  # one error per request
    report = json_report(cli, str(path))
    assert report == json_report(cli, str(path), "--exhaustive")
    assert report["incidents"][0]["failed_requests"] == 12


def test_services_that_log_request_ids_tie_nothing_to_their_access_lines():
    events, _ = read_events(ROOT / "samples/api/api-text.log")  # uvicorn's access lines beside an app's IDs
    traces = Traces()
    traces.add(events)
    seen = traces.table.filter(pl.col("request_id").str.starts_with(SEEN_PREFIX)).get_column("request_id")
    errors = events.filter(pl.col("exc_type").is_not_null() & pl.col("request_id").is_null())
    (linked,) = link_frames([errors.with_columns(pl.lit(None, dtype=pl.String).alias("linked_by"))], traces.table)
    assert seen.len() > 0 and not linked.get_column("request_id").is_in(seen.implode()).any()


T0 = datetime(2026, 12, 4, tzinfo=UTC)
SPACING_MS = 3000  # between a worker's requests: a neighbour's access line is always farther than its own (<= 900 ms)

request = st.tuples(st.integers(0, 4000), st.integers(0, 900), st.booleans(), st.booleans())  # extra gap, gap, error first, erred
worker = st.lists(request, min_size=1, max_size=6)


def _interleaved(workers: dict[tuple[str, int], list[tuple]], offsets: list[int]) -> list[dict]:
    """Each worker's (service, process) requests one after another, every worker's beside the others': a 500
    access line each and, for most, an error before or after it; in time order, numbered lines of one file."""
    rows: list[dict] = []
    for n, ((service, pid), requests) in enumerate(sorted(workers.items())):
        at = T0 + timedelta(milliseconds=offsets[n])
        for k, (extra, gap, error_first, erred) in enumerate(requests):
            at += timedelta(milliseconds=SPACING_MS + extra)
            name = f"{service}-{pid}-{k}"
            access = at + timedelta(milliseconds=gap if error_first else 0)
            rows.append({"ts": access, "service": service, "pid": pid, "level": "info", "http_method": "GET",
                         "http_path": f"/{name}", "http_status": 500, "message": f'"GET /{name} HTTP/1.1" 500'})
            if erred:
                rows.append({"ts": at + timedelta(milliseconds=0 if error_first else gap), "service": service,
                             "pid": pid, "level": "error", "exc_type": "KeyError", "message": name})
    rows.sort(key=lambda r: (r["ts"], r["message"]))
    return [{**r, "source": "gen.log", "line_no": i + 1} for i, r in enumerate(rows)]


def _tied(rows: list[dict], batch: int) -> dict[str, str | None]:
    """Each error's (by its request's name) request, the rows fed to the trace table `batch` at a time."""
    events = conform(pl.DataFrame(rows, schema_overrides={k: v for k, v in SCHEMA.items() if k in rows[0] or k == "exc_type"}))
    traces = Traces()
    for part in events.iter_slices(batch):
        traces.add(part)
    errors = events.filter(pl.col("level") == "error")
    (linked,) = link_frames([errors.with_columns(pl.lit(None, dtype=pl.String).alias("linked_by"))], traces.table)
    return dict(linked.select("message", "request_id").iter_rows())


workers = st.dictionaries(st.tuples(st.sampled_from(["web", "api"]), st.sampled_from([101, 102, 103])), worker,
                          min_size=1, max_size=6)
offsets = st.lists(st.integers(0, 5000), min_size=6, max_size=6)


@settings(max_examples=60, deadline=None)
@given(workers=workers, offsets=offsets, batch=st.integers(1, 40))
def test_each_error_ties_to_its_own_request_or_none_never_another_process_or_service(workers, offsets, batch):
    rows = _interleaved(workers, offsets)
    own = {r["http_path"]: SEEN_PREFIX + f"gen.log:{r['line_no']}" for r in rows if r["level"] == "info"}
    tied = _tied(rows, batch)
    assert all(rid in (None, own[f"/{name}"]) for name, rid in tied.items()), tied
    assert None not in tied.values()  # each has its own, moments away


@settings(max_examples=40, deadline=None)
@given(workers=workers, offsets=offsets, batch=st.integers(1, 40))
def test_without_times_an_error_ties_only_to_a_request_of_its_own_process_and_service(workers, offsets, batch):
    rows = [{**r, "ts": None} for r in _interleaved(workers, offsets)]  # tied by line alone
    whose = {SEEN_PREFIX + f"gen.log:{r['line_no']}": (r["service"], r["pid"]) for r in rows if r["level"] == "info"}
    tied = _tied(rows, batch)
    assert all(rid is None or whose[rid] == tuple(name.split("-")[:1] + [int(name.split("-")[1])])
               for name, rid in tied.items()), tied
    # an error and its own access line side by side (no other worker wrote between them) are tied
    for a, b in zip(rows, rows[1:]):
        error, access = (a, b) if a["level"] == "error" else (b, a)
        if error["level"] == "error" and access["level"] == "info" and access["http_path"] == f"/{error['message']}":
            assert tied[error["message"]] is not None


@settings(max_examples=40, deadline=None)
@given(workers=workers, offsets=offsets, batch=st.integers(1, 40), refused=st.lists(st.sampled_from([401, 404, 422, 429]), max_size=36))
def test_an_error_is_never_tied_to_a_refused_request(workers, offsets, batch, refused):
    """Some requests refused (a 4xx) instead of failed: each is a request of its own, but an error goes only to
    a failed one, its own when that failed."""
    rows = _interleaved(workers, offsets)
    access = [r for r in rows if r["level"] == "info"]
    for row, status in zip(access, refused):
        row["http_status"], row["message"] = status, row["message"].replace("500", str(status))
    status = {SEEN_PREFIX + f"gen.log:{r['line_no']}": r["http_status"] for r in access}
    tied = _tied(rows, batch)
    assert all(rid is None or status[rid] == 500 for rid in tied.values()), tied
    own = {r["http_path"]: SEEN_PREFIX + f"gen.log:{r['line_no']}" for r in access if r["http_status"] == 500}
    assert all(rid == own[f"/{name}"] for name, rid in tied.items() if f"/{name}" in own), tied


def test_failed_requests_rank_an_error_above_a_more_frequent_one_that_failed_none(tmp_path, cli):
    log = tmp_path / "hypercorn.log"
    later = "".join(f"[2026-12-04 00:53:{n:02d} +0000] [17872] [ERROR] cache refresh failed: timeout\n" for n in range(20))
    log.write_text((REAL / "hypercorn.log").read_text() + later)
    first, second = json_report(cli, str(log))["incidents"][:2]
    assert first["signature"] == "unhandled_asgi_exception" and first["failed_requests"] == 12 and first["count"] == 12
    assert second["count"] == 20 and second["affected_requests"] == 0 and first["severity"] == second["severity"]


def test_an_app_line_beside_the_access_line_of_one_request_counts_it_once(cli, write):
    """A service that logs no IDs but whose app logs each request in a line of its own (a middleware's
    `POST /orders status=500 duration=18ms`) beside uvicorn's access line (real Loguru-intercepted lines, their
    422s made 500s): each of the 25 failed requests is one occurrence and one request, not two."""
    text = (REAL / "loguru_intercept_422_storm.log").read_text().replace("422", "500")
    assert text.count('HTTP/1.1" 500') == text.count("status=500") == 25
    report = json_report(cli, str(write("app.log", text)))
    (storm,) = [i for i in report["incidents"] if i["signature"] == "http_5xx_storm"]
    assert (storm["count"], storm["affected_requests"], storm["failed_requests"]) == (25, 25, 25)
    assert all(rid.startswith(SEEN_PREFIX) for rid in storm["request_ids"])
    assert report == json_report(cli, str(write("app.log", text)), "--exhaustive")


#: file -> what printed each refused request's access line: gunicorn alone (two workers; 5xx and 2xx among
#: them), uvicorn through Loguru beside the app's own `POST /orders status=422 duration=1ms` line of each
STORMS = {"gunicorn_storm.log": r'" 422 \d', "loguru_intercept_422_storm.log": r'HTTP/1\.1" 422$'}


def _lines(name: str, pattern: str) -> list[int]:
    return [n for n, line in enumerate((REAL / name).read_text().splitlines(), 1) if re.search(pattern, line)]


def test_a_storm_of_refused_requests_affects_each_request_it_counts_and_fails_none(cli, monkeypatch):
    monkeypatch.chdir(ROOT)
    for name, access in STORMS.items():
        path = f"tests/real_lines/{name}"
        report = json_report(cli, path, "--all")
        (storm,) = [i for i in report["incidents"] if i["signature"] == "http_422_storm"]
        lines = _lines(name, access)
        assert len(lines) == 25, name
        # one request per access line (the app's line of the same request is not another), refused: not failed
        assert (storm["count"], storm["affected_requests"], storm["failed_requests"]) == (25, 25, 0), name
        assert sorted(storm["request_ids"]) == sorted(SEEN_PREFIX + f"{path}:{n}" for n in lines)
        assert "0 failed requests of 25 affected requests" in storm["why"]
        trace = storm["trace"]
        assert trace["request_id"] is None and trace["status"] == 422 and trace["method"] == "POST"
        assert int(trace["access_line"].rsplit(":", 1)[1]) in lines
        assert report == json_report(cli, path, "--all", "--exhaustive"), name


def test_only_access_lines_of_a_4xx_or_5xx_are_requests_of_their_own():
    """gunicorn's 25 422s and 3 500s are requests seen in its access log; its 200s and 201s are none."""
    events, _ = read_events(REAL / "gunicorn_storm.log")
    for batch in (7, events.height):
        traces = Traces()
        for part in events.iter_slices(batch):
            traces.add(part)
        seen = traces.table.filter(pl.col("request_id").str.starts_with(SEEN_PREFIX))
        lines = sorted(int(rid.rsplit(":", 1)[1]) for rid in seen.get_column("request_id"))
        assert lines == sorted(_lines("gunicorn_storm.log", r'" [45][0-9][0-9] \d')) and len(lines) == 28
        assert len(_lines("gunicorn_storm.log", r'" [23][0-9][0-9] \d')) == 7
        assert seen.get_column("http_status").value_counts().sort("http_status").rows() == [(422, 25), (500, 3)]


@pytest.mark.parametrize("screen", [False, True])
def test_tail_counts_a_storms_requests_as_scan_does(cli, screen):
    """The same bytes piped into `tail` (its small batches, its incremental incidents) and into `scan`."""
    for name in STORMS:
        data = (REAL / name).read_bytes()
        out = io.StringIO()
        assert run_tail(["-"], output=TailFormat.jsonl, stdin=io.BytesIO(data), out=out, screen=screen) == 0
        tail = json.loads(out.getvalue().splitlines()[-1])["report"]
        scan = json.loads(cli("scan", "-", "--format", "json", input=data).stdout)

        def requests(report: dict) -> list[tuple]:
            return sorted((i["fingerprint"], i["count"], i["affected_requests"], i["failed_requests"],
                           sorted(i["request_ids"]), (i["trace"] or {}).get("access_line")) for i in report["incidents"])

        assert requests(tail) == requests(scan), name
        (storm,) = [i for i in tail["incidents"] if i["signature"] == "http_422_storm"]
        assert (storm["affected_requests"], storm["failed_requests"]) == (25, 0), name
        assert "0 failed requests of 25 affected requests" in storm["why"], name


@pytest.mark.xfail(strict=True, reason="the screen drops a service's only lines that name a request (no status, no "
                   "level): screened, it looks like a service without IDs (analyzer.ingest.screen requests_to_link)")
@pytest.mark.parametrize("status", ["401 Unauthorized", "500 Internal Server Error"])
def test_a_service_whose_lines_with_ids_the_screen_drops_is_still_one_that_logs_ids(cli, write, status):
    """An app that names each request only in a `request started` line, beside uvicorn's access line: a service
    that logs IDs (its access lines are no requests of their own), screened or not."""
    text = "".join(
        f"2026-11-23 10:43:{n:02d}.020 | INFO     | shop.main:request_context:69 - request started method=GET path=/me"
        f" | req_id=00000000-0000-0000-0000-0000000000{n:02d}\n"
        f'INFO:     127.0.0.1:59142 - "GET /me HTTP/1.1" {status}\n' for n in range(30))
    path = str(write("app.log", text))
    assert json_report(cli, path) == json_report(cli, path, "--exhaustive")
