"""`scan --state` runs while a writer appends at ~20k lines/s and the log is rotated: across the runs, every
line read exactly once, for each rotation method, with a glob over the rotated set or the log file alone."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from rotating_writer import METHODS, RotatingWriter, exactly_once, line_ids

import analyzer.ingest.pipeline  # noqa: F401 - what a first run imports (settle), before the clock starts
from analyzer.diagnostics import Diagnostics
from analyzer.ingest.sources import read_chunks, resolve
from analyzer.state.store import open_state

RUN_EVERY = 0.15


def one_run(args: list[str], state: Path) -> tuple[list[bytes], Diagnostics]:
    """What a `scan --state` run reads: the job's checkpoints, the real sources stage, a commit at the end."""
    diag = Diagnostics()
    job = open_state(state, args, diag)
    data = [chunk.data for inp in resolve(args, diag, resume=job.checkpoints) for chunk in read_chunks(inp, diag)]
    job.commit()
    return data, diag


# A file named alone cannot follow lines a writer adds to a renamed file after a run found it (`rename`: pass a
# glob), and nobody can read a deleted file's lines that no run read before (`delete`: checked below).
ALONE = [m for m in METHODS if m not in ("rename", "delete")]


@pytest.mark.load
@pytest.mark.parametrize(("method", "target"), [(m, "glob") for m in METHODS] + [(m, "file") for m in ALONE])
def test_runs_during_rotations_under_load_read_every_line_once(tmp_path: Path, method: str, target: str) -> None:
    logs, state = tmp_path / "logs", tmp_path / "state"
    logs.mkdir()
    writer = RotatingWriter(logs, method, rate=20_000, seconds=1.2, rotations=3)
    args = [str(logs / "app.log*") if target == "glob" else str(logs / "app.log")]
    seen: Counter[int] = Counter()
    warnings: list[str] = []
    data, diag = one_run(args, state)  # before the writer starts (and the imports a first run makes are done)
    runs = 1
    writer.start()
    while writer.is_alive():
        data, diag = one_run(args, state)
        seen.update(line_ids(data))
        warnings += diag.warnings
        runs += 1
        time.sleep(RUN_EVERY)
    data, diag = one_run(args, state)  # the last run, after the writer stopped
    seen.update(line_ids(data))
    assert runs >= 4  # some during the rotations
    if method == "delete":  # only lines of a deleted file may be missing, none doubled
        gone = {i for r in writer.deleted for i in r}
        assert max(seen.values()) == 1 and set(range(writer.written)) - set(seen) <= gone
        return
    assert exactly_once(seen, writer.written) is None, (exactly_once(seen, writer.written), warnings)
    assert not [w for w in warnings if "lost" in w]
