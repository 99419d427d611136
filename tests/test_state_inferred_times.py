"""`scan --state` keeps the time of records without one of their own (inferred from the stream's last time)
across runs: a resumed read infers times as a whole read does (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "api" / "api-text.log"


def _report(cli, *args: str) -> dict:
    result = cli("scan", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _times(report: dict) -> dict[str, tuple[str | None, str | None]]:
    return {i["fingerprint"]: (i["first_seen"], i["last_seen"]) for i in report["incidents"]}


def test_second_state_run_keeps_inferred_times(cli, tmp_path: Path) -> None:
    data = SAMPLE.read_bytes()
    # cut just before uvicorn's "Exception in ASGI application": its record and traceback have no time of
    # their own, only the app's Loguru lines before them do
    cut = data.index(b"ERROR:    Exception in ASGI application")
    assert data[:cut].endswith(b"\n")
    log, state = tmp_path / "api.log", tmp_path / "state"
    log.write_bytes(data)
    whole = _report(cli, str(log))
    log.write_bytes(data[:cut])
    first = _report(cli, str(log), "--state", str(state))
    (saved,) = state.glob("*/state.json")
    (checkpoint,) = json.loads(saved.read_text())["checkpoints"]["files"].values()
    assert checkpoint["times"], checkpoint  # the stream's last time where the run stopped
    with log.open("ab") as f:
        f.write(data[cut:])
    second = _report(cli, str(log), "--state", str(state))
    assert second["summary"]["resumed_bytes"] == cut
    resumed = _times(second)
    assert resumed, "the second run found no incident"
    expected = _times(whole)
    # the second run's incidents start after the cut: those the whole scan also began there have its times
    only_second = {fp for fp in resumed if fp not in _times(first)}
    assert only_second
    for fp in only_second:
        assert resumed[fp][0] is not None and resumed[fp][1] is not None, (fp, resumed[fp])
        assert resumed[fp] == expected[fp], fp


def test_checkpoint_without_times_still_loads() -> None:
    """A state file written before times were kept is read as it is (no times: nothing to infer from)."""
    from analyzer.state.checkpoints import Checkpoint

    old = {"path": "/x/app.log", "dev": 1, "ino": 2, "offset": 10, "lines": 1, "head_len": 10, "head": "h",
           "mark_len": 10, "mark": "m", "size": 10, "mtime_ns": 5, "gz": False, "long_line": False, "seen": 1.0}
    assert Checkpoint.from_json(old).times == []
    assert Checkpoint.from_json({**old, "times": [["api", None, "2026-11-23T10:43:11.674000+00:00"]]}).times
