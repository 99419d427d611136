"""Other ASGI servers than uvicorn, as they log by default: hypercorn and Granian.

tests/real_lines/{hypercorn,granian}.log are the same FastAPI app (make/promo_app.py) run by
make/asgi_servers_run.py: 12 requests fail with a KeyError (HTTP 500), three succeed or get a 422.
hypercorn writes its access line through its error log's layout with a bare protocol version
(`"GET /ok 1.1" 200`); Granian prints `[LEVEL] message` without a time and its own access layout.
"""

from __future__ import annotations

import json
from collections import Counter

import polars as pl
import pytest
from conftest import ROOT

from analyzer.ingest.formats.common import kv_http_fields

REAL = ROOT / "tests/real_lines"


def events(cli, path) -> list[dict]:
    result = cli("events", str(path), "--format", "jsonl")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize(("server", "fmt"), [("hypercorn", "gunicorn"), ("granian", "granian")])
def test_each_failed_request_and_its_exception_are_read(cli, plain_env, server, fmt):
    rows = events(cli, REAL / f"{server}.log")
    assert {row["format"] for row in rows} == {fmt}
    assert Counter(row["http_status"] for row in rows if row["http_status"]) == {500: 12, 200: 2, 422: 1}
    assert {row["http_path"] for row in rows if row["http_status"] == 500} == {f"/promo/code-{n}" for n in range(12)}
    errors = [row for row in rows if row["level"] == "error"]
    assert len(errors) == 12 and all(row["ts"] for row in errors)

    result = cli("scan", str(REAL / f"{server}.log"), "--format", "json")
    (incident,) = json.loads(result.stdout)["incidents"]
    assert incident["signature"] == "unhandled_asgi_exception" and incident["count"] == 12
    assert incident["title"].startswith("KeyError: 'code-")
    assert incident["culprit"] == "real_lines/make/promo_app.py in promo"


def test_granian_access_lines_carry_their_time_and_duration(cli, plain_env):
    rows = events(cli, REAL / "granian.log")
    access = [row for row in rows if row["logger"] == "granian.access"]
    assert len(access) == 15 and all(row["ts"] and not row["ts_inferred"] for row in access)
    assert all(row["duration_ms"] is not None and row["duration_ms"] >= 0 for row in access)
    own = [row for row in rows if row["logger"] == "granian"]
    assert {row["level"] for row in own} == {"info", "error"}
    assert all(row["ts_inferred"] for row in own if row["ts"])  # Granian's own lines print no time


def request_line(line: str) -> tuple[str | None, str | None, int | None]:
    fields = kv_http_fields(pl.Series([line])).row(0, named=True)
    return fields["http_method"], fields["http_path"], fields["http_status"]


@pytest.mark.parametrize(("line", "expected"), [
    ('127.0.0.1:5 - - [04/Dec/2026:00:52:08 +0000] "GET /promo/x 1.1" 500 21 "-" "curl"', ("GET", "/promo/x", 500)),
    ('127.0.0.1:5 - - [04/Dec/2026:00:52:08 +0000] "POST /orders?x=1 2" 503 0 "-" "-"', ("POST", "/orders", 503)),
    ('127.0.0.1:5 - - [04/Dec/2026:00:52:08 +0000] "GET /a HTTP/1.0" 404 0 "-" "-"', ("GET", "/a", 404)),
    ("POST /orders 422 3ms", ("POST", "/orders", 422)),  # a middleware's own line: no protocol
])
def test_a_request_line_is_read_with_or_without_http_before_its_version(line, expected):
    assert request_line(line) == expected


def test_a_number_that_is_no_protocol_version_is_no_status():
    assert request_line('"GET /v 7.5" 200')[2] is None


def test_a_killed_uvicorn_worker_is_its_own_incident(cli, plain_env):
    """uvicorn --workers 2, one worker killed with SIGKILL (as the OOM killer does), then a request that raises."""
    result = cli("scan", str(REAL / "uvicorn_workers.log"), "--format", "json")
    found = sorted((i["signature"], i["count"]) for i in json.loads(result.stdout)["incidents"])
    assert found == [("unhandled_asgi_exception", 1), ("uvicorn_child_died", 1)]
