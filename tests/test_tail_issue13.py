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
from analyzer.analysis.incremental import LiveAnalysis
from analyzer.live import RATE_SECONDS, BoardRow, Change, Limits, LiveTail, _Seen

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

def test_the_board_rate_counts_the_occurrences_an_incident_opened_with(tmp_path: Path) -> None:
    db = tmp_path / "db.log"
    db.touch()
    diag = Diagnostics()
    boards: list[list[BoardRow]] = []

    class Sink:
        def records(self, events: pl.DataFrame, tags: dict[tuple[str, int], str]) -> None: ...
        def changes(self, changes: list[Change], board: Callable[[], list[BoardRow]]) -> None:
            boards.append(board())
        def warn(self, message: str) -> None: ...

    def rates() -> list[tuple[int, float]]:
        return [(r.incident["count"], r.rate) for b in boards for r in b
                if r.incident["signature"] == "too_many_connections"]

    live = LiveTail(Follower([str(db)], diag), Pipeline(diag), LiveAnalysis(load_signatures([])), Sink(),
                    Limits(tick_seconds=0.05, hold_seconds=0.1))
    stop = threading.Event()
    thread = threading.Thread(target=live.run, args=(stop,))
    thread.start()
    try:
        with db.open("a") as f:
            f.write("".join(TOO_MANY[:4]))
        _until(lambda: rates(), boards)
        _until(lambda: rates()[-1][0] == 4, rates)
    finally:
        stop.set()
        thread.join(20)
    assert rates()[0][1] > 0  # opened with its occurrences: they count in the rate at once
    count, rate = rates()[-1]
    assert (count, rate) == (4, 4.0)  # 4 in the last minute: 4.0 per min, not 0.0


def test_the_rate_is_the_occurrences_of_the_last_minute() -> None:
    seen = _Seen(4, 1000.0, 1000.0, history=deque([(1000.0, 4)]))  # opened with 4
    assert seen.rate(1000.0) == 4.0 and seen.rate(1030.0) == 4.0
    seen.count = 6
    seen.history.append((1040.0, 6))
    assert seen.rate(1050.0) == 6.0
    assert seen.rate(1070.0) == 2.0  # the first 4 are more than a minute old
    assert seen.rate(1200.0) == 0.0


def test_the_rate_history_keeps_one_minute_when_no_board_reads_it() -> None:
    """JSON lines never build the board (which reads the rate): counts growing for hours keep a minute of it."""
    seen = _Seen(1, 0.0, 0.0, history=deque([(0.0, 1)]))
    for second in range(1, 3601):
        seen.grew(float(second), second + 1)
    assert len(seen.history) <= RATE_SECONDS + 1
    assert seen.rate(3600.0) == 60.0


# --- counts never go down; an announced incident leaves only through `resolved` ------------------------------

class Shrinking(LiveAnalysis):
    """A LiveAnalysis whose later incidents count less and lose an incident, as a computation over less
    evidence or re-clustered unknown errors could: what tail says must not follow them down."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shrink = False

    def current(self) -> pl.DataFrame:
        incidents = super().current()
        if not self.shrink:
            return incidents
        return incidents.filter(pl.col("signature") != "deadlock").with_columns(
            pl.when(pl.col("signature") == "too_many_connections").then(1).otherwise(pl.col("count")).alias("count"))


def test_counts_never_go_down_and_an_incident_leaves_only_through_resolved(tmp_path: Path) -> None:
    db = tmp_path / "db.log"
    db.touch()
    diag = Diagnostics()
    said: list[Change] = []
    boards: list[list[BoardRow]] = []

    class Sink:
        def records(self, events: pl.DataFrame, tags: dict[tuple[str, int], str]) -> None: ...
        def changes(self, changes: list[Change], board: Callable[[], list[BoardRow]]) -> None:
            # the board first: the test thread waits on `said`, then reads the board of the same call
            boards.append(board())
            said.extend(changes)
        def warn(self, message: str) -> None: ...

    def events(kind: str, sig: str) -> list[int]:
        return [c.incident["count"] for c in said if c.event == kind and c.incident["signature"] == sig]

    analysis = Shrinking(load_signatures([]))
    limits = Limits(tick_seconds=0.05, hold_seconds=0.1, resolve_after=1.5)
    live = LiveTail(Follower([str(db)], diag), Pipeline(diag), analysis, Sink(), limits)
    stop = threading.Event()
    thread = threading.Thread(target=live.run, args=(stop,))
    thread.start()
    try:
        with db.open("a") as f:
            f.write(DEADLOCK + "".join(TOO_MANY[:3]))
        _until(lambda: events("opened", "deadlock") and max(events("opened", "too_many_connections")
                                                            + events("updated", "too_many_connections"), default=0) >= 3,
               said)
        analysis.shrink = True  # from now on the computations count 1 and lose the deadlock
        with db.open("a") as f:
            f.write(TOO_MANY[3])
        # the deadlock is quiet: it is resolved (said from what was last known of it), not dropped
        _until(lambda: events("resolved", "deadlock"), said)
        board = boards[-1]
        assert any(r.incident["signature"] == "deadlock" for r in board)  # still on the board, as resolved
        shown = [(r.incident["fingerprint"], r.incident["count"]) for r in board
                 if r.incident["signature"] == "too_many_connections"]
        assert all(count >= 3 for _, count in shown), (
            shown, [(c.event, c.incident["fingerprint"], c.incident["count"]) for c in said])
    finally:
        stop.set()
        thread.join(20)
    assert not thread.is_alive()
    for sig in ("too_many_connections", "deadlock"):
        counts = [c.incident["count"] for c in said if c.incident["signature"] == sig]
        assert counts == sorted(counts), (sig, counts)  # never down
    report = live.report()
    counts = {i["signature"]: i["count"] for i in report["incidents"]}
    assert counts.get("deadlock") == 1  # announced, so listed
    assert counts.get("too_many_connections", 0) >= 3


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


def test_a_quiet_spell_passes_on_every_held_record_but_an_unfinished_traceback() -> None:
    """The stage function: Framer.flush(keep_unfinished=True) keeps only a traceback whose last line is a frame."""
    from analyzer.ingest.framing import Framer
    from analyzer.ingest.pipeline import formats_for
    from analyzer.ingest.sources import Chunk, Input

    lines = API_TEXT[84:199]
    frame_at = next(i for i, line in enumerate(lines) if line.startswith("  File "))
    inp = Input("app.log")
    framer = Framer(inp, formats_for(None), Diagnostics())
    framer.feed(Chunk(inp, "".join(lines[: frame_at + 2]).encode(), 0, final=False))
    assert framer.flush(keep_unfinished=True).height == 0  # a traceback cut after a frame: kept
    assert framer.held is not None and framer.held.height
    framer.feed(Chunk(inp, "".join(lines[frame_at + 2 :]).encode(), 0, final=False))  # its exception line came
    released = framer.flush(keep_unfinished=True)
    assert framer.held is None and released.height == 1  # the whole traceback, as one record
    assert "Traceback (most recent call last):" in released.get_column("text")[0]


def test_an_unfinished_traceback_is_passed_on_after_the_longer_timeout(tmp_path: Path) -> None:
    """It waits for its exception line, but not for ever: after `hold_unfinished_seconds` it is analysed."""
    log = tmp_path / "api.log"
    log.touch()
    diag = Diagnostics()
    seen: list[str] = []

    class Sink:
        def records(self, events: pl.DataFrame, tags: dict[tuple[str, int], str]) -> None:
            seen.extend(events.get_column("text").to_list())
        def changes(self, changes: list[Change], board: Callable[[], list[BoardRow]]) -> None: ...
        def warn(self, message: str) -> None: ...

    lines = API_TEXT[84:199]
    frame_at = next(i for i, line in enumerate(lines) if line.startswith("  File "))
    limits = Limits(tick_seconds=0.05, hold_seconds=0.1, hold_unfinished_seconds=1.5)
    live = LiveTail(Follower([str(log)], diag), Pipeline(diag), LiveAnalysis(load_signatures([])), Sink(), limits,
                    echo=True)
    stop = threading.Event()
    thread = threading.Thread(target=live.run, args=(stop,))
    thread.start()
    try:
        with log.open("a") as f:
            f.write("".join(lines[: frame_at + 2]))
        _until(lambda: any("request started" in text for text in seen), seen)  # the records before it, at once
        written = time.monotonic()
        _until(lambda: any("Traceback (most recent call last):" in text for text in seen), seen)
        assert time.monotonic() - written > 1.0  # held past --hold, for the longer timeout
    finally:
        stop.set()
        thread.join(20)


# --- a quiet stream beside busy ones ------------------------------------------------------------------------

def test_a_quiet_streams_last_record_is_announced_while_other_streams_write_on(tmp_path: Path) -> None:
    """`docker compose logs`: the database reports an error and then says nothing, while the API logs on. The
    error's record is held (its next line might continue it) only until its own stream has been quiet for
    hold_seconds; it used to wait for a quiet spell of the whole input, which a busy API never leaves."""
    log = tmp_path / "compose.log"
    log.touch()
    said: list[Change] = []

    class Sink:
        def records(self, events: pl.DataFrame, tags: dict[tuple[str, int], str]) -> None: ...
        def changes(self, changes: list[Change], board: Callable[[], list[BoardRow]]) -> None:
            said.extend(changes)
        def warn(self, message: str) -> None: ...

    diag = Diagnostics()
    limits = Limits(tick_seconds=0.05, hold_seconds=0.2, hold_unfinished_seconds=30.0)
    live = LiveTail(Follower([str(log)], diag), Pipeline(diag), LiveAnalysis(load_signatures([])), Sink(), limits)
    stop = threading.Event()
    thread = threading.Thread(target=live.run, args=(stop,))
    thread.start()
    try:
        with log.open("a") as f:
            f.write('db-1   | 2026-11-23 00:00:00.100 UTC [4242] ERROR:  relation "orders_archive" does not exist\n'
                    "db-1   | 2026-11-23 00:00:00.100 UTC [4242] STATEMENT:  SELECT * FROM orders_archive\n")
            f.flush()
            for n in range(200):  # 10 s of API lines, one every 50 ms: the input is never quiet
                if any(c.incident["signature"] == "relation_missing" for c in said):
                    break
                f.write(f"api-1  | 2026-11-23 00:00:{n // 20:02d}.{n % 20 * 50:03d} | INFO     | "
                        f"app.middleware:log_requests:41 - GET /health 200 1.00ms | req_id={n:032x}\n")
                f.flush()
                time.sleep(0.05)
        opened = [c for c in said if c.event == "opened" and c.incident["signature"] == "relation_missing"]
        assert opened and n < 100, (n, [(c.event, c.incident["signature"]) for c in said])  # within 5 s of lines
    finally:
        stop.set()
        thread.join(20)
    assert not thread.is_alive()
