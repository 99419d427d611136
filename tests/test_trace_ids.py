"""Trace IDs as request IDs (analyzer.ingest.formats.common.request_ids): apps instrumented with OpenTelemetry,
Datadog or Elastic APM print a trace ID (Elastic's agent also its transaction's) and nothing else that ties a
request's records together.

tests/real_lines/otel_logging_format.log and otel_python_json_logger.jsonl are real output of
make/otel_run.py: a FastAPI app under uvicorn, OpenTelemetry's FastAPI and logging instrumentation, two
requests that succeed and three that raise KeyError (500). Records written outside a span (startup,
shutdown, the tracebacks uvicorn logs after the span ended) carry the zero trace ID. apm_text.log is real
output of `make/ecs_run.py text`: the same requests (and two that log a ZeroDivisionError, one trace for both)
under the real Elastic APM agent, written by its text formatter, which appends ` | elasticapm
transaction.id=... trace.id=... span.id=...` to every record (`None` outside a transaction).
"""

from __future__ import annotations

import io
import json
import re

import polars as pl
from conftest import ROOT, json_report
from hypothesis import given
from hypothesis import strategies as st
from loguru import logger

from analyzer.ingest.formats import json as json_format
from analyzer.ingest.formats import loguru_json
from analyzer.ingest.formats.common import request_ids

REAL = ROOT / "tests/real_lines"
REAL_FILES = ("otel_logging_format.log", "otel_python_json_logger.jsonl")


def _events(cli, path) -> list[dict]:
    result = cli("events", str(path), "--format", "jsonl")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def _written_trace_ids(path) -> dict[str, int]:
    """Each non-zero trace ID the file holds -> the HTTP status of its access line (read without logscan)."""
    found = {}
    for line in path.read_text().splitlines():
        trace = re.search(r'(?:trace_id=|"otelTraceID": ")([0-9a-f]+)', line)
        status = re.search(r'HTTP/1\.1\\?" ([0-9]{3})', line)
        if trace and status and set(trace.group(1)) != {"0"}:
            found[trace.group(1)] = int(status.group(1))
    return found


def test_each_request_of_the_real_logs_is_one_trace(cli, plain_env):
    for name in REAL_FILES:
        written = _written_trace_ids(REAL / name)
        assert sorted(written.values()) == [200, 200, 500, 500, 500], name
        rows = _events(cli, REAL / name)
        named = [row for row in rows if row["request_id"]]
        # the app's own line and the access line of each request, under its trace ID; nothing else
        assert {row["request_id"] for row in named} == set(written), name
        assert all(sum(r["request_id"] == row["request_id"] for r in named) == 2 for row in named), name
        assert {row["logger"] for row in named} == {"promo", "uvicorn.access"}, name


def test_zero_trace_ids_make_no_request(cli, plain_env):
    for name in REAL_FILES:
        rows = _events(cli, REAL / name)
        zero = [row for row in rows if re.search(r'trace_id=0 |"otelTraceID": "0"', row["text"])]
        assert len(zero) >= 8, name  # startup, shutdown and the three tracebacks
        assert all(row["request_id"] is None for row in zero), name


def test_the_real_errors_incident_counts_the_requests_it_failed(cli, plain_env):
    for name in REAL_FILES:
        written = _written_trace_ids(REAL / name)
        failed = {trace for trace, status in written.items() if status == 500}
        result = cli("scan", str(REAL / name), "--format", "json")
        (incident,) = json.loads(result.stdout)["incidents"]
        assert incident["signature"] == "unhandled_asgi_exception" and incident["count"] == 3, name
        assert set(incident["request_ids"]) == failed, name
        assert incident["affected_requests"] == incident["failed_requests"] == 3, name
        trace = incident["trace"]
        assert trace["request_id"] in failed and trace["status"] == 500 and trace["method"] == "GET", name
        assert re.fullmatch(r"/promo/code-[0-2]", trace["path"]), name
        assert [step["message"] for step in trace["trail"]][0].startswith("looking up promo code"), name


def test_the_otel_layout_is_read_as_its_fields(cli, plain_env):
    rows = _events(cli, REAL / "otel_logging_format.log")
    assert {row["format"] for row in rows} == {"python"}
    assert all(row["logger"] and "trace_id=" not in row["message"] for row in rows)
    assert sum(row["http_status"] == 500 for row in rows) == 3


# the ID model: keys as apps write them, values as generators print them, zeros as instrumentations print
# them outside a span
OWN_KEYS = ("req_id", "request_id", "requestId", "correlation_id", "X-Request-ID", "job_id", "task-id", "transaction.id")
TRACE_KEYS = ("trace_id", "traceId", "otelTraceID", "dd.trace_id", "X-Trace-Id", "TRACE_ID", "trace.id")
#: no ID written out: zeros (OpenTelemetry, Datadog outside a span), `None` (Elastic APM's text formatter outside a
#: transaction, a `%(request_id)s` filter with no request), `null`
_ZERO = st.sampled_from(["0", "0" * 16, "0" * 32, "None", "null"])
_ID = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{2,40}", fullmatch=True)
_SEPARATOR = st.sampled_from(["=", ": ", "='", '="', ":"])


def _is_zero(value: str) -> bool:
    return set(value) == {"0"} or value in {"None", "none", "null", "NULL"}


def _expected(pairs: list[tuple[str, str]]) -> str | None:
    """The first non-zero own request ID written, else the first non-zero trace ID (a value shorter than three
    characters is no value at all)."""
    for keys in (OWN_KEYS, TRACE_KEYS):
        for key, value in pairs:
            if key in keys and len(value) >= 3 and not _is_zero(value):
                return value
    return None


_PAIRS = st.lists(st.tuples(st.sampled_from(OWN_KEYS + TRACE_KEYS), st.one_of(_ID, _ZERO)), max_size=4)


@given(_PAIRS, st.lists(_SEPARATOR, min_size=4, max_size=4), st.sampled_from([" ", " | ", ", ", "] ["]))
def test_text_ids_own_before_trace_and_zeros_never(pairs, separators, between):
    quoted = [(key, sep, value, sep[-1] if sep[-1] in "'\"" else "") for (key, value), sep in zip(pairs, separators)]
    line = "INFO app " + between.join(f"{key}{sep}{value}{close}" for key, sep, value, close in quoted) + " - done"
    assert request_ids(pl.Series([line])).item() == _expected(pairs)


@given(st.dictionaries(st.sampled_from(("request_id", "req_id", "correlation_id", *TRACE_KEYS[:4])),
                       st.one_of(_ID, _ZERO, st.just(0)), max_size=4))
def test_json_ids_own_before_trace_and_zeros_never(fields):
    line = json.dumps({"message": "done", "level": "INFO", **fields})
    parsed = json_format.parse(pl.DataFrame({"head": [line], "text": [line]})).get_column("request_id").item()
    own = [str(fields[k]) for k in ("request_id", "req_id", "correlation_id") if k in fields]
    trace = [str(fields[k]) for k in TRACE_KEYS[:4] if k in fields]
    assert parsed == next((v for v in own + trace if not _is_zero(v)), None)


def test_loguru_extra_trace_ids_from_real_loguru():
    out = io.StringIO()
    sink = logger.add(out, serialize=True)
    try:
        logger.bind(trace_id="4bf92f3577b34da6a3ce929d0e0e4736").error("boom")
        logger.bind(trace_id="0" * 32).error("outside a span")
        logger.bind(trace_id="4bf92f3577b34da6a3ce929d0e0e4736", request_id="r-17").error("both")
    finally:
        logger.remove(sink)
    lines = out.getvalue().splitlines()
    parsed = loguru_json.parse(pl.DataFrame({"head": lines, "text": lines}))
    assert parsed.get_column("request_id").to_list() == ["4bf92f3577b34da6a3ce929d0e0e4736", None, "r-17"]


def test_datadog_injected_ids_zero_without_a_span():
    # ddtrace's log injection layout (ddtrace does not install here: the layout of its documentation)
    lines = pl.Series([
        "2026-12-04 08:00:00,001 ERROR [app] [main.py:9] [dd.service=api dd.env=prod dd.version=1 "
        "dd.trace_id=5902542925931386263 dd.span_id=3416244930410349183] - boom",
        "2026-12-04 08:00:00,002 INFO [app] [main.py:9] [dd.service=api dd.env=prod dd.version=1 "
        "dd.trace_id=0 dd.span_id=0] - idle",
    ])
    assert request_ids(lines).to_list() == ["5902542925931386263", None]


def test_elastic_apms_text_formatter_gives_each_transaction_its_request(cli, plain_env):
    rows = _events(cli, REAL / "apm_text.log")
    for row in rows:  # the transaction the record's own suffix names; `None` outside one is no ID
        named = [t for t in re.findall(r"transaction\.id=(\w+)", row["text"]) if t != "None"]
        assert row["request_id"] == (named[0] if named else None), row["text"][:120]
    assert len({row["request_id"] for row in rows} - {None}) == 7  # seven requests, each its own transaction


def test_elastic_apm_text_incidents_count_their_transactions(cli, plain_env):
    report = json_report(cli, str(REAL / "apm_text.log"))
    lines = (REAL / "apm_text.log").read_text().splitlines()
    promo = {re.search(r"transaction\.id=([0-9a-f]+)", x).group(1) for x in lines if '"GET /promo/' in x}
    checkout = {re.search(r"transaction\.id=([0-9a-f]+)", x).group(1) for x in lines if '"GET /checkout/' in x}
    assert len(promo) == 3 and len(checkout) == 2
    (keyerror,) = (i for i in report["incidents"] if (i["exception"] or "").startswith("KeyError: "))
    (zero,) = (i for i in report["incidents"] if (i["exception"] or "").startswith("ZeroDivisionError: "))
    # uvicorn's `Exception in ASGI application` keeps its traceback although the formatter's suffix, after the
    # message's newline, stands between them: one incident, not a second one of the traceback alone
    assert keyerror["signature"] == "unhandled_asgi_exception" and keyerror["count"] == 3
    assert set(keyerror["request_ids"]) == promo and keyerror["failed_requests"] == 3
    assert set(zero["request_ids"]) == checkout and zero["count"] == 2  # one trace, two transactions
