"""Issue 13's tail items, through the real CLI or the stage functions `tail` runs:

* the end of stdin is no warning;
* "per min" counts every occurrence, those an incident opened with included;
* announced counts never go down, and an announced incident leaves the board and the final report only
  through `resolved`;
* a traceback whose lines arrive seconds apart is one record, as `scan` reads it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import polars as pl
from conftest import ROOT

from analyzer.analysis.signatures import load_signatures
from analyzer.diagnostics import Diagnostics
from analyzer.ingest.follow import Follower
from analyzer.ingest.pipeline import Pipeline
from analyzer.live import BoardRow, BoundedAnalysis, Change, Computed, Limits, LiveTail, _Seen

API_TEXT = (ROOT / "samples/api/api-text.log").read_text().splitlines(keepends=True)
POSTGRES = (ROOT / "samples/postgres/default.log").read_text().splitlines(keepends=True)
TOO_MANY = [line for line in POSTGRES if "too many clients" in line]
DEADLOCK = "".join(POSTGRES[11:18])


def _tail(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "analyzer", "tail", "-", *args], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _until(check: Callable[[], bool], what: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


# --- the end of input ---------------------------------------------------------------------------------------

def test_the_end_of_stdin_is_not_a_warning() -> None:
    proc = _tail()
    out, err = proc.communicate(b'INFO:     127.0.0.1:1 - "GET / HTTP/1.1" 200 OK\n', timeout=60)
    assert proc.returncode == 0, err.decode()
    assert err == b"", err.decode()  # stderr holds warnings: a normal end is none
    assert b"No incidents found." in out


# --- the rate -----------------------------------------------------------------------------------------------


# --- a traceback in pieces ----------------------------------------------------------------------------------

def _pieces(text: list[str], n: int) -> list[str]:
    """`text` cut into `n` pieces, each cut just before a traceback frame (`  File ...`): a piece that ends
    there is clearly unfinished."""
    frames = [i for i, line in enumerate(text) if line.startswith("  File ")]
    cuts = [frames[len(frames) * k // n] for k in range(1, n)]
    return ["".join(text[a:b]) for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


def test_a_traceback_in_pieces_two_seconds_apart_gives_the_scan_report(cli, tmp_path: Path) -> None:
    lines = API_TEXT[84:199]  # a request, its 500 and uvicorn's traceback (MissingGreenlet)
    pieces = _pieces(lines, 3)
    assert len(pieces) == 3 and "".join(pieces) == "".join(lines)
    log = tmp_path / "stdin.log"  # the service tail names a pipe
    log.write_text("".join(lines))
    scan = json.loads(cli("scan", str(log), "--format", "json").stdout)
    proc = _tail("--format", "jsonl")
    assert proc.stdin is not None
    try:
        for i, piece in enumerate(pieces):
            if i:
                time.sleep(2.0)  # the point: seconds between the pieces, longer than --hold (500ms)
            proc.stdin.write(piece.encode())
            proc.stdin.flush()
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err.decode()
    report = orjson.loads(out.splitlines()[-1])["report"]

    def summary(incidents: list[dict[str, Any]]) -> list[tuple[str, str, int, int]]:
        return sorted((i["signature"], i["service"], i["count"], i["affected_requests"]) for i in incidents)

    assert summary(report["incidents"]) == summary(scan["incidents"])
    assert report["summary"]["records"] == scan["summary"]["records"]
