"""The state folder of incremental runs (`scan --state DIR`): checkpoints and incident history, per job.

Layout: `DIR/job-<id>/checkpoints.json` (analyzer.state.checkpoints) and
`DIR/job-<id>/history.json` (analyzer.state.history), both JSON written atomically
(a temporary file in the same folder, fsynced, then `os.replace`), plus a
`lock` file. The default DIR is `$XDG_STATE_HOME/logscan`, else
`~/.local/state/logscan`.

A *job* is what one recurring run reads: its id is a hash of the sorted,
absolute input arguments as given (globs and folders as written, not the files
they matched, so a rotation does not change the job; `-` stays `-`), unless a
name is given. Two cron jobs over different inputs therefore never share
offsets or history; the same command run again finds its own.

Robustness:

* The folder is created and a probe file written in it before anything is
  read; when that fails (a parent is a regular file, read-only file system,
  permissions, ...) `open_state` raises `StateError`, whose message names the
  path and the reason (the CLI maps it to exit 2).
* A state file that is not valid JSON or not the expected schema is renamed
  aside (`checkpoints.json.corrupt-20261123T120000Z`), a warning is recorded in
  Diagnostics, and the state is rebuilt from nothing (inputs read from their
  start, every incident `new`): never a crash.
* Two runs of the same job at once: the second gets `StateError` (the first
  holds an exclusive lock on `lock` until `commit` or `close`).
* Nothing is written before `commit`, which the caller runs after a successful
  run: a crashed run leaves the previous state, so the next run reads again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import orjson

from analyzer.state.checkpoints import Checkpoints
from analyzer.diagnostics import Diagnostics
from analyzer.state.history import History

CHECKPOINTS_FILE = "checkpoints.json"
HISTORY_FILE = "history.json"
LOCK_FILE = "lock"


class StateError(Exception):
    """The state folder cannot be used: the message names the path and the reason (exit 2)."""


def default_state_dir() -> Path:
    """`$XDG_STATE_HOME/logscan`, else `~/.local/state/logscan`."""
    base = os.environ.get("XDG_STATE_HOME")
    return (Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "state") / "logscan"


def job_id(args: Iterable[str], name: str | None = None) -> str:
    """The job of a set of input arguments: a hash of them sorted and made absolute (or of `name`)."""
    if name is not None:
        key = "name\0" + name
    else:
        key = "args\0" + "\0".join(sorted({a if a == "-" else os.path.abspath(a) for a in args}))
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def write_json(path: Path, data: Any) -> None:
    """Write `data` as JSON atomically (temporary file in the same folder, fsync, rename); StateError on failure."""
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(orjson.dumps(data, option=orjson.OPT_INDENT_2))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise StateError(f"cannot write the state file {path}: {_reason(exc)}") from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _load(path: Path, parse: Any, diag: Diagnostics, what: str) -> Any:
    """`parse(json)` of a state file; None when there is none or it was damaged (then set aside, with a warning)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read the state file {path}: {_reason(exc)}") from exc
    try:
        return parse(orjson.loads(raw))
    except (orjson.JSONDecodeError, ValueError, TypeError, KeyError) as exc:
        aside = path.with_name(f"{path.name}.corrupt-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}")
        try:
            os.replace(path, aside)
            kept = f"set aside as {aside}"
        except OSError as move_exc:
            kept = f"could not be set aside ({_reason(move_exc)}), will be overwritten"
        diag.warn(f"state file {path} is damaged ({exc}); {kept}; {what}")
        return None


@dataclass
class State:
    """The checkpoints and history of one job; `commit` after a successful run."""

    dir: Path  # the job's folder
    checkpoints: Checkpoints
    history: History
    _lock: int | None = field(default=None, repr=False)

    def commit(self) -> None:
        """Save the checkpoints (what this run read) and the history (if `history.record` was called); unlock."""
        try:
            self.checkpoints.commit()
            self.history.commit()
        finally:
            self.close()

    def close(self) -> None:
        """Release the job's lock without saving anything (also done by `commit`)."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


def open_state(
    root: str | Path | None, args: Iterable[str], diag: Diagnostics, job: str | None = None
) -> State:
    """The state of the job reading `args` under `root` (None: the default folder).

    Creates the folder and checks it is writable before anything is read;
    raises StateError (path and reason) when it cannot be used.
    """
    base = Path(root) if root is not None else default_state_dir()
    folder = base / f"job-{job_id(args, job)}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(f"cannot use {base} as the state folder: cannot create {folder}: {_reason(exc)}") from exc
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise StateError(f"cannot use {base} as the state folder: cannot write in {folder}: {_reason(exc)}") from exc
    try:
        lock = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StateError(f"cannot use {base} as the state folder: cannot open {folder / LOCK_FILE}: {_reason(exc)}") from exc
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(lock)
        raise StateError(f"{folder}: another logscan run of the same job is using this state; try again when it ends") from exc
    try:
        cp_path, hist_path = folder / CHECKPOINTS_FILE, folder / HISTORY_FILE
        checkpoints = _load(
            cp_path, Checkpoints.from_json, diag, "checkpoints rebuilt: every input is read from its start"
        ) or Checkpoints()
        history = _load(
            hist_path, History.from_json, diag, "incident history rebuilt: every incident counts as new"
        ) or History()
    except BaseException:
        os.close(lock)
        raise
    checkpoints._save = lambda data: write_json(cp_path, data)
    history._save = lambda data: write_json(hist_path, data)
    return State(folder, checkpoints, history, lock)
