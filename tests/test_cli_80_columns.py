"""80-column renders of `scan`, `events` and `signatures list`, compared with snapshot files (issue 13).

The commands run as a user runs them (a real process, COLUMNS=80, NO_COLOR=1, stdout a pipe) and every
line must fit 80 columns. A difference from tests/snapshots/ fails the test with a diff; when the change is
meant, update the files on purpose with

    LOGSCAN_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_cli_80_columns.py

and review `git diff tests/snapshots/` before committing.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

SNAPSHOTS = Path(__file__).parent / "snapshots"
WIDTH = 80

RENDERS = {
    "scan-compose": ["scan", "samples/compose/compose.log"],
    "scan-compose-top2": ["scan", "samples/compose/compose.log", "--top", "2", "--min-severity", "medium"],
    "events-compose": ["events", "samples/compose/compose.log", "--limit", "60"],
    "signatures-list": ["signatures", "list"],
}


def _render(args: list[str]) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "PAGER", "LINES")}
    env |= {"COLUMNS": str(WIDTH), "NO_COLOR": "1", "TERM": "dumb"}
    result = subprocess.run([sys.executable, "-m", "analyzer", *args], cwd=ROOT, env=env, capture_output=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


@pytest.mark.parametrize("name", sorted(RENDERS))
def test_80_column_render_matches_its_snapshot(name):
    text = _render(RENDERS[name])
    wide = [line for line in text.splitlines() if len(line.rstrip()) > WIDTH]
    assert not wide, f"lines wider than {WIDTH} columns:\n" + "\n".join(wide)
    snapshot = SNAPSHOTS / f"{name}.txt"
    normalized = "\n".join(line.rstrip() for line in text.splitlines()) + "\n"
    if os.environ.get("LOGSCAN_UPDATE_SNAPSHOTS"):
        snapshot.write_text(normalized, encoding="utf-8")
    assert snapshot.exists(), f"no snapshot {snapshot}; create it with LOGSCAN_UPDATE_SNAPSHOTS=1 (see this module's doc)"
    expected = snapshot.read_text(encoding="utf-8")
    if normalized != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), normalized.splitlines(True),
                                            f"tests/snapshots/{name}.txt", f"logscan {' '.join(RENDERS[name])}"))
        pytest.fail(f"the {WIDTH}-column render of `logscan {' '.join(RENDERS[name])}` changed:\n{diff}\n"
                    "If the change is meant, update the snapshots on purpose: "
                    "LOGSCAN_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_cli_80_columns.py "
                    "and review git diff tests/snapshots/.")
