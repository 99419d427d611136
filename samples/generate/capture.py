"""Run real processes and capture what they print, line by line, as Docker would.

Every child process gets two pipes (stdout, stderr). One reader thread per
pipe stamps each line with the wall-clock time at which it arrived
(``time.time_ns()``), like the Docker daemon's log copier does. The captured
lines are kept in arrival order, so that

* the per-stream files (``*.stdout.log``, ``*.stderr.log``) are byte-exact
  copies of what the program wrote on each stream, and
* the merged file (``*.log``) is the arrival-order interleaving of both, as a
  terminal or ``docker logs`` shows it, and
* the Docker json-file wrapper (see :mod:`dockerwrap`) gets a real receive
  time and the real stream for every line.

:class:`FileTailer` does the same for a log file that a program writes itself
(PostgreSQL's logging collector): it polls the file and stamps new lines.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_SEQ = itertools.count()
_SEQ_LOCK = threading.Lock()


def _next_seq() -> int:
    with _SEQ_LOCK:
        return next(_SEQ)


@dataclass
class Line:
    """One captured line: arrival time, stream name and the raw bytes.

    ``data`` keeps the trailing ``b"\\n"`` when the program wrote one (an
    unterminated last line at exit has none).
    """

    ts_ns: int
    seq: int
    stream: str
    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


class CapturedProcess:
    """A child process whose stdout and stderr are captured line by line."""

    def __init__(self, name: str, argv: list[str], *, env: dict | None = None,
                 cwd: str | os.PathLike | None = None):
        self.name = name
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.lines: list[Line] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.proc: subprocess.Popen | None = None
        self.started_ns = 0
        self.ended_ns = 0

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> "CapturedProcess":
        self.started_ns = time.time_ns()
        self.proc = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, env=self.env, cwd=self.cwd,
            start_new_session=True)
        for stream, pipe in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr)):
            t = threading.Thread(target=self._reader, args=(stream, pipe), daemon=True)
            t.start()
            self._threads.append(t)
        threading.Thread(target=self._watch_exit, daemon=True).start()
        return self

    def _watch_exit(self) -> None:
        self.proc.wait()
        self.ended_ns = time.time_ns()

    def _reader(self, stream: str, pipe) -> None:
        while True:
            data = pipe.readline()
            if not data:
                break
            line = Line(time.time_ns(), _next_seq(), stream, data)
            with self._lock:
                self.lines.append(line)
        pipe.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def send_signal(self, sig: int) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout: float = 60) -> int:
        """Wait for exit and for both readers to drain; return the exit code."""
        assert self.proc is not None
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for t in self._threads:
            t.join(timeout=10)
        if not self.ended_ns:
            self.ended_ns = time.time_ns()
        return self.proc.returncode

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        self.send_signal(sig)
        return self.wait(timeout)

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.returncode

    @property
    def docker_exit_code(self) -> int | None:
        """Exit status as Docker reports it (128 + signal for a signal death)."""
        rc = self.returncode
        if rc is None:
            return None
        return 128 - rc if rc < 0 else rc

    # -- access ------------------------------------------------------------
    def snapshot(self) -> list[Line]:
        with self._lock:
            return sorted(self.lines, key=lambda l: l.seq)

    def wait_for(self, needle: bytes, timeout: float = 30) -> Line:
        """Block until a line containing ``needle`` has been captured."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.snapshot():
                if needle in line.data:
                    return line
            if self.proc and self.proc.poll() is not None and all(
                    not t.is_alive() for t in self._threads):
                break
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}: {needle!r} not seen; output so far:\n"
                           + b"".join(l.data for l in self.snapshot()).decode(errors="replace")[-4000:])

    def write_files(self, base: Path, *, merged_only: bool = False) -> dict[str, Path]:
        """Write ``base.log`` (merged) and, unless ``merged_only``,
        ``base.stdout.log`` / ``base.stderr.log``; return the paths."""
        lines = self.snapshot()
        return write_lines(lines, base, merged_only=merged_only)


def write_lines(lines: list[Line], base: Path, *, merged_only: bool = False) -> dict[str, Path]:
    base.parent.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    merged = base.with_name(base.name + ".log")
    merged.write_bytes(b"".join(l.data for l in lines))
    out["merged"] = merged
    if not merged_only:
        for stream in ("stdout", "stderr"):
            p = base.with_name(f"{base.name}.{stream}.log")
            p.write_bytes(b"".join(l.data for l in lines if l.stream == stream))
            out[stream] = p
    return out


def run_captured(name: str, argv: list[str], *, env=None, cwd=None, timeout: float = 120) -> CapturedProcess:
    """Start, wait for exit, return the finished :class:`CapturedProcess`."""
    p = CapturedProcess(name, argv, env=env, cwd=cwd).start()
    p.wait(timeout)
    return p


class FileTailer:
    """Follow a growing text file and stamp each new complete line on arrival."""

    def __init__(self, path: Path, stream: str = "stderr", interval: float = 0.01):
        self.path = Path(path)
        self.stream = stream
        self.interval = interval
        self.lines: list[Line] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()

    def start(self) -> "FileTailer":
        self._thread.start()
        return self

    def _run(self) -> None:
        pos = 0
        pending = b""
        while True:
            stopping = self._stop.is_set()
            if self.path.exists():
                with open(self.path, "rb") as fh:
                    fh.seek(pos)
                    chunk = fh.read()
                    pos += len(chunk)
                if chunk:
                    now = time.time_ns()
                    pending += chunk
                    *complete, pending = pending.split(b"\n")
                    with self._lock:
                        for c in complete:
                            self.lines.append(Line(now, _next_seq(), self.stream, c + b"\n"))
            if stopping:
                break
            time.sleep(self.interval)
        if pending:
            with self._lock:
                self.lines.append(Line(time.time_ns(), _next_seq(), self.stream, pending))

    def stop(self) -> list[Line]:
        time.sleep(0.2)
        self._stop.set()
        self._thread.join(timeout=10)
        return self.snapshot()

    def snapshot(self) -> list[Line]:
        with self._lock:
            return list(self.lines)
