"""`logscan tail`: live incidents from followed files and pipes, the same as `scan` finds in the same lines."""

from __future__ import annotations

import io
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from conftest import ROOT

from analyzer.analysis.engine import Analysis
from analyzer.diagnostics import Diagnostics
from analyzer.ingest.follow import Follower
from analyzer.ingest.pipeline import Pipeline
from analyzer.analysis.signatures import load_signatures
from analyzer.ingest.sources import resolve
from analyzer.analysis.incremental import LiveAnalysis
from analyzer.live import BoardRow, Change, Limits, LiveTail
from analyzer.commands.tail import TailFormat, run_tail

API_TEXT = (ROOT / "samples/api/api-text.log").read_text().splitlines(keepends=True)
POSTGRES = (ROOT / "samples/postgres/default.log").read_text().splitlines(keepends=True)
GREENLET_RID = "8c7c3c47"
MISSING_GREENLET = "".join(API_TEXT[84:199])  # request started, then the 500 with its MissingGreenlet traceback
TOO_MANY = [line for line in POSTGRES if "too many clients" in line]
DEADLOCK = "".join(POSTGRES[11:18])
FAST = Limits(tick_seconds=0.05, hold_seconds=0.2)


class Tail:
    """`run_tail` on a thread, its JSON lines readable while it runs."""

    def __init__(self, paths: list[str], **kwargs: Any) -> None:
        self.out = io.StringIO()
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=run_tail, args=(paths,), kwargs={"output": TailFormat.jsonl, "out": self.out, "stop": self.stop,
                                                    "limits": FAST, **kwargs})
        self.thread.start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.getvalue().splitlines()]

    def wait_for(self, check: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check(self.events()):
                return self.events()
            time.sleep(0.02)
        raise AssertionError(f"timed out; events so far: {[(e['event'], e.get('incident', {}).get('signature')) for e in self.events()]}")

    def finish(self) -> dict[str, Any]:
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive()
        return self.events()[-1]["report"]


def opened(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["incident"]["signature"], e["incident"]["service"]) for e in events if e["event"] == "opened"]


def write(path: Path, text: str, mode: str = "a") -> int:
    with open(path, mode) as f:
        f.write(text)
    return text.count("\n")


def test_jsonl_follows_files_across_rename_and_copytruncate_without_losing_or_repeating_a_line(tmp_path):
    db, api = tmp_path / "db.log", tmp_path / "api.log"
    db.touch()
    api.touch()
    tail = Tail([str(db), str(api)], from_start=True)
    written = write(api, MISSING_GREENLET) + write(db, "".join(TOO_MANY[:3]))
    tail.wait_for(lambda ev: {("missing_greenlet", "api"), ("too_many_connections", "db")} <= set(opened(ev)))

    with open(db, "a") as writer:  # rename rotation: the writer keeps writing to the old file a moment
        db.rename(tmp_path / "db.log.1")
        written += writer.write("".join(TOO_MANY[3:5])) and 2
    written += write(db, "".join(TOO_MANY[5:7]) + DEADLOCK, "w")
    tail.wait_for(lambda ev: ("deadlock", "db") in opened(ev))

    shutil.copy(api, tmp_path / "api.log.1")  # copytruncate
    with open(api, "r+") as f:
        f.truncate(0)
    time.sleep(0.5)  # seen empty before it grows past the old size again (else it looks like an append)
    written += write(api, MISSING_GREENLET.replace(GREENLET_RID, "0000aaaa"))
    tail.wait_for(lambda ev: any(e["event"] == "updated" and e["incident"]["signature"] == "missing_greenlet"
                                 and e["incident"]["count"] == 2 for e in ev))
    report = tail.finish()

    events = tail.events()
    assert sorted(opened(events)) == sorted(set(opened(events)))  # each announced once
    counts = {(i["signature"], i["service"]): i["count"] for i in report["incidents"]}
    assert counts[("too_many_connections", "db")] == 7
    assert counts[("missing_greenlet", "api")] == 2
    assert counts[("deadlock", "db")] == 1
    assert report["summary"]["lines_read"] == written
    # the rename is seen either at once ("rotated") or, when a poll falls between the rename and the new
    # file's creation, as the name going away and coming back ("reappeared"); no line is lost either way
    assert any("rotated" in w or "reappeared" in w for w in report["summary"]["warnings"])
    assert any("truncated" in w for w in report["summary"]["warnings"])


@pytest.mark.parametrize("screen", [False, True])
@pytest.mark.parametrize("name", ["samples/compose/compose.log", "tests/real_lines/hypercorn.log",
                                  "tests/real_lines/uvicorn_workers.log"])
def test_a_pipe_gives_the_same_incidents_as_scan(cli, screen, name):
    compose = ROOT / name  # hypercorn's and uvicorn's (untimed) requests are only seen in their access logs
    out = io.StringIO()
    assert run_tail(["-"], output=TailFormat.jsonl, stdin=io.BytesIO(compose.read_bytes()), out=out, screen=screen) == 0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    scan = json.loads(cli("scan", str(compose), "--format", "json").stdout)

    def summary(incidents: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
        # a file's own service is named after it, a pipe's "stdin" (an envelope's, compose's, is the same in both)
        service = {compose.stem: "-", "stdin": "-"}
        return sorted((i["signature"], service.get(i["service"], i["service"]), i["count"], i["affected_requests"],
                       i["failed_requests"]) for i in incidents)

    assert summary(events[-1]["report"]["incidents"]) == summary(scan["incidents"])
    announced = [e["incident"]["fingerprint"] for e in events if e["event"] == "opened"]
    assert sorted(announced) == sorted(i["fingerprint"] for i in scan["incidents"])
    assert events[-1]["report"]["summary"]["lines_read"] == scan["summary"]["lines_read"]


def test_binary_junk_is_warned_about_and_a_quiet_incident_resolves_then_reopens(tmp_path):
    db = tmp_path / "db.log"
    db.touch()
    diag = Diagnostics()
    said: list[tuple[str, str]] = []
    warnings: list[str] = []

    class Sink:
        def records(self, events: pl.DataFrame, tags: dict[tuple[str, int], str]) -> None: ...
        def changes(self, changes: list[Change], board: Callable[[], list[BoardRow]]) -> None:
            said.extend((c.event, c.incident["signature"]) for c in changes)
        def warn(self, message: str) -> None:
            warnings.append(message)

    limits = Limits(tick_seconds=0.05, hold_seconds=0.1, resolve_after=0.5)
    live = LiveTail(Follower([str(db)], diag), Pipeline(diag), LiveAnalysis(load_signatures([])), Sink(), limits)
    stop = threading.Event()
    thread = threading.Thread(target=live.run, args=(stop,))
    thread.start()

    def wait(check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 10
        while not check():
            assert time.monotonic() < deadline, (said, warnings)
            time.sleep(0.02)

    try:
        write(db, TOO_MANY[0])
        wait(lambda: ("opened", "too_many_connections") in said)
        with open(db, "ab") as f:
            f.write(b"\x00\x01\x02\xff\xfe junk \x00\n")
        wait(lambda: any("binary" in w for w in warnings))
        wait(lambda: ("resolved", "too_many_connections") in said)
        write(db, TOO_MANY[1])
        wait(lambda: said.count(("opened", "too_many_connections")) == 2)
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(10)


def test_text_output_announces_then_prints_the_scan_report(tmp_path):
    db = tmp_path / "db.log"
    db.write_text("".join(POSTGRES))
    out = io.StringIO()
    stop = threading.Event()
    thread = threading.Thread(target=run_tail, args=([str(db)],),
                              kwargs={"from_start": True, "out": out, "stop": stop, "limits": FAST, "lines": True})
    thread.start()
    deadline = time.monotonic() + 10
    while "NEW" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(10)
    text = out.getvalue()
    assert "NEW high  Too many" in text or "too_many_connections" in text
    assert "◀ too_many_connections" in text  # --lines tags the record with its incident
    assert "fix" in text and "cause" in text
    assert "incidents, most important first" in text and "lines read" in text


def test_default_tail_starts_at_the_end(tmp_path):
    db = tmp_path / "db.log"
    db.write_text("".join(TOO_MANY[:3]))
    tail = Tail([str(db)])
    time.sleep(0.3)
    write(db, DEADLOCK)
    tail.wait_for(lambda ev: ("deadlock", "db") in opened(ev))
    report = tail.finish()
    assert [i["signature"] for i in report["incidents"]] == ["deadlock"]
    assert report["summary"]["lines_read"] == DEADLOCK.count("\n")


def test_an_idle_file_and_plain_traffic_keep_tail_running(tmp_path):
    """Beside a quiet dev server: nothing to report for a while is not an error (regression: it crashed)."""
    app = tmp_path / "app.log"
    app.write_text("")
    tail = Tail([str(app)])
    time.sleep(0.6)  # several settled ticks with no incident computed yet
    write(app, "INFO:     127.0.0.1:1 - \"GET / HTTP/1.1\" 200 OK\n")
    time.sleep(0.6)
    assert tail.thread.is_alive()
    report = tail.finish()
    assert report["incidents"] == [] and report["summary"]["lines_read"] == 1


def test_bounded_waiting_evidence_keeps_counts_honest():
    """Tail keeps no evidence but the rows waiting for their requests to end (at most `max_rows`, the oldest
    folded beyond), yet counts what scan counts."""
    sigs = load_signatures([])
    diag = Diagnostics()
    batches = list(Pipeline(diag, chunk_bytes=16 << 10).run(resolve([str(ROOT / "samples/compose/compose.log")], diag)))
    full, live = Analysis(sigs), LiveAnalysis(sigs, max_rows=80)
    for batch in batches:
        full.add(batch)
        live.add(batch)
        assert sum(part.height for part in live.pending) <= 80
    assert full.snapshot().rows > 140

    def counts(frame: pl.DataFrame) -> dict[str, int]:
        return dict(frame.select("fingerprint", "count").iter_rows())

    assert counts(live.incidents()) == counts(full.incidents())


def _read_offset(pid: int, path: Path) -> int | None:
    """How far process `pid` has read `path` (Linux /proc), or None while it does not have it open."""
    fds = Path(f"/proc/{pid}/fd")
    for fd in fds.iterdir() if fds.exists() else ():
        try:
            if Path(fd.readlink()) == path:
                info = Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text()
                return int(info.split("pos:", 1)[1].split()[0])
        except (OSError, IndexError, ValueError):
            continue
    return None


def _until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_ctrl_c_ends_tail_with_the_final_report(tmp_path):
    """SIGINT to the real command: exit 0, every line read, and the report (not an abort, not a hang).

    The test waits for tail to have the file open before writing (tail starts at the end, as tail -f does)
    and for it to have read everything before the signal, so a slow start on a busy machine cannot make
    the lines look like old content."""
    log = tmp_path / "compose.log"
    log.write_bytes(b"")
    proc = subprocess.Popen([sys.executable, "-m", "analyzer", "tail", str(log), "--format", "jsonl"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    try:
        _until(lambda: _read_offset(proc.pid, log) is not None)  # watching
        sample = (ROOT / "samples/compose/compose.log").read_bytes()
        with log.open("ab") as f:
            f.write(sample)
        _until(lambda: _read_offset(proc.pid, log) == len(sample))
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err.decode()[-2000:]
    events = [orjson.loads(line) for line in out.splitlines()]
    assert events[-1]["event"] == "report"
    assert events[-1]["report"]["summary"]["lines_read"] == sample.count(b"\n")
    assert any(e["event"] == "opened" for e in events)


@pytest.mark.parametrize("screen", [False, True])
def test_screen_or_exhaustive_chooses_the_pipeline(monkeypatch, screen):
    """`--screen` screens tail's batches as scan does; `--exhaustive` (the default) normalizes every record."""
    from analyzer.run import Run

    chosen: list[bool] = []
    build = Run.pipeline

    def spy(self: Run, *args: Any, **kwargs: Any) -> Pipeline:
        pipeline = build(self, *args, **kwargs)
        chosen.append(pipeline.screen is not None)
        return pipeline

    monkeypatch.setattr(Run, "pipeline", spy)
    assert run_tail(["-"], output=TailFormat.jsonl, stdin=io.BytesIO(b"hello\n"), out=io.StringIO(), screen=screen) == 0
    assert chosen == [screen]


def test_a_failure_in_the_analysis_thread_ends_tail_with_that_error(tmp_path):
    """The analysis runs beside the reading (LiveTail._analyse): an error there stops following and is raised
    by `run`, not swallowed while reading goes on."""
    log = tmp_path / "app.log"
    log.touch()

    class Broken(LiveAnalysis):
        def add(self, events: pl.DataFrame) -> pl.DataFrame:
            raise RuntimeError("analysis broke")

    class Sink:
        def records(self, events: pl.DataFrame, tags: dict[tuple[str, int], str]) -> None: ...
        def changes(self, changes: list[Change], board: Callable[[], list[BoardRow]]) -> None: ...
        def warn(self, message: str) -> None: ...

    diag = Diagnostics()
    live = LiveTail(Follower([str(log)], diag), Pipeline(diag), Broken(load_signatures([])), Sink(), FAST)
    failures: list[BaseException] = []

    def follow() -> None:
        try:
            live.run(threading.Event())
        except RuntimeError as exc:
            failures.append(exc)

    thread = threading.Thread(target=follow)
    thread.start()
    time.sleep(0.3)
    write(log, TOO_MANY[0])
    thread.join(15)
    assert not thread.is_alive()
    assert [str(exc) for exc in failures] == ["analysis broke"]


def test_the_board_is_built_only_for_a_sink_that_shows_it():
    """Building the board ranks every incident said; JSON lines never show it, a terminal's live board does."""
    from rich.console import Console

    from analyzer.commands.tail import JsonlSink, RedactingSink, TextSink
    from analyzer.config import Effective
    from analyzer.run import Run

    built: list[str] = []

    def board() -> list[BoardRow]:
        built.append("board")
        return [BoardRow({"rank": 1, "severity": "high", "title": "token=abc123secret", "signature": "s",
                          "service": "api", "count": 1, "last_seen": None}, 1.0, False)]

    redactor = Run.build(Effective()).redactor
    quiet = Console(file=io.StringIO())
    RedactingSink(JsonlSink(io.StringIO(), quiet), redactor).changes([], board)
    assert built == []
    screen = Console(file=io.StringIO(), force_terminal=True, width=120)
    shown = TextSink(screen, quiet)
    RedactingSink(shown, redactor).changes([], board)
    shown.close()
    assert built == ["board"]
