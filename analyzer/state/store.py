"""The state folder of incremental runs (`scan --state DIR`): checkpoints and incident history, per job.

Layout: `DIR/job-<id>/state.json`, one JSON file holding the checkpoints
(analyzer.state.checkpoints) and the incident history (analyzer.state.history),
plus a `lock` file. The default DIR is `$XDG_STATE_HOME/logscan`, else
`~/.local/state/logscan`.

One file, written once per run, atomically: a temporary file in the same
folder, written and fsynced, renamed over `state.json`, then the folder
fsynced. A run that crashes or fails at any step (disk full, kill -9) leaves
either the old state or the new one, never new offsets beside an old history
(which would let the run's incidents go unrecorded and never listed as
resolved). Temporary files a killed run left behind are removed by the next
run of the job (under its lock). The layout before this one, two files
`checkpoints.json` and `history.json`, is still read when there is no
`state.json`, and removed once `state.json` is written.

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
  aside (`state.json.corrupt-20261123T120000Z`), a warning is recorded in
  Diagnostics, and the damaged part is rebuilt from nothing (checkpoints:
  inputs read from their start; history: every incident `new`) while an intact
  part is kept: never a crash.
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

SCHEMA = "logscan.state/1"
STATE_FILE = "state.json"
LEGACY_FILES = ("checkpoints.json", "history.json")  # the two-file layout before STATE_FILE
LOCK_FILE = "lock"
_TEMP_PREFIX = "."  # temporary files: `.state.json.<random>.tmp`, `.probe-<random>`


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
    """Write `data` as JSON atomically; StateError on failure, and then `path` is as it was.

    A temporary file in the same folder is written and fsynced, renamed over
    `path`, then the folder is fsynced so that the rename itself survives a
    power cut. A failure removes the temporary file (a kill leaves it for
    `remove_stale_temps`).
    """
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{_TEMP_PREFIX}{path.name}.", suffix=".tmp")
        try:
            left = memoryview(orjson.dumps(data, option=orjson.OPT_INDENT_2))
            while left:
                left = left[os.write(fd, left) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        tmp = None
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except OSError as exc:
        raise StateError(f"cannot write the state file {path}: {_reason(exc)}") from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def remove_stale_temps(folder: Path) -> None:
    """Remove the temporary files of runs killed mid-write (call with the job's lock held: none is in use)."""
    for entry in folder.iterdir():
        if entry.name.startswith(_TEMP_PREFIX) and (entry.name.endswith(".tmp") or entry.name.startswith(".probe-")):
            with contextlib.suppress(OSError):
                entry.unlink()


def _set_aside(path: Path, diag: Diagnostics, why: object, what: str) -> None:
    """Rename a damaged state file aside (`<name>.corrupt-<time>`) and say so."""
    aside = path.with_name(f"{path.name}.corrupt-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}")
    try:
        os.replace(path, aside)
        kept = f"set aside as {aside}"
    except OSError as move_exc:
        kept = f"could not be set aside ({_reason(move_exc)}), will be overwritten"
    diag.warn(f"state file {path} is damaged ({why}); {kept}; {what}")


_DAMAGED = (orjson.JSONDecodeError, ValueError, TypeError, KeyError)
_REBUILT = {
    "checkpoints": "checkpoints rebuilt: every input is read from its start",
    "history": "incident history rebuilt: every incident counts as new",
}


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read the state file {path}: {_reason(exc)}") from exc


def _load(folder: Path, diag: Diagnostics) -> tuple[Checkpoints, History]:
    """The job's checkpoints and history: from `state.json`, else from the two-file layout before it.

    A damaged file (or part of it) is set aside with a warning and that part rebuilt from nothing.
    """
    path = folder / STATE_FILE
    raw = _read(path)
    if raw is None:
        return _load_legacy(folder, diag)
    try:
        data = orjson.loads(raw)
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} file")
    except _DAMAGED as exc:
        _set_aside(path, diag, exc, "state rebuilt: every input is read from its start, every incident counts as new")
        return Checkpoints(), History()
    parts: dict[str, Any] = {}
    damaged: list[str] = []
    for name, parse in (("checkpoints", Checkpoints.from_json), ("history", History.from_json)):
        try:
            parts[name] = parse(data.get(name))
        except _DAMAGED as exc:
            damaged.append(f"{name}: {exc}")
            parts[name] = Checkpoints() if name == "checkpoints" else History()
    if damaged:
        rebuilt = [_REBUILT[d.split(":", 1)[0]] for d in damaged]
        _set_aside(path, diag, "; ".join(damaged), "; ".join(rebuilt))
    return parts["checkpoints"], parts["history"]


def _load_legacy(folder: Path, diag: Diagnostics) -> tuple[Checkpoints, History]:
    """`checkpoints.json` and `history.json` of the layout before `state.json` (each may be missing)."""
    loaded: list[Any] = []
    for name, parse, empty in zip(LEGACY_FILES, (Checkpoints.from_json, History.from_json), (Checkpoints, History)):
        path = folder / name
        raw = _read(path)
        try:
            loaded.append(empty() if raw is None else parse(orjson.loads(raw)))
        except _DAMAGED as exc:
            _set_aside(path, diag, exc, _REBUILT[name.split(".")[0]])
            loaded.append(empty())
    return loaded[0], loaded[1]


@dataclass
class State:
    """The checkpoints and history of one job; `commit` after a successful run."""

    dir: Path  # the job's folder
    checkpoints: Checkpoints
    history: History
    _lock: int | None = field(default=None, repr=False)

    def commit(self) -> None:
        """Save what this run read (checkpoints) and found (history) in one atomic write, then unlock.

        StateError when it cannot be written: the state on disk is then the one this run started from.
        """
        try:
            self.checkpoints.settle()
            write_json(self.dir / STATE_FILE, {
                "schema": SCHEMA, "checkpoints": self.checkpoints.to_json(), "history": self.history.to_json(),
            })
            for name in LEGACY_FILES:  # superseded; one left behind is harmless: state.json is read first
                with contextlib.suppress(OSError):
                    (self.dir / name).unlink()
        finally:
            self.close()

    def close(self) -> None:
        """Release the job's lock without saving anything (also done by `commit`)."""
        if self._lock is not None:
            lock, self._lock = self._lock, None
            with contextlib.suppress(OSError):  # the lock goes with the descriptor whatever close reports
                os.close(lock)

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
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f"{_TEMP_PREFIX}probe-")
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
        remove_stale_temps(folder)
        checkpoints, history = _load(folder, diag)
    except BaseException:
        os.close(lock)
        raise
    return State(folder, checkpoints, history, lock)
