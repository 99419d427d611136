"""One `scan --state`-like run for the commit fault tests, in-process or as a script that dies at a commit step.

`run` opens the job's state, reads the log through the real sources stage with
its checkpoints, records one incident per line tag seen, and commits. As a
script (`python state_run.py STATE LOG K`), every os call of the commit
(open, write, fsync, close, replace, unlink) is counted and the process is
killed (`os._exit(137)`, as by kill -9) just before the K-th; a write is cut
in half first, as a full disk or a kill mid-write would leave it.
"""

from __future__ import annotations

import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from analyzer.diagnostics import Diagnostics
from analyzer.ingest.sources import read_chunks, resolve
from analyzer.state import store

LINE = re.compile(rb"^L(\d{8}) (\w+)")
STEPS = ("open", "write", "fsync", "close", "replace", "unlink")


def run(state_dir: Path, log: Path) -> list[int]:
    """The ids of the lines this run read (it commits its state before returning)."""
    diag = Diagnostics()
    state = store.open_state(state_dir, [str(log)], diag)
    ids: list[int] = []
    tags: set[str] = set()
    for inp in resolve([str(log)], diag, resume=state.checkpoints):
        for chunk in read_chunks(inp, diag):
            for line in chunk.data.splitlines():
                if m := LINE.match(line):
                    ids.append(int(m[1]))
                    tags.add(m[2].decode())
    state.history.record([{"fingerprint": tag, "title": tag} for tag in sorted(tags)], datetime.now(UTC))
    state.commit()
    return ids


def _die_at(k: int) -> None:
    """Kill this process just before the k-th os call made by `State.commit`."""
    calls = 0
    real_commit = store.State.commit

    def counted(name: str):
        real = getattr(os, name)

        def call(*args, **kwargs):
            nonlocal calls
            calls += 1
            if calls == k:
                if name == "write":
                    real(args[0], args[1][: len(args[1]) // 2])
                os._exit(137)
            return real(*args, **kwargs)

        return call

    def commit(self: store.State) -> None:
        for name in STEPS:
            setattr(os, name, counted(name))
        real_commit(self)

    store.State.commit = commit  # type: ignore[method-assign]


if __name__ == "__main__":
    _die_at(int(sys.argv[3]))
    print(len(run(Path(sys.argv[1]), Path(sys.argv[2]))))
