"""Layouts of sample set B (samples/deploy-b: real lines of a stack built differently from set A), read
the way any deployment writing them is read: each test takes its lines from the real files."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from analyzer.diagnostics import Diagnostics
from analyzer.ingest.pipeline import Pipeline
from analyzer.ingest.sources import resolve
from tests.conftest import ROOT

SET_B = ROOT / "samples" / "deploy-b"


def lines_of(path: Path, *needles: str) -> list[str]:
    """The lines of a real sample file that hold every needle."""
    return [line for line in path.read_text().splitlines() if all(n in line for n in needles)]


def events_of(tmp_path: Path, name: str, lines: list[str]) -> pl.DataFrame:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    diag = Diagnostics()
    return pl.concat(list(Pipeline(diag).run(resolve([str(path)], diag))))


def test_logfmt_quoted_values_are_read_as_the_program_printed_them(tmp_path):
    # structlog's LogfmtRenderer escapes quotes and newlines inside a quoted value
    refused = lines_of(SET_B / "worker/worker.log", "database connect failed")[0]
    failed = lines_of(SET_B / "worker/worker.log", "job failed")[0]
    assert '\\"127.0.0.1\\"' in refused and "\\n" in failed
    ev = events_of(tmp_path, "worker.log", [refused, failed]).sort("line_no")
    assert ev.get_column("format").to_list() == ["logfmt", "logfmt"]
    text = ev.get_column("text").to_list()
    assert 'connection to server at "127.0.0.1", port ' in text[0]
    assert "Connection refused\n\tIs the server running" in text[0]
    assert "Traceback (most recent call last):\n  File " in text[1]
    assert ev.get_column("exc_type").to_list() == [None, "psycopg.errors.QueryCanceled"]
    assert ev.get_column("message").to_list() == ["database connect failed", "job failed"]


def test_logfmt_unescapes_only_quoted_values():
    from analyzer.ingest.formats.logfmt import unescape_values

    assert unescape_values(r'level=info path=C:\new msg="say \"hi\"\\n" repr=' + r"'it\'s'") == (
        'level=info path=C:\\new msg="say "hi"\\n" repr=' + "'it's'"
    )


def test_gunicorn_access_extras_after_the_user_agent_end_in_a_request_id(tmp_path):
    # access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s %(L)s %({x-request-id}i)s'
    lines = lines_of(SET_B / "legacy/access.log", "GET /legacy/")
    ev = events_of(tmp_path, "access.log", lines).sort("line_no")
    assert set(ev.get_column("format")) == {"gunicorn_access"}
    rows = {r[4]: r for r in ev.select("http_method", "http_path", "http_status", "duration_ms", "request_id").rows()}
    report = [line for line in lines if "GET /legacy/report" in line][0]
    rid = report.rsplit(" ", 1)[1]
    assert rows[rid][:3] == ("GET", "/legacy/report", 200)
    assert abs(rows[rid][3] - float(report.split()[-2]) * 1000) < 1e-6  # %(L)s, seconds
    killed = [line for line in lines if "GET /legacy/export" in line][0]  # the request of the worker timeout
    assert rows[killed.rsplit(" ", 1)[1]][2] == 500


def test_gunicorn_access_extras_that_are_no_request_id(tmp_path):
    base = '127.0.0.1 - - [03/Dec/2026:19:05:14 +0000] "GET /legacy/report HTTP/1.1" 200 19'
    ev = events_of(tmp_path, "access.log", [
        base + ' "-" "python-httpx/0.29.0" 1200512 1.200512 -',  # the header missing
        base + " 1200512",  # no referer or user agent: %(D)s right after the size
        base,  # the common log format: status and size are no duration
    ]).sort("line_no")
    assert ev.select("duration_ms", "request_id").rows() == [(1200.512, None), (1200.512, None), (None, None)]


def test_stdlib_layout_with_a_bracketed_correlation_id(tmp_path):
    # '%(asctime)s %(levelname)s [%(correlation_id)s] %(name)s: %(message)s' (asgi-correlation-id's filter)
    lines = lines_of(SET_B / "web/web-text.log", "GET /reports/daily")
    rid = lines[0].split("[", 1)[1].split("]", 1)[0]
    ev = events_of(tmp_path, "web-text.log", lines[:1] + [
        "2026-12-03 19:05:33,247 INFO [-] ledger.access: GET /health status=200 duration=1ms",  # no ID in context
        f"2026-12-03 19:05:33,247 [INFO] ledger.access: [{rid}] GET /health status=200 duration=1ms",  # after the logger
    ]).sort("line_no")
    assert ev.select("format", "logger", "request_id").rows() == [
        ("python", "ledger.access", rid), ("python", "ledger.access", None), ("python", "ledger.access", rid)]
    assert ev.select("http_method", "http_path", "http_status").row(0) == ("GET", "/reports/daily", 200)
    assert ev.get_column("message").to_list()[1:] == ["GET /health status=200 duration=1ms"] * 2
    assert ev.get_column("duration_ms")[0] == float(lines[0].rsplit("duration=", 1)[1].removesuffix("ms"))


def test_the_aborted_gunicorn_worker_traceback_is_part_of_its_worker_timeout(tmp_path):
    # gunicorn 23 sync worker: the arbiter's WORKER TIMEOUT, then the worker's own `Error handling request`
    # traceback ending in SystemExit: 1 (raised by its SIGABRT handler): one occurrence, nothing unexplained
    import json

    from typer.testing import CliRunner

    from analyzer.commands.app import app

    path = tmp_path / "error.log"
    path.write_text((SET_B / "legacy/error.log").read_text())
    result = CliRunner().invoke(app, ["scan", str(path), "--format", "json"], catch_exceptions=False)
    incidents = json.loads(result.stdout)["incidents"]
    assert [(i["signature"], i["count"], i["records"]) for i in incidents] == [("worker_timeout", 1, 2)]


def test_a_worker_job_id_is_the_request_id_of_its_records(tmp_path):
    lines = lines_of(SET_B / "worker/worker.log", "job_id=")
    ev = events_of(tmp_path, "worker.log", lines).sort("line_no")
    assert ev.get_column("request_id").to_list() == [line.split("job_id=", 1)[1].split()[0] for line in lines]


def test_an_exception_line_left_alone_by_interleaved_tracebacks_keeps_its_type(tmp_path):
    # two gunicorn workers printed their QueuePool tracebacks at once into one 2>&1 pipe: the second
    # exception line ends up after another request's JSON line, on its own
    web = (SET_B / "web/web.log").read_text().splitlines()
    orphan = [line for line in web if line.startswith("sqlalchemy.exc.TimeoutError: QueuePool")][0]
    ev = events_of(tmp_path, "web.log", [web[0], orphan, "KeyError: 'theme'", "Note: not an exception",
                                         "Exiting: bye"]).sort("line_no")
    assert ev.get_column("exc_type").to_list()[1:] == ["sqlalchemy.exc.TimeoutError", "KeyError", None, None]


def test_every_request_of_the_interleaved_pool_timeouts_is_named(tmp_path):
    import json

    from typer.testing import CliRunner

    from analyzer.commands.app import app

    manifest = json.loads((SET_B / "manifest.json").read_text())
    want = next(i for i in manifest["incidents"] if i["signature"] == "pool_exhausted")
    result = CliRunner().invoke(app, ["scan", str(SET_B / "web/web.log"), "--format", "json"], catch_exceptions=False)
    found = [i for i in json.loads(result.stdout)["incidents"] if i["signature"] == "pool_exhausted"]
    assert [(i["count"], sorted(i["request_ids"])) for i in found] == [(4, sorted(want["request_ids"]))]


def _scan(path: Path) -> list[dict]:
    import json

    from typer.testing import CliRunner

    from analyzer.commands.app import app

    result = CliRunner().invoke(app, ["scan", str(path), "--format", "json"], catch_exceptions=False)
    return json.loads(result.stdout)["incidents"]


def test_database_errors_in_whole_seconds_go_to_the_requests_whose_service_logged_the_same_failure(tmp_path):
    # PostgreSQL's %t prints whole seconds: at 19:05:17 a ZeroDivisionError request, two missing-relation
    # requests and a WSGI request killed by its worker timeout all ended within that second; the database's
    # two ERRORs (app=ledger-web) belong to the two requests whose traceback tells the missing relation
    import json

    manifest = json.loads((SET_B / "manifest.json").read_text())
    want = {i["signature"] or i["exception"] + i["route"]: i for i in manifest["incidents"]}
    lines = (SET_B / "compose/compose.log").read_text().splitlines()
    path = tmp_path / "compose.log"
    path.write_text("\n".join(lines[:1500]) + "\n")
    found = {(i["signature"], i["exception"]): i for i in _scan(path)}
    assert sorted(found[("relation_missing", None)]["request_ids"]) == sorted(want["relation_missing"]["request_ids"])
    assert sorted(found[("deadlock", None)]["request_ids"]) == sorted(want["deadlock"]["request_ids"])
    zero = want["ZeroDivisionError" + "GET /invoices/{invoice_id}/ratio"]
    assert sorted(found[("unknown", "ZeroDivisionError: division by zero")]["request_ids"]) == sorted(zero["request_ids"])


def test_logfmt_vectorized_unescaping_is_the_per_line_rule():
    from analyzer.ingest.formats import logfmt

    lines = (SET_B / "worker/worker.log").read_text().splitlines() + [
        r'level=info path=C:\new msg="say \"hi\"\\n"', r'level=error x="\\\"q" y=' + r"'it\'s'"]
    fast = logfmt._unescaped(pl.Series(lines), quoted_only=True).to_list()
    assert fast == [logfmt.unescape_values(line) for line in lines]
