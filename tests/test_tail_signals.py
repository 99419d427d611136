"""Issue 14, item 9: SIGTERM (`docker stop`, systemd) and SIGHUP end `tail` as Ctrl-C does: exit 0 and the
final report of every line read. An endless input (`/dev/zero`) stops on the first SIGINT."""

from __future__ import annotations

import select
import signal
import subprocess
import sys
from typing import IO

import orjson
import pytest

from tests.conftest import ROOT

COMPOSE = ROOT / "samples/compose/compose.log"


def tail(*args: str, stdin: IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "analyzer", "tail", *args, "--format", "jsonl"], cwd=ROOT,
                            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)  # unbuffered:
    # `first_line` reads no further than its line, so `communicate` gets the rest


def first_line(stream: IO[bytes], timeout: float = 30.0) -> bytes:
    """The first line `stream` gives (the process is at work by then)."""
    ready, _, _ = select.select([stream], [], [], timeout)
    assert ready, "nothing came"
    return stream.readline()


def stopped_by(proc: subprocess.Popen[bytes], signum: int, timeout: float = 20.0) -> tuple[list[dict], bytes]:
    """Send `signum`, then the JSON lines it printed and its stderr; it must end within `timeout`."""
    try:
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=timeout)
    finally:
        proc.kill()
    return [orjson.loads(line) for line in out.splitlines()], err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_stop_signal_ends_tail_with_the_final_report(signum):
    proc = tail(str(COMPOSE), "--from-start")
    opened = orjson.loads(first_line(proc.stdout))
    assert opened["event"] == "opened"  # the file is being read
    events, err = stopped_by(proc, signum)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert events[-1]["event"] == "report"
    assert events[-1]["report"]["summary"]["lines_read"] == COMPOSE.read_bytes().count(b"\n")
    assert b"Traceback" not in err


def test_help_documents_the_exit_code_of_a_stop_signal(cli):
    result = cli("tail", "--help")
    assert "SIGTERM" in result.stdout and "SIGHUP" in result.stdout and "0 = stopped" in result.stdout


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_an_endless_input_stops_on_the_first_sigint(source):
    with open("/dev/zero", "rb") as zero:
        proc = tail("/dev/zero") if source == "file" else tail("-", stdin=zero)
        assert b"binary/control bytes" in first_line(proc.stderr)  # reading
        events, err = stopped_by(proc, signal.SIGINT, timeout=10.0)  # the first SIGINT, nothing else
    assert proc.returncode == 0, err.decode()[-2000:]
    summary = events[-1]["report"]["summary"]
    assert summary["bytes_read"] >= 1 << 20 and summary["altered_lines"]["binary/control bytes removed"] >= 1
    assert not any("truncated" in warning for warning in summary["warnings"])  # a device has no size to shrink
