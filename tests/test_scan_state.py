"""`scan --state`: nightly runs over a growing log read only the new bytes and say what changed.

The library (checkpoints, history, storage) is tested in test_state.py; these
tests run the real command twice or three times over a real sample, split in
two, and check the JSON report a cron job would keep.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "compose" / "compose.log"


def _scan(cli, log: Path, state: Path, *extra: str) -> dict:
    result = cli("scan", str(log), "--state", str(state), "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _split(data: bytes) -> int:
    """A cut in the middle of the sample, on a line boundary."""
    return data.index(b"\n", len(data) // 2) + 1


def test_second_run_reads_only_new_bytes_and_marks_statuses(cli, tmp_path: Path) -> None:
    data = SAMPLE.read_bytes()
    cut = _split(data)
    log, state = tmp_path / "compose.log", tmp_path / "state"
    log.write_bytes(data[:cut])
    first = _scan(cli, log, state)
    assert first["summary"]["bytes_read"] == cut and first["summary"]["resumed_bytes"] == 0
    assert first["incidents"] and {i["status"] for i in first["incidents"]} == {"new"}
    assert first["resolved"] == []

    with log.open("ab") as f:
        f.write(data[cut:])
    second = _scan(cli, log, state)
    assert second["summary"]["resumed_bytes"] == cut
    assert second["summary"]["bytes_read"] == len(data) - cut  # measured: only the appended bytes were read
    before = {i["fingerprint"] for i in first["incidents"]}
    for incident in second["incidents"]:
        assert incident["status"] == ("ongoing" if incident["fingerprint"] in before else "new")
    now = {i["fingerprint"] for i in second["incidents"]}
    assert {r["fingerprint"] for r in second["resolved"]} == before - now
    # line numbers go on from where the first run stopped
    first_lines = data[:cut].count(b"\n")
    assert all(e["line_no"] > first_lines for i in second["incidents"] for e in i["examples"] if e["line_no"])

    third = _scan(cli, log, state)  # nothing new: everything of the second run is resolved
    assert third["summary"]["bytes_read"] == 0 and third["incidents"] == []
    assert {r["fingerprint"] for r in third["resolved"]} == now


def test_whole_file_in_two_runs_finds_what_one_run_finds(cli, tmp_path: Path) -> None:
    """Splitting the reading loses no incident that does not straddle the cut (counts add up per fingerprint)."""
    data = SAMPLE.read_bytes()
    cut = _split(data)
    log = tmp_path / "compose.log"
    log.write_bytes(data)
    once = json.loads(cli("scan", str(log), "--format", "json").stdout)
    log.write_bytes(data[:cut])
    first = _scan(cli, log, tmp_path / "state")
    with log.open("ab") as f:
        f.write(data[cut:])
    second = _scan(cli, log, tmp_path / "state")
    assert first["summary"]["lines_read"] + second["summary"]["lines_read"] == once["summary"]["lines_read"]
    point = {i["fingerprint"] for i in once["incidents"] if not i["signature"].endswith(("_storm", "slow_request"))}
    split = {i["fingerprint"] for i in first["incidents"] + second["incidents"]}
    assert point <= split


def test_rotation_between_runs_loses_no_line(cli, tmp_path: Path) -> None:
    data = SAMPLE.read_bytes()
    cut = _split(data)
    log, state = tmp_path / "app.log", tmp_path / "state"
    log.write_bytes(data[:cut])
    first = _scan(cli, tmp_path / "app.log*", state)
    os.rename(log, tmp_path / "app.log.1")  # logrotate: the old file keeps growing a little, then a new one starts
    with (tmp_path / "app.log.1").open("ab") as f:
        f.write(data[cut:])
    log.write_bytes(b"")
    second = _scan(cli, tmp_path / "app.log*", state)
    total = data.count(b"\n")
    assert first["summary"]["lines_read"] + second["summary"]["lines_read"] == total


def test_corrupt_state_is_set_aside_and_rebuilt(cli, tmp_path: Path) -> None:
    log, state = tmp_path / "compose.log", tmp_path / "state"
    log.write_bytes(SAMPLE.read_bytes())
    _scan(cli, log, state)
    (saved,) = state.glob("*/state.json")
    saved.write_text("{not json")
    report = _scan(cli, log, state)
    assert any("state.json" in w and "set aside" in w for w in report["summary"]["warnings"]), report["summary"]["warnings"]
    assert list(state.glob("*/state.json.corrupt-*"))


def test_unwritable_state_folder_is_one_clear_error(cli, tmp_path: Path) -> None:
    log = tmp_path / "compose.log"
    log.write_bytes(SAMPLE.read_bytes())
    (tmp_path / "afile").write_text("not a folder")
    result = cli("scan", str(log), "--state", str(tmp_path / "afile" / "state"), "--format", "json")
    assert result.exit_code == 2
    assert "afile" in result.output and result.stdout == ""
