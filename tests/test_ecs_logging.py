"""Elastic's ECS logging (ecs-logging) read by the json format, as the real library prints it.

tests/real_lines/ecs_stdlib_apm.jsonl is real output of make/ecs_run.py: `ecs_logging.StdlibFormatter` on a
FastAPI app under uvicorn, traced by the real Elastic APM agent (no server): GET /ok twice, three GET /promo/...
that raise KeyError (uvicorn logs the traceback with exc_info after the transaction ended: no IDs), and two
GET /checkout/1 sent with one `traceparent` (one trace, two transactions) that log a ZeroDivisionError with
`log.exception`. ecs_structlog_apm.jsonl is make/ecs_structlog_run.py: `ecs_logging.StructlogFormatter` with the
agent's structlog processor in a worker, one transaction per job, one job failing with KeyError.

What the library writes: the level as one dotted top-level key `"log.level"`, `process` as an object, the
exception of a stdlib record as `error.type`/`error.message` and the frames alone in `error.stack_trace`, and the
agent's IDs nested (`{"trace": {"id": ...}, "transaction": {"id": ...}}`).
"""

from __future__ import annotations

import json
import logging
import re

import ecs_logging
import polars as pl
from conftest import ROOT
from hypothesis import given
from hypothesis import strategies as st

from analyzer.ingest.formats import json as json_format

REAL = ROOT / "tests/real_lines"
STDLIB = REAL / "ecs_stdlib_apm.jsonl"
STRUCTLOG = REAL / "ecs_structlog_apm.jsonl"
LEVELS = {"debug": "debug", "info": "info", "warning": "warning", "error": "error", "critical": "critical"}


def _written(path) -> list[dict]:
    """The file's records as the library wrote them (read without logscan)."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def _events(cli, path) -> list[dict]:
    result = cli("events", str(path), "--format", "jsonl")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def _nested(record: dict, key: str) -> str | None:
    return (record.get(key) or {}).get("id")


def test_the_real_lines_are_written_as_described():
    for path in (STDLIB, STRUCTLOG):
        for record in _written(path):
            assert "log.level" in record and "level" not in record.get("log", {}), path
            assert "trace.id" not in record and "transaction.id" not in record, path
    errors = [r["error"] for r in _written(STDLIB) if "error" in r]
    assert len(errors) == 5 and not any("Traceback" in e["stack_trace"] for e in errors)


def test_levels_of_the_real_ecs_lines(cli, plain_env):
    for path in (STDLIB, STRUCTLOG):
        rows = _events(cli, path)
        written = _written(path)
        assert [row["format"] for row in rows] == ["json"] * len(written), path
        assert [row["level"] for row in rows] == [LEVELS[r["log.level"]] for r in written], path
        assert [row["level"] == "error" for row in rows] == ["error" in r for r in written], path
    assert sum(row["level"] == "error" for row in _events(cli, STDLIB)) == 5


def test_pid_from_the_process_object(cli, plain_env):
    rows = _events(cli, STDLIB)
    assert [row["pid"] for row in rows] == [r["process"]["pid"] for r in _written(STDLIB)]


def test_exception_from_error_type_and_the_stack_trace(cli, plain_env):
    for path in (STDLIB, STRUCTLOG):
        rows = _events(cli, path)
        for row, record in zip(rows, _written(path), strict=True):
            error = record.get("error")
            if error is None:
                assert row["exc_type"] is None, path
            elif "type" in error:  # stdlib: the type as written; the traceback text as Python prints it
                assert row["exc_type"] == error["type"], path
                assert row["text"].endswith(f"{error['stack_trace']}{error['type']}: {error['message']}"), path
                assert "Traceback (most recent call last):\n" in row["text"], path
            else:  # structlog: format_exc_info's whole traceback, its last line the exception
                assert row["exc_type"] == error["stack_trace"].splitlines()[-1].split(":")[0], path


def test_each_transaction_is_one_request(cli, plain_env):
    for path, requests in ((STDLIB, 7), (STRUCTLOG, 4)):
        written = _written(path)
        rows = _events(cli, path)
        assert [row["request_id"] for row in rows] == [_nested(r, "transaction") for r in written], path
        assert len({_nested(r, "transaction") for r in written} - {None}) == requests, path
    # the two checkouts share one trace (a client's retry): two requests all the same
    traces = {_nested(r, "trace") for r in _written(STDLIB)} - {None}
    assert len(traces) == 6
    checkouts = {row["request_id"] for row in _events(cli, STDLIB) if row["message"].startswith("checking out")}
    assert len(checkouts) == 2


def test_the_real_incidents_count_their_requests(cli, plain_env):
    written = _written(STDLIB)
    status = {}
    for record in written:
        found = re.search(r'"GET (/\S+) HTTP/1\.1" ([0-9]{3})', record["message"])
        if found and _nested(record, "transaction"):
            status[_nested(record, "transaction")] = (found.group(1), int(found.group(2)))
    promo = {t for t, (path, code) in status.items() if path.startswith("/promo/") and code == 500}
    checkout = {t for t, (path, code) in status.items() if path == "/checkout/1" and code == 503}
    assert len(promo) == 3 and len(checkout) == 2
    result = cli("scan", str(STDLIB), "--format", "json")
    incidents = {i["exception"].split(":")[0]: i for i in json.loads(result.stdout)["incidents"]}
    assert set(incidents) == {"KeyError", "ZeroDivisionError"}
    unhandled, failed = incidents["KeyError"], incidents["ZeroDivisionError"]
    assert unhandled["signature"] == "unhandled_asgi_exception" and unhandled["count"] == 3
    assert set(unhandled["request_ids"]) == promo
    assert unhandled["affected_requests"] == unhandled["failed_requests"] == 3
    assert failed["count"] == 2 and set(failed["request_ids"]) == checkout
    assert failed["affected_requests"] == failed["failed_requests"] == 2
    assert failed["culprit"].endswith("ecs_app.py in checkout")
    assert failed["trace"]["status"] == 503 and failed["trace"]["path"] == "/checkout/1"


def test_the_real_worker_incident(cli, plain_env):
    failed = {_nested(r, "transaction") for r in _written(STRUCTLOG) if "error" in r}
    result = cli("scan", str(STRUCTLOG), "--format", "json")
    (incident,) = json.loads(result.stdout)["incidents"]
    assert incident["exception"] == "KeyError: 3" and set(incident["request_ids"]) == failed
    assert incident["affected_requests"] == 1


# The ID model on what the real formatter prints: the app's own request ID (an `extra`), else the agent's
# transaction ID, else a trace ID (OpenTelemetry's `trace_id` beside it, or the agent's); zeros are no ID. The
# agent's structlog processor with a plain JSON renderer writes the same IDs as dotted top-level keys.
_ID = st.from_regex(r"[a-f0-9]{16,32}", fullmatch=True)
_VALUE = st.one_of(st.none(), _ID, st.sampled_from(["0", "0" * 16, "0" * 32]))
_KEYS = ("request_id", "transaction.id", "trace_id", "trace.id")


def _ecs_line(ids: dict[str, str | None]) -> str:
    """The real StdlibFormatter's line for a record the agent's log-record factory has marked."""
    record = logging.LogRecord("app", logging.ERROR, __file__, 1, "payment failed", (), None)
    record.elasticapm_transaction_id = ids["transaction.id"]
    record.elasticapm_trace_id = ids["trace.id"]
    for key in ("request_id", "trace_id"):
        if ids[key] is not None:
            setattr(record, key, ids[key])
    return ecs_logging.StdlibFormatter().format(record)


def _flat_line(ids: dict[str, str | None]) -> str:
    return json.dumps({"event": "payment failed", "level": "error", **{k: v for k, v in ids.items() if v is not None}})


@given(st.lists(st.tuples(st.fixed_dictionaries({key: _VALUE for key in _KEYS}), st.booleans()), min_size=1, max_size=6))
def test_ids_request_then_transaction_then_trace(records):
    lines = [_ecs_line(ids) if ecs else _flat_line(ids) for ids, ecs in records]  # one batch, both kinds mixed
    parsed = json_format.parse(pl.DataFrame({"head": lines, "text": lines}))
    expected = [next((ids[k] for k in _KEYS if ids[k] is not None and set(ids[k]) != {"0"}), None) for ids, _ in records]
    assert parsed.get_column("request_id").to_list() == expected
    assert parsed.get_column("level").to_list() == ["error"] * len(records)
    assert parsed.get_column("message").to_list() == ["payment failed"] * len(records)
