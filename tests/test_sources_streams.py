"""Inputs that are streams or oddly named (issue 14: 8a, 8c, 10): read, never skipped, never a crash."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
from conftest import ROOT, read_events

from analyzer.diagnostics import Diagnostics
from analyzer.ingest.follow import Follower

SAMPLE = ROOT / "samples/api/api-text.log"
LOGSCAN = [sys.executable, "-m", "analyzer.commands.app"]


def feed_fifo(path: Path, data: bytes, delay: float = 0.2) -> threading.Thread:
    """A writer that opens the FIFO a moment later, writes `data` and closes it."""

    def write() -> None:
        time.sleep(delay)
        with open(path, "wb") as f:
            f.write(data)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def test_a_file_name_with_a_newline_does_not_break_a_folder_scan(tmp_path: Path) -> None:
    (tmp_path / "bad\nname.log").write_text("INFO one\n")
    (tmp_path / "app.log").write_text("INFO two\nINFO three\n")
    (tmp_path / "app.log.1\n").write_text("INFO zero\n")
    events, diag = read_events(tmp_path)
    assert sorted(events.get_column("message").to_list()) == ["INFO one", "INFO three", "INFO two", "INFO zero"]
    assert diag.errors == []


def test_scan_of_a_closed_stdin_reads_nothing_and_says_so() -> None:
    done = subprocess.run([*LOGSCAN, "scan", "-", "--format", "json"], capture_output=True, cwd=ROOT,
                          preexec_fn=lambda: os.close(0), timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert b"Traceback" not in done.stderr and b"stdin: closed" in done.stderr
    assert orjson.loads(done.stdout)["summary"]["lines_read"] == 0


def test_tail_of_a_closed_stdin_ends_at_once(monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", None)
    diag = Diagnostics()
    follower = Follower(["-"], diag)
    assert follower.finished and follower.poll() == []
    assert diag.warnings == ["stdin: closed; nothing to read"]


def test_process_substitution_is_read_as_a_stream() -> None:
    command = f"{' '.join(LOGSCAN)} scan <(cat {SAMPLE}) --format json"
    done = subprocess.run(["bash", "-c", command], capture_output=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    report = orjson.loads(done.stdout)
    assert report["summary"]["lines_read"] == SAMPLE.read_bytes().count(b"\n")
    assert "missing_greenlet" in {i["signature"] for i in report["incidents"]}
    assert b"not seekable" not in done.stderr


def test_a_fifo_named_or_in_a_folder_is_read_as_a_stream(tmp_path: Path) -> None:
    fifo = tmp_path / "live.log"
    os.mkfifo(fifo)
    writer = feed_fifo(fifo, b"INFO from the fifo\nINFO again\n")
    events, diag = read_events(fifo)  # named: waits for its writer, as cat does
    writer.join()
    assert events.get_column("message").to_list() == ["INFO from the fifo", "INFO again"]
    (tmp_path / "app.log").write_text("INFO a file\n")
    events, diag = read_events(tmp_path)  # in a folder, no writer: read as empty, the scan goes on
    assert events.get_column("message").to_list() == ["INFO a file"] and diag.errors == []
    writer = feed_fifo(fifo, b"INFO in the folder\n", delay=0)
    time.sleep(0.1)  # the writer is waiting in open() for a reader
    events, diag = read_events(tmp_path)
    writer.join()
    assert sorted(events.get_column("message").to_list()) == ["INFO a file", "INFO in the folder"]


def test_tail_follows_a_fifo_to_its_end(tmp_path: Path) -> None:
    fifo = tmp_path / "live.log"
    os.mkfifo(fifo)
    diag = Diagnostics()
    follower = Follower([str(fifo)], diag)
    follower.start()
    writer = feed_fifo(fifo, b"one\ntwo\nthree")
    got = b""
    deadline = time.monotonic() + 5
    while not follower.finished and time.monotonic() < deadline:
        got += b"".join(c.data for c in follower.poll())
        follower.wait(0.05)
    writer.join()
    follower.stop()
    assert got == b"one\ntwo\nthree" and follower.finished
    assert diag.warnings == []  # a normal end is not a warning (issue 13)


def test_empty_inputs_are_read_without_a_pipeline_and_others_are_left_unread(tmp_path, monkeypatch):
    """`read_if_empty` counts empty inputs as reading them does; with any byte to read it counts nothing, so
    the pipeline reads every input afresh (a FIFO is never known empty: it may still be written to)."""
    from analyzer.ingest.sources import known_empty, read_chunks, read_if_empty, resolve

    empty, other, log = tmp_path / "empty.log", tmp_path / "other.log", tmp_path / "app.log"
    empty.write_bytes(b"")
    other.write_bytes(b"")
    log.write_bytes(b"a line\n")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert [known_empty(inp) for inp in resolve([str(empty), str(log), str(fifo)], Diagnostics())] == [True, False, False]

    diag, expected = Diagnostics(), Diagnostics()
    inputs = resolve([str(empty), str(other)], diag)
    for inp in resolve([str(empty), str(other)], expected):
        list(read_chunks(inp, expected))
    assert read_if_empty(inputs, diag) is True
    assert diag == expected and set(diag.sources) == {str(empty), str(other)}

    diag = Diagnostics()
    assert read_if_empty(resolve([str(empty), str(log)], diag), diag) is False
    assert diag == Diagnostics()

    # a file written to between the look and the read: nothing counted, the pipeline reads it whole
    monkeypatch.setattr("analyzer.ingest.sources.known_empty", lambda inp: True)
    diag = Diagnostics()
    assert read_if_empty(resolve([str(empty), str(log)], diag), diag) is False
    assert diag == Diagnostics()
