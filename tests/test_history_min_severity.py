"""`scan --state` history records every incident found, not only those --min-severity shows."""

from __future__ import annotations

import json
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "compose" / "compose.log"


def _scan(cli, log: Path, state: Path, *extra: str) -> dict:
    result = cli("scan", str(log), "--state", str(state), "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_min_severity_changes_what_is_shown_not_what_is_resolved_or_new(cli, tmp_path: Path) -> None:
    data = SAMPLE.read_bytes()
    log, state = tmp_path / "compose.log", tmp_path / "state"
    log.write_bytes(data)
    first = _scan(cli, log, state, "--min-severity", "info")
    low = {i["fingerprint"] for i in first["incidents"] if i["severity"] in ("info", "low", "medium")}
    assert low and {i["status"] for i in first["incidents"]} == {"new"}

    with log.open("ab") as f:  # the same incidents happen again
        f.write(data)
    second = _scan(cli, log, state, "--min-severity", "high")
    assert second["incidents"] and {i["severity"] for i in second["incidents"]} <= {"high", "critical"}
    assert {i["status"] for i in second["incidents"]} == {"ongoing"}
    assert second["resolved"] == []  # found again, only hidden: not resolved

    with log.open("ab") as f:
        f.write(data)
    third = _scan(cli, log, state, "--min-severity", "info")
    statuses = {i["fingerprint"]: i["status"] for i in third["incidents"]}
    assert low <= set(statuses)
    assert {statuses[fp] for fp in low} == {"ongoing"}  # not regressed: the hidden run found them too
    assert third["resolved"] == []


def test_resolved_lists_only_incidents_at_or_above_the_minimum_severity(cli, tmp_path: Path) -> None:
    data = SAMPLE.read_bytes()
    log, state = tmp_path / "compose.log", tmp_path / "state"
    log.write_bytes(data)
    first = _scan(cli, log, state, "--min-severity", "info")
    second = _scan(cli, log, state, "--min-severity", "high")  # nothing new: every incident is resolved
    assert second["incidents"] == []
    expected = {i["fingerprint"] for i in first["incidents"] if i["severity"] in ("high", "critical")}
    assert {r["fingerprint"] for r in second["resolved"]} == expected
