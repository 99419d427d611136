"""One request model: every record that tells an HTTP request's outcome gives method, path, status and
duration, whatever logger or formatter wrote it. All lines are real output (tests/real_lines/README.md)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.diagnostics import Diagnostics
from analyzer.ingest.formats import common
from analyzer.ingest.pipeline import Pipeline
from analyzer.ingest.sources import resolve

REAL = Path(__file__).parent / "real_lines"


def events_of(path: Path) -> pl.DataFrame:
    diag = Diagnostics()
    frames = list(Pipeline(diag).run(resolve([str(path)], diag)))
    return pl.concat(frames)


def requests_of(path: Path) -> list[tuple]:
    ev = events_of(path).filter(pl.col("http_status").is_not_null())
    return ev.select("format", "logger", "http_method", "http_path", "http_status", "duration_ms", "request_id").rows()


def test_access_lines_and_middleware_lines_through_loguru_intercept_handler():
    rows = requests_of(REAL / "loguru_intercept.log")
    assert ("loguru", "uvicorn.protocols.http.h11_impl", "POST", "/orders", 422, None, None) in rows
    assert ("loguru", "app", "GET", "/reports/daily", 200, 1502.0, None) in rows
    assert ("loguru", "uvicorn.protocols.http.h11_impl", "GET", "/boom", 500, None, None) in rows
    # httpx's client-side `HTTP Request: POST http://... "HTTP/1.1 422 ..."` is no request of this server
    assert all(logger != "httpx._client" for _, logger, *_ in rows)


def test_loguru_layout_with_an_inserted_field():
    ev = events_of(REAL / "loguru_intercept_req_id.log")
    access = ev.filter(pl.col("message").str.starts_with("127.0.0.1:")).row(0, named=True)
    assert access["logger"] == "uvicorn.protocols.http.h11_impl"
    assert access["message"].endswith('"POST /orders HTTP/1.1" 422')
    assert (access["level"], access["http_status"], access["http_path"]) == ("info", 422, "/orders")
    client = ev.filter(pl.col("logger") == "httpx._client").row(0, named=True)
    assert client["request_id"] == "ab12" and client["message"].startswith("HTTP Request: POST")
    assert ev.filter(pl.col("exc_type") == "ValueError").height == 1
    assert ev.get_column("logger").null_count() == 0


def test_python_json_logger_access_message_and_middleware_fields():
    rows = requests_of(REAL / "python_json_logger.jsonl")
    assert ("json", "uvicorn.access", "POST", "/orders", 422, None, None) in rows
    assert ("json", "app.requests", "GET", "/reports/daily", 200, 1201.5, "3ef0c4e2-f72f-4e69-bbf9-e838a0e06e6d") in rows


def test_structlog_renderers():
    rows = requests_of(REAL / "structlog.log")
    assert rows == [
        ("logfmt", None, "GET", "/reports/daily", 200, 1532.4, "5d1e3f7a-2c4b-4e8a-9f10-6b7c8d9e0a12"),
        ("logfmt", None, "POST", "/orders", 500, 12.9, "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"),
        ("logfmt", None, "GET", "/reports/daily", 200, 1532.4, "5d1e3f7a-2c4b-4e8a-9f10-6b7c8d9e0a12"),
        ("logfmt", None, "POST", "/orders", 422, 4.0, "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"),
        ("json", None, "GET", "/reports/daily", 200, 1530.2, "aa11bb22-cc33-4d44-8e55-ff6600112233"),
        ("json", None, "POST", "/orders", 422, 4.2, None),
        ("json", None, "GET", "/api/items", 200, 1840.0, "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b"),
    ]
    levels = events_of(REAL / "structlog.log").get_column("level").to_list()
    assert levels[:4] == ["info", "error", "info", "warning"]


def test_gunicorn_access_log_default_and_custom_formats():
    ev = events_of(REAL / "gunicorn_access.log")
    assert set(ev.get_column("format")) == {"gunicorn_access"}
    rows = ev.select("http_method", "http_path", "http_status", "duration_ms", "request_id").rows()
    assert rows == [
        ("POST", "/orders", 422, None, None),
        ("GET", "/slow", 200, None, None),
        ("POST", "/orders", 422, 1.369, None),  # %(D)s %(L)s %(M)s
        ("GET", "/slow", 200, 1200.547, None),
        ("POST", "/orders", 422, 1.897, "7f3c9a12-5b6e-4d1f-9a2b-0c8e4f6a1b23"),  # request_time=%(L)s request_id=...
        ("GET", "/slow", 200, 1200.568, None),
    ]
    assert str(ev.get_column("ts")[0]) == "2026-12-03 18:54:33+00:00"


@pytest.mark.parametrize(
    ("text", "ms"),
    [("duration=1530ms", 1530.0), ('"duration_ms": 1201.5', 1201.5), ("elapsed=0.0042", 4.2), ("process_time=1.84", 1840.0),
     ("latency=0.004s", 4.0), ("request_time=1.200568", 1200.568), ("took: 3 s", 3000.0), ("duration_us=1500", 1.5),
     ("time=2026-12-03T18:54:58Z", None), ("response_time=87", 87.0)],
)
def test_duration_units(text, ms):
    assert common.durations_ms(pl.Series([text])).to_list() == [ms]


@settings(deadline=None)  # the first example compiles the patterns; a busy machine must not fail it
@given(st.text(max_size=80))
def test_request_step_never_fails_and_needs_a_method_or_path_beside_a_status(text):
    fields = common.kv_http_fields(pl.Series([text], dtype=pl.String)).row(0, named=True)
    if fields["http_status"] is not None:
        assert fields["http_method"] is not None or fields["http_path"] is not None
        assert 100 <= fields["http_status"] <= 599


def scan_counts(path: Path) -> dict[str, int]:
    import json

    from typer.testing import CliRunner

    from analyzer.commands.app import app

    out = CliRunner().invoke(app, ["scan", str(path), "--format", "json"])
    report = json.loads(out.stdout)
    counts: dict[str, int] = {}
    for incident in report["incidents"]:
        counts[incident["signature"]] = counts.get(incident["signature"], 0) + incident["count"]
    return counts


def test_422_storm_through_loguru_counts_each_request_once():
    # 25 requests, each logged twice (the app's timing middleware and uvicorn's access line), no request ID
    counts = scan_counts(REAL / "loguru_intercept_422_storm.log")
    assert counts == {"http_422_storm": 25}


def test_slow_requests_from_middleware_json_fields_and_gunicorn_durations():
    assert scan_counts(REAL / "python_json_logger.jsonl").get("slow_request") == 1
    assert scan_counts(REAL / "gunicorn_access.log").get("slow_request") == 2
    assert scan_counts(REAL / "loguru_intercept.log").get("slow_request") == 1


def test_request_keys_pair_an_access_line_with_the_app_line_of_one_request():
    from analyzer.analysis.incidents import request_keys

    ev = events_of(REAL / "loguru_intercept_422_storm.log").filter(pl.col("http_status") == 422)
    keys = ev.sort("ts").select(request_keys()).to_series()
    assert ev.height == 50 and keys.n_unique() == 25
    # lines more than a second apart are two requests; a request ID decides where there is one
    far = ev.head(2).with_columns(pl.Series("ts", [ev["ts"][0], ev["ts"][0] + __import__("datetime").timedelta(seconds=3)]))
    assert far.select(request_keys()).to_series().n_unique() == 2
    ids = ev.head(2).with_columns(pl.Series("request_id", ["a1b2c3", "a1b2c3"]))
    assert ids.select(request_keys()).to_series().to_list() == ["a1b2c3", "a1b2c3"]


_VALUE = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)


@settings(deadline=None)
@given(st.lists(st.tuples(st.from_regex(r"[a-z_]{1,10}", fullmatch=True), _VALUE), max_size=5), _VALUE)
def test_logfmt_lines_of_any_keys_and_values_parse(pairs, event):
    # the shape of structlog's LogfmtRenderer (tests/real_lines/structlog.log), keys and values drawn
    from analyzer.ingest.formats import logfmt

    rest = " ".join(f'{k}="{v}"' if (" " in v or not v) else f"{k}={v}" for k, v in pairs)
    line = f'timestamp=2026-12-03T18:54:58.562559Z level=info event="{event}" {rest}'.rstrip()
    frame = pl.DataFrame({"head": [line], "text": [line]})
    ev = logfmt.parse(frame).row(0, named=True)
    assert ev["level"] == "info" and str(ev["ts"]) == "2026-12-03 18:54:58.562559+00:00"
    assert ev["message"] is not None


@settings(deadline=None)
@given(st.lists(st.from_regex(r"[a-z_]{1,8}=[A-Za-z0-9-]{0,12}", fullmatch=True), min_size=1, max_size=3))
def test_loguru_layout_with_any_inserted_fields(fields):
    # the real line of tests/real_lines/loguru_intercept_req_id.log with other key=value fields inserted
    from analyzer.ingest.formats import loguru

    inserted = " | ".join(fields)
    line = (f"2026-12-03 18:54:20.025 | INFO     | {inserted} | uvicorn.protocols.http.h11_impl:send:473 - "
            '127.0.0.1:41604 - "POST /orders HTTP/1.1" 422')
    frame = pl.DataFrame({"head": [line], "text": [line]})
    ev = loguru.parse(frame).row(0, named=True)
    assert (ev["level"], ev["logger"]) == ("info", "uvicorn.protocols.http.h11_impl")
    assert ev["message"] == '127.0.0.1:41604 - "POST /orders HTTP/1.1" 422'


def test_route_templates_from_json_and_logfmt_fields():
    rows = events_of(REAL / "route_templates.log").select("format", "http_path", "http_route", "http_status").rows()
    assert rows == [
        ("json", "/orders/17", "/orders/{order_id}", 200),
        ("logfmt", "/orders/17", "/orders/{order_id}", 200),
        ("json", "/orders/abc", "/orders/{order_id}", 422),
        ("logfmt", "/orders/abc", "/orders/{order_id}", 422),
    ]
