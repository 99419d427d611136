"""The state commit (`scan --state`) under faults: a run killed or failing at any step of it leaves either the old
state or the new one, so across the runs that succeed every line is read exactly once and every run's incidents
are recorded (issue 14: offsets saved while the history was not, `.tmp` files piling up after kill -9)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest
from state_run import run

from analyzer.state import store

HERE = Path(__file__).resolve().parent


def append(log: Path, start: int, stop: int, tag: str) -> None:
    with log.open("ab") as f:
        f.write(b"".join(b"L%08d %s\n" % (i, tag.encode()) for i in range(start, stop)))


def to_legacy_layout(state: Path) -> Path:
    """Rewrite the job's state.json as the two files of the layout before it; returns the job folder."""
    (folder,) = state.iterdir()
    data = orjson.loads((folder / "state.json").read_bytes())
    (folder / "checkpoints.json").write_bytes(orjson.dumps(data["checkpoints"]))
    (folder / "history.json").write_bytes(orjson.dumps(data["history"]))
    (folder / "state.json").unlink()
    return folder


def check_after(state: Path, log: Path, before: list[int], committed: bool) -> None:
    """The run after a faulty one: with the runs that succeeded, every line once; every successful run recorded."""
    after = run(state, log)
    seen = Counter(before + after)
    assert set(seen) == set(range(250)) and max(seen.values()) == 1, (committed, sorted(set(range(250)) - set(seen)))
    (folder,) = state.iterdir()
    assert sorted(p.name for p in folder.iterdir()) == ["lock", "state.json"]  # no .tmp, no old layout
    history = orjson.loads((folder / "state.json").read_bytes())["history"]
    recorded = [sorted(r["fingerprints"]) for r in history["runs"]]
    assert recorded == ([["first"], ["second"], ["third"]] if committed else [["first"], ["second", "third"]])


def scenario(tmp_path: Path) -> tuple[Path, Path, list[int]]:
    log, state = tmp_path / "app.log", tmp_path / "state"
    append(log, 0, 100, "first")
    first = run(state, log)
    to_legacy_layout(state)
    append(log, 100, 200, "second")
    return log, state, first


def test_a_run_killed_at_any_step_of_its_commit_leaves_the_old_state_or_the_new(tmp_path: Path) -> None:
    k = 0
    outcomes = []
    while True:
        k += 1
        case = tmp_path / f"kill-{k}"
        case.mkdir()
        log, state, first = scenario(case)
        died = subprocess.run([sys.executable, str(HERE / "state_run.py"), str(state), str(log), str(k)],
                              capture_output=True, cwd=HERE, timeout=60)
        assert died.returncode in (0, 137), died.stderr.decode()
        folder = next(state.iterdir())
        committed = (folder / "state.json").exists()
        outcomes.append((k, died.returncode, committed))
        append(log, 200, 250, "third")
        check_after(state, log, first + (list(range(100, 200)) if committed else []), committed)
        if died.returncode == 0:
            break
    assert k >= 9, outcomes  # open, write, fsync, close, replace, open/fsync/close of the folder, unlinks
    assert any(not c for _, rc, c in outcomes if rc) and any(c for _, rc, c in outcomes if rc)  # both sides hit


@pytest.mark.parametrize("step", ["open", "write", "fsync", "close", "replace"])
def test_a_commit_failing_at_a_step_keeps_the_old_state_whole(tmp_path: Path, monkeypatch, step: str) -> None:
    log, state, first = scenario(tmp_path)
    folder = next(state.iterdir())
    legacy = {name: (folder / name).read_bytes() for name in store.LEGACY_FILES}
    real_commit, real = store.State.commit, getattr(os, step)

    def full(*args, **kwargs):
        if step == "close":
            real(*args, **kwargs)  # closed, but the close reports the error (NFS, a full disk)
        raise OSError(errno.ENOSPC, "No space left on device")

    def commit(self: store.State) -> None:
        with monkeypatch.context() as patch:
            patch.setattr(os, step, full)
            real_commit(self)

    monkeypatch.setattr(store.State, "commit", commit)
    with pytest.raises(store.StateError, match="No space left"):
        run(state, log)
    monkeypatch.undo()
    assert {name: (folder / name).read_bytes() for name in store.LEGACY_FILES} == legacy
    assert not (folder / "state.json").exists()
    append(log, 200, 250, "third")
    check_after(state, log, first, committed=False)
