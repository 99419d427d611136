"""`scan --state`: an unfinished last line of a file rotated away is read once, not left (and warned) forever."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

DONE = b"2026-11-23 10:00:00.000 | ERROR    | app:f:1 - one\n"
UNFINISHED = b"2026-11-23 10:00:01.000 | INFO     | app:f:1 - unfinished"
NEW = b"2026-11-23 10:01:00.000 | INFO     | app:f:1 - new\n"


def _write_settled(path: Path, data: bytes) -> None:
    """Written a minute ago: only the line rule holds anything back, not the young-record one (analyzer.ingest.settle)."""
    path.write_bytes(data)
    os.utime(path, (time.time() - 60, time.time() - 60))


def _scan(cli, pattern: str | Path, state: Path) -> dict:
    result = cli("scan", str(pattern), "--state", str(state), "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["summary"]


def _left(summary: dict) -> list[str]:
    return [w for w in summary["warnings"] if "left for the next run" in w]


def test_held_line_of_a_renamed_rotated_file_is_read_once(cli, tmp_path):
    log, state = tmp_path / "app.log", tmp_path / "state"
    _write_settled(log, DONE + UNFINISHED)
    first = _scan(cli, tmp_path / "app.log*", state)
    assert first["held_bytes"] == len(UNFINISHED) and _left(first)  # the writer may still finish it
    os.rename(log, tmp_path / "app.log.2")
    log.write_bytes(NEW)
    second = _scan(cli, tmp_path / "app.log*", state)
    assert second["held_bytes"] == 0 and not _left(second)
    assert second["lines_read"] == 2  # the rotated file's last line, and the new file's
    for _ in range(2):
        later = _scan(cli, tmp_path / "app.log*", state)
        assert later["warnings"] == [] and later["held_bytes"] == 0 and later["lines_read"] == 0


def test_rename_to_an_unnumbered_name_counts_too(cli, tmp_path):
    """Loguru's rotation: app.log -> app.2026-11-23_10-00-00_000000.log, a new app.log."""
    log, state = tmp_path / "app.log", tmp_path / "state"
    _write_settled(log, DONE + UNFINISHED)
    _scan(cli, tmp_path / "app*.log", state)
    os.rename(log, tmp_path / "app.2026-11-23_10-00-00_000000.log")
    log.write_bytes(NEW)
    second = _scan(cli, tmp_path / "app*.log", state)
    assert second["held_bytes"] == 0 and not _left(second) and second["lines_read"] == 2
    assert _scan(cli, tmp_path / "app*.log", state)["warnings"] == []


def test_a_live_file_or_a_renamed_file_without_successor_still_waits(cli, tmp_path):
    log, state = tmp_path / "app.log", tmp_path / "state"
    _write_settled(log, DONE + UNFINISHED)
    _scan(cli, log, state)
    again = _scan(cli, log, state)  # still the live file: its writer may finish the line
    assert again["held_bytes"] == len(UNFINISHED) and _left(again)
    os.rename(log, tmp_path / "app.log.1")  # moved away, nothing new under the name yet: may still be written
    moved = _scan(cli, tmp_path / "app.log*", state)
    assert moved["held_bytes"] == len(UNFINISHED) and _left(moved)
    with open(tmp_path / "app.log.1", "ab") as f:
        f.write(b" and done\n")
    finished = _scan(cli, tmp_path / "app.log*", state)
    assert finished["held_bytes"] == 0 and finished["lines_read"] == 1
