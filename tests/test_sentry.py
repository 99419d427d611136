"""Incidents to Sentry: the real sentry-sdk posting to a Sentry stand-in on loopback (tests/sentry_server.py)."""

from __future__ import annotations

import json
import logging
import socket
import time
from typing import Any

import pytest
import sentry_sdk
from conftest import ROOT
from sentry_server import SentryServer
from typer.testing import CliRunner

from analyzer.commands.app import app
from analyzer.report import sentry as sentry_module
from analyzer.report.sentry import EXAMPLE_CHARS, SentryDsnError, SentrySink


@pytest.fixture(scope="module")
def incidents() -> list[dict[str, Any]]:
    """The incidents of the Compose sample, from the real `scan`."""
    result = CliRunner().invoke(app, ["scan", str(ROOT / "samples/compose/compose.log"), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["incidents"]


@pytest.fixture
def sentry():
    with SentryServer() as server:
        yield server


def by_signature(incidents: list[dict[str, Any]], signature: str) -> dict[str, Any]:
    return next(i for i in incidents if i["signature"] == signature)


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_every_incident_becomes_one_event_with_its_fingerprint_level_tags_cause_fix_and_examples(sentry, incidents):
    sink = SentrySink(sentry.dsn, environment="test")
    assert all(sink.send(incident) for incident in incidents)
    assert sink.close() == []

    assert len(sentry.events) == len(incidents)
    assert {path for path, _ in sentry.requests} == {"/api/1/envelope/"}
    assert all("sentry_key=publickey" in headers["X-Sentry-Auth"] for _, headers in sentry.requests)
    events = {tuple(event["fingerprint"]): event for event in sentry.events}
    assert set(events) == {(incident["fingerprint"],) for incident in incidents}
    for incident in incidents:
        event = events[(incident["fingerprint"],)]
        assert event["tags"] == {name: incident[name] for name in ("signature", "service", "role", "severity")}
        assert event["message"].splitlines()[0] == incident["title"]
        assert incident["cause"] in event["message"]
        if incident["fix"]:
            assert f"1. {incident['fix'][0]}" in event["message"]
        crumbs = event["breadcrumbs"]["values"]
        assert len(crumbs) == len(incident["examples"])
        assert crumbs[0]["message"][:200] == incident["examples"][0]["text"][:200]
        assert crumbs[0]["data"] == {"source": incident["examples"][0]["source"], "line_no": incident["examples"][0]["line_no"]}
        context = event["contexts"]["incident"]
        assert (context["count"], context["affected_requests"]) == (incident["count"], incident["affected_requests"])
        assert context["caused_by"] == incident["caused_by"]
        assert event["environment"] == "test" and "release" not in event

    levels = {signature: events[(by_signature(incidents, signature)["fingerprint"],)]["level"]
              for signature in ("container_oom_killed", "deadlock", "http_422_storm", "jwt_expired")}
    assert levels == {"container_oom_killed": "fatal", "deadlock": "error", "http_422_storm": "warning", "jwt_expired": "info"}
    traced = by_signature(incidents, "too_many_connections")
    trace = events[(traced["fingerprint"],)]["contexts"]["request_trace"]
    assert trace["request_id"] == "2a71e6ad-90ff-4ce9-ba1c-d7fb94e895cd" and trace["status"] == 503


def test_an_incident_is_sent_once_and_again_only_after_tenfold_growth(sentry, incidents):
    incident = by_signature(incidents, "too_many_connections")  # count 8
    sink = SentrySink(sentry.dsn)
    assert sink.send(incident) is True
    assert sink.send(incident) is False
    assert sink.send({**incident, "count": 79}) is False
    assert sink.send({**incident, "count": 80}) is True
    assert sink.send({**incident, "count": 799}) is False
    assert sink.close() == []
    assert [event["contexts"]["incident"]["count"] for event in sentry.events] == [8, 80]
    assert {tuple(event["fingerprint"]) for event in sentry.events} == {(incident["fingerprint"],)}


def test_an_unreachable_sentry_costs_a_warning_not_the_run(incidents, caplog):
    port = closed_port()
    sink = SentrySink(f"http://publickey@127.0.0.1:{port}/1", timeout=1.0)
    assert sink.send(incidents[0]) and sink.send(incidents[1])
    started = time.monotonic()
    with caplog.at_level(logging.DEBUG, logger="sentry_sdk.errors"):
        warnings = sink.close()
    assert time.monotonic() - started < 1.5
    assert warnings == [f"Sentry at 127.0.0.1:{port}: connection refused, 2 events not delivered"]
    assert not [r for r in caplog.records if r.name == "sentry_sdk.errors" and r.levelno >= logging.WARNING]


def test_a_sentry_that_answers_an_error_status_is_reported(incidents):
    with SentryServer(status=403) as server:
        sink = SentrySink(server.dsn)
        sink.send(incidents[0])
        assert sink.close() == [f"Sentry at {server.address}: HTTP 403, 1 event not delivered"]
        assert len(server.events) == 1  # it did reach the server: the failure is the answer


def test_a_sentry_that_never_answers_does_not_hold_the_run_longer_than_the_timeout(incidents):
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        sink = SentrySink(f"http://publickey@127.0.0.1:{port}/1", timeout=0.5)
        sink.send(incidents[0])
        sink.send(incidents[1])
        started = time.monotonic()
        warnings = sink.close()
        assert time.monotonic() - started < 1.0
    assert warnings == [f"Sentry at 127.0.0.1:{port}: no answer within 0.5 s, 2 events not delivered"]


def test_events_that_do_not_fit_the_send_queue_are_counted_too(incidents, monkeypatch):
    monkeypatch.setattr(sentry_module, "QUEUE_SIZE", 1)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        sink = SentrySink(f"http://publickey@127.0.0.1:{silent.getsockname()[1]}/1", timeout=0.3)
        assert all(sink.send(incident) for incident in incidents[:6])
        warnings = sink.close()
    counts = {line.split(": ", 1)[1].rsplit(", ", 1)[0]: int(line.rsplit(", ", 1)[1].split()[0]) for line in warnings}
    assert counts["send queue full"] >= 4  # one event in flight, at most one waiting
    assert sum(counts.values()) == 6


@pytest.mark.parametrize(
    ("dsn", "reason"),
    [
        ("", "empty"),
        ("sentry.example.com", "unsupported scheme ''"),
        ("ftp://key@sentry.example.com/1", "unsupported scheme 'ftp'"),
        ("https://sentry.example.com/1", "missing public key"),
        ("https://key@sentry.example.com/", "invalid project in DSN ('')"),
        ("https://key@sentry.example.com:99999/1", "port out of range 0-65535"),
    ],
)
def test_a_malformed_dsn_is_one_clear_error(dsn, reason):
    with pytest.raises(SentryDsnError) as caught:
        SentrySink(dsn)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value) == f"invalid Sentry DSN: {reason} (expected https://PUBLIC_KEY@HOST/PROJECT_ID)"


def test_long_examples_are_clipped_keeping_the_last_line(sentry, incidents):
    incident = by_signature(incidents, "deadlock")
    text = "Traceback (most recent call last):\n" + "  frame\n" * 20_000 + "DeadlockDetectedError: deadlock detected"
    sink = SentrySink(sentry.dsn)
    sink.send({**incident, "examples": [{**incident["examples"][0], "text": text}]})
    assert sink.close() == []
    [crumb] = sentry.events[0]["breadcrumbs"]["values"]
    assert len(crumb["message"]) < EXAMPLE_CHARS + 100
    assert crumb["message"].startswith("Traceback") and crumb["message"].endswith("DeadlockDetectedError: deadlock detected")
    assert "characters clipped" in crumb["message"]


def test_the_host_programs_sentry_state_is_neither_used_nor_touched(sentry, incidents):
    with sentry_sdk.isolation_scope() as host_scope:
        host_scope.set_tag("host_tag", "must not leak")
        host_scope.add_breadcrumb(message="host breadcrumb")
        sink = SentrySink(sentry.dsn)
        sink.send(incidents[0])
        assert sink.close() == []
        assert host_scope.last_event_id() is None
    assert not sentry_sdk.get_client().is_active()
    [event] = sentry.events
    assert "host_tag" not in event["tags"]
    assert all(crumb["message"] != "host breadcrumb" for crumb in event["breadcrumbs"]["values"])
    assert set(event["sdk"]["integrations"]) == set()


def test_scan_sends_each_incident_it_shows_once(sentry, incidents):
    result = CliRunner().invoke(
        app, ["scan", str(ROOT / "samples/compose/compose.log"), "--format", "json", "--sentry-dsn", sentry.dsn]
    )
    assert result.exit_code == 0, result.output
    assert sorted(tuple(e["fingerprint"]) for e in sentry.events) == sorted((i["fingerprint"],) for i in incidents)


def test_scan_reads_the_dsn_from_the_environment_and_rejects_a_bad_one(sentry, monkeypatch):
    monkeypatch.setenv("LOGSCAN_SENTRY_DSN", sentry.dsn)
    result = CliRunner().invoke(app, ["scan", str(ROOT / "samples/alembic/multiple-heads.log"), "--format", "json"])
    assert result.exit_code == 0 and len(sentry.events) == 1
    assert sentry.events[0]["tags"]["signature"] == "alembic_multiple_heads"
    bad = CliRunner().invoke(app, ["scan", str(ROOT / "samples/alembic/multiple-heads.log"), "--sentry-dsn", "nope"])
    assert bad.exit_code == 2 and "invalid Sentry DSN" in bad.output


def test_an_unreachable_sentry_costs_scan_a_warning_not_the_report():
    dsn = f"http://publickey@127.0.0.1:{closed_port()}/1"
    result = CliRunner().invoke(
        app, ["scan", str(ROOT / "samples/alembic/multiple-heads.log"), "--format", "json", "--sentry-dsn", dsn]
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["incidents"][0]["signature"] == "alembic_multiple_heads"
    assert "connection refused" in result.stderr


def test_tail_forwards_opened_incidents_once(sentry):
    data = (ROOT / "samples/compose/compose.log").read_bytes()
    result = CliRunner().invoke(app, ["tail", "-", "--format", "jsonl", "--sentry-dsn", sentry.dsn], input=data)
    assert result.exit_code == 0, result.output
    opened = [json.loads(line)["incident"]["fingerprint"] for line in result.stdout.splitlines()
              if json.loads(line)["event"] == "opened"]
    sent = [e["fingerprint"][0] for e in sentry.events]
    assert sorted(set(sent)) == sorted(set(opened))
    assert len(sent) == len(set(sent))  # updates below 10x the count are not re-sent


def test_a_run_without_a_dsn_never_loads_sentry_sdk(tmp_path):
    """Fast start (issue 12): sentry-sdk costs ~0.13 s of imports; only a run with a DSN loads it."""
    import subprocess
    import sys

    log = tmp_path / "app.log"
    log.write_text("2026-11-23 10:43:06.833 | ERROR    | app.main:handler:42 - boom\n")
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from analyzer.commands.app import app\n"
        f"result = CliRunner().invoke(app, ['scan', {str(log)!r}, '--format', 'json'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print('sentry_sdk' in sys.modules)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "LOGSCAN_SENTRY_DSN"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "False"
