"""The bundled real samples (samples/manifest.json is the generator's own record):
every stream gets its real format, no record falls back to plain where a real
format applies, services come out of Docker/Compose wrappings, lines are conserved."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT, read_events

MANIFEST = json.loads((ROOT / "samples" / "manifest.json").read_text())
FILES = MANIFEST["files"]


def expected_formats(entry: dict) -> set[str]:
    return {fmt for streams in entry["formats"].values() for fmts in streams.values() for fmt in fmts}


@pytest.mark.parametrize("entry", FILES, ids=[f["path"].removeprefix("samples/") for f in FILES])
def test_sample_formats_services_and_line_count(entry):
    events, diag = read_events(ROOT / entry["path"])
    assert diag.lines_read == entry["lines"]
    assert sum(events.get_column("line_count")) + diag.blank_lines == entry["lines"]
    assert not diag.errors and not diag.unparsed
    detected = set(events.get_column("format").unique()) - {"compose"}
    expected = expected_formats(entry)
    assert expected - {"plain"} <= detected, "a real format was not detected"
    plain = events.filter(events.get_column("format") == "plain")
    if "plain" not in expected:
        assert plain.height == 0, plain.get_column("text").to_list()[:3]
    # alembic prints FAILED: on stdout; logscan reads it as the alembic logger's line (format python)
    if entry["path"].startswith("samples/alembic/"):
        failed = events.filter(events.get_column("message").str.starts_with("Multiple head") | events.get_column("text").str.starts_with("FAILED: "))
        assert set(failed.get_column("format")) <= {"python"}
    if entry["wrapping"] != "none":
        services = set(entry["services"])
        folder = (ROOT / entry["path"]).parent
        if entry["wrapping"] == "docker-json-file" and not (folder / "config.v2.json").exists():
            services = {folder.name[:12]}  # no container config: the short container id names the service
        assert set(events.get_column("service").unique()) - {"compose"} == services
    # uvicorn's un-decorated access lines (gunicorn + UvicornWorker) are uvicorn's, the rest is as listed
    assert detected <= expected | {"uvicorn", "python"}


def test_docker_containers_folder_names_services():
    events, _ = read_events(ROOT / "samples" / "docker" / "containers")
    services = set(events.get_column("service").unique())
    assert {"api", "db", "worker", "migrate"} <= services
    no_config = [s for s in services if s not in {"api", "db", "worker", "migrate", "notifier"}]
    assert all(len(s) == 12 for s in no_config)  # short container id when there is no config.v2.json


def test_compose_sample_on_stdin_joins_tracebacks_per_service(cli):
    data = (ROOT / "samples" / "compose" / "compose.log").read_bytes()
    result = cli("events", "-", "--format", "jsonl", input=data)
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert {r["service"] for r in rows} >= {"api", "db", "migrate", "worker"}
    tracebacks = [r for r in rows if r["exc_type"]]
    assert tracebacks and all(r["service"] == "api" for r in tracebacks if "sqlalchemy" in r["text"])
    assert all(r["text"].count("Traceback (most recent call last):") >= 1 for r in tracebacks if r["format"] != "json")
    assert sum(r["line_count"] for r in rows) == data.count(b"\n")
