"""`scan --state` started while a record is still being written (issue 14, 10): the unfinished last record is left
for the next run, which reads it whole from its start; a file rotated away gives it up as it is (analyzer.ingest.settle)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from conftest import ROOT

API_TEXT = (ROOT / "samples/api/api-text.log").read_bytes().splitlines(keepends=True)
REQUEST = b"".join(API_TEXT[84:198])  # a request and its 500, its MissingGreenlet traceback without the last line
EXCEPTION_LINE = API_TEXT[198]  # sqlalchemy.exc.MissingGreenlet: ...
AFTER = b"".join(API_TEXT[199:203])


def scan(cli, pattern: Path | str, state: Path) -> dict:
    result = cli("scan", str(pattern), "--state", str(state), "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def signatures(report: dict) -> dict[str, int]:
    return {i["signature"]: i["count"] for i in report["incidents"]}


def settle(path: Path, ago: float = 60) -> None:
    os.utime(path, (time.time() - ago, time.time() - ago))


def test_a_traceback_without_its_exception_line_waits_for_the_next_run(cli, tmp_path: Path) -> None:
    log, state = tmp_path / "app.log", tmp_path / "state"
    log.write_bytes(REQUEST)
    settle(log)  # old enough: only the traceback rule can hold it
    first = scan(cli, log, state)
    assert "missing_greenlet" not in signatures(first)
    held = first["summary"]["held_bytes"]
    assert held > 0 and REQUEST.endswith(REQUEST[-held:]) and REQUEST[-held:].count(b"Traceback") == 1
    assert any("traceback without its exception line" in w for w in first["summary"]["warnings"])
    with log.open("ab") as f:  # the app finishes it, and goes on
        f.write(EXCEPTION_LINE + AFTER)
    settle(log)
    second = scan(cli, log, state)
    assert signatures(second).get("missing_greenlet") == 1
    assert second["summary"]["held_bytes"] == 0
    total = (REQUEST + EXCEPTION_LINE + AFTER).count(b"\n")
    assert first["summary"]["lines_read"] + second["summary"]["lines_read"] == total


def test_a_complete_error_is_never_held_however_young(cli, tmp_path: Path) -> None:
    """A CI step scanning with --fail-on right after the app logged an error must see it now."""
    done = b"2026-11-23 10:00:00.000 | INFO     | app:f:1 - fine\n"
    error = b"2026-11-23 10:00:01.000 | ERROR    | app:f:2 - Exception in ASGI application\n"
    young = tmp_path / "young.log"
    young.write_bytes(done + error)  # just written
    report = scan(cli, young, tmp_path / "s1")
    assert report["summary"]["held_bytes"] == 0 and report["summary"]["lines_read"] == 2


def test_the_unfinished_record_of_a_file_rotated_away_is_read_as_it_is(cli, tmp_path: Path) -> None:
    log, state = tmp_path / "app.log", tmp_path / "state"
    log.write_bytes(REQUEST)
    settle(log)
    first = scan(cli, tmp_path / "app.log*", state)
    assert first["summary"]["held_bytes"] > 0
    log.rename(tmp_path / "app.log.1")  # the app crashed mid-traceback, its log was rotated: no more lines
    log.write_bytes(AFTER)
    settle(log)
    second = scan(cli, tmp_path / "app.log*", state)
    assert second["summary"]["held_bytes"] == 0
    assert first["summary"]["lines_read"] + second["summary"]["lines_read"] == (REQUEST + AFTER).count(b"\n")
    third = scan(cli, tmp_path / "app.log*", state)
    assert third["summary"]["lines_read"] == 0
