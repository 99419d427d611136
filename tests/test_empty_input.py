"""`scan` of nothing (an empty file, empty stdin): the report of an input without a byte, in every format, so
that a faster start (issue 12) cannot change what it says. Each command runs in a fresh interpreter, as the
`logscan` script runs."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from conftest import ROOT

COMPOSE = ROOT / "samples/compose/compose.log"

#: The summary of an input without a byte: every count zero, every table empty, no time range.
EMPTY_SUMMARY = {
    "lines_read": 0, "bytes_read": 0, "resumed_bytes": 0, "held_bytes": 0, "records": 0, "blank_lines": 0,
    "events_by_format": {}, "events_by_service": {}, "streams": [], "altered_lines": {}, "unparsed_lines": 0,
    "unparsed_reasons": {}, "time_range": [None, None], "warnings": [], "errors": [], "ignored_incidents": 0,
}


def _scan(tmp_path: Path, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "analyzer", "scan", *args], input=stdin.decode(), cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NO_COLOR": "1", "COLUMNS": "100"})


@pytest.fixture
def empty(tmp_path: Path) -> str:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    return str(path)


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_the_json_report_of_nothing_has_the_full_structure_and_nothing_in_it(tmp_path, empty, source):
    run = _scan(tmp_path, empty if source == "file" else "-", "-f", "json")
    assert (run.returncode, run.stderr) == (0, "")
    report = json.loads(run.stdout)
    full = json.loads(_scan(tmp_path, str(COMPOSE), "-f", "json").stdout)
    assert report.keys() == full.keys() and report["summary"].keys() == full["summary"].keys()
    assert report["schema"] == full["schema"]
    assert datetime.fromisoformat(report["generated_at"]).tzinfo is not None
    assert report["summary"] == EMPTY_SUMMARY
    assert report["incidents"] == []


def test_the_markdown_report_of_nothing(tmp_path, empty):
    run = _scan(tmp_path, empty, "-f", "markdown")
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout == ("# logscan report\n\n**0 lines** read, 0 records, 0 unparsed; time range — → —.\n\n"
                          "Formats: —.\n\nNo incidents found.\n")


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_the_text_report_of_nothing(tmp_path, empty, source):
    run = _scan(tmp_path, empty if source == "file" else "-")
    assert (run.returncode, run.stderr) == (0, "")
    assert [line.rstrip() for line in run.stdout.splitlines()] == [
        "No incidents found.",
        "lines read 0  bytes 0  records 0  blank lines 0  unparsed 0",
        "events per format",
        "events per service",
    ]


def test_nothing_to_read_passes_any_fail_on_gate(tmp_path, empty):
    run = _scan(tmp_path, empty, "--fail-on", "info", "-f", "json", "-q")
    assert (run.returncode, run.stderr) == (0, "")
    assert json.loads(run.stdout)["incidents"] == []
