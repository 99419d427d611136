"""Real pipes and terminals (issue 13): `events` streams into `| head` and ends quietly; `scan` pages a long
report through $PAGER only when stdout is a terminal it does not fit, as git does."""

from __future__ import annotations

import os
import pty
import struct
import subprocess
import sys
import termios
import fcntl
import time
from pathlib import Path

import pytest
from conftest import ROOT

SAMPLE = ROOT / "samples/api/api-text.log"
COMPOSE = "samples/compose/compose.log"
TARGET_SECONDS = 2.0  # on an idle machine, where `logscan events --help` takes IDLE_STARTUP; scaled by the load (below)
IDLE_STARTUP = 0.75


def _logscan() -> str:
    script = Path(sys.executable).with_name("logscan")
    if not script.exists():
        pytest.skip("the logscan script is not installed next to this Python")
    return str(script)


@pytest.fixture(scope="module")
def big_log(tmp_path_factory) -> Path:
    """A 50 MB log made of a real sample, repeated (generated here, never committed)."""
    path = tmp_path_factory.mktemp("big") / "big.log"
    block = SAMPLE.read_bytes()
    with path.open("wb") as f:
        for _ in range((50 << 20) // len(block) + 1):
            f.write(block)
    return path


def _startup_seconds() -> float:
    """How long `logscan events --help` takes right now: the cost of starting Python and importing what `events`
    runs (`--version` no longer imports it: analyzer.cli)."""
    start = time.monotonic()
    subprocess.run([_logscan(), "events", "--help"], capture_output=True, check=True)
    return time.monotonic() - start


@pytest.mark.parametrize("fmt", ["table", "jsonl", "csv"])
def test_events_into_head_returns_at_once_quietly(big_log, fmt):
    budget = TARGET_SECONDS * max(1.0, _startup_seconds() / IDLE_STARTUP)  # a busy machine is slower at everything
    env = {**os.environ, "NO_COLOR": "1"}
    start = time.monotonic()
    events = subprocess.Popen([_logscan(), "events", str(big_log), "-f", fmt], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env)
    head = subprocess.Popen(["head", "-1"], stdin=events.stdout, stdout=subprocess.PIPE)
    assert events.stdout is not None
    events.stdout.close()  # head holds the only reading end: when it exits, logscan's writes fail (EPIPE)
    first, _ = head.communicate(timeout=60)
    code = events.wait(timeout=60)
    elapsed = time.monotonic() - start
    stderr = events.stderr.read() if events.stderr else b""
    assert first.strip()  # head got its line
    assert code == 0  # documented: a reader that closes stdout early is not a failure
    assert stderr == b""  # no traceback, no BrokenPipeError, no summary noise
    assert elapsed < budget, f"{elapsed:.2f} s (budget {budget:.2f} s)"


@pytest.mark.parametrize("args", [f"scan {COMPOSE}", f"scan {COMPOSE} --all", "scan --help", "--help",
                                  "signatures list"])
def test_other_commands_into_head_are_quiet_too(args):
    result = subprocess.run(f"set -o pipefail; {_logscan()} {args} | head -3", shell=True, executable="/bin/bash",
                            cwd=ROOT, capture_output=True, env={**os.environ, "NO_COLOR": "1"}, timeout=120,
                            check=False)
    assert result.stdout.strip() and result.stderr == b""
    assert result.returncode == 0  # pipefail: logscan's own exit code counts


def _on_a_terminal(args: list[str], rows: int, env: dict[str, str]) -> tuple[int, str]:
    """Run logscan with stdout (and stderr) on a pseudo-terminal of `rows` x 80: exit code and what it showed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, 80, 0, 0))
    full_env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR")} | env
    proc = subprocess.Popen([_logscan(), *args], stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, cwd=ROOT,
                            env=full_env)
    os.close(slave)
    screen = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        screen += data
    os.close(master)
    return proc.wait(timeout=60), screen.decode(errors="replace")


def test_a_long_report_on_a_terminal_goes_through_the_pager(tmp_path):
    paged = tmp_path / "paged.txt"
    env = {"NO_COLOR": "1", "PAGER": f"cat > {paged}"}
    code, screen = _on_a_terminal(["scan", COMPOSE], rows=24, env=env)
    assert code == 0
    assert "most important first" in paged.read_text() and "lines read" in paged.read_text()
    assert "most important first" not in screen  # it went to the pager, not straight to the terminal


def test_no_pager_and_a_short_report_print_directly(tmp_path):
    paged = tmp_path / "paged.txt"
    env = {"NO_COLOR": "1", "PAGER": f"cat > {paged}"}
    code, screen = _on_a_terminal(["scan", COMPOSE, "--no-pager"], rows=24, env=env)
    assert code == 0 and "most important first" in screen and not paged.exists()
    code, screen = _on_a_terminal(["scan", COMPOSE], rows=1000, env=env)  # it fits: no pager
    assert code == 0 and "most important first" in screen and not paged.exists()


def test_a_pipe_is_never_paged(tmp_path):
    paged = tmp_path / "paged.txt"
    result = subprocess.run([_logscan(), "scan", COMPOSE], cwd=ROOT, capture_output=True, timeout=120, check=False,
                            env={**os.environ, "NO_COLOR": "1", "PAGER": f"cat > {paged}", "LINES": "5"})
    assert result.returncode == 0 and b"most important first" in result.stdout and not paged.exists()
