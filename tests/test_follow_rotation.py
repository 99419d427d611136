"""Follow mode under load: every rotation method, a followed file and a followed folder, each line once.

The reproductions of issue 14 are here too: copytruncate of a followed folder
read the copy `app.log.1` again as a new file (1,100 lines written, 2,100
read), and copytruncate right after a burst lost the lines between the last
read and the copy (1,000 of 1,100), without a warning.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from rotating_writer import METHODS, RotatingWriter, exactly_once, line_ids

from analyzer.commands.tail import TailFormat, run_tail
from analyzer.diagnostics import Diagnostics
from analyzer.ingest.follow import Follower
from analyzer.live import Limits


def follow_while(follower: Follower, writer: RotatingWriter, settle: float = 1.5) -> list[bytes]:
    """Poll `follower` while `writer` runs, then until every line written is read (or `settle` passes)."""
    got: list[bytes] = []
    writer.start()
    while writer.is_alive():
        got.extend(c.data for c in follower.poll())
        follower.wait(0.02)
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        got.extend(c.data for c in follower.poll())
        if len(line_ids(got)) >= writer.written:
            time.sleep(0.2)  # anything read twice would come now
            got.extend(c.data for c in follower.poll())
            break
        follower.wait(0.02)
    follower.stop()
    return got


@pytest.mark.load
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("target", ["file", "folder"])
def test_rotation_under_load_reads_every_line_once(tmp_path: Path, method: str, target: str) -> None:
    writer = RotatingWriter(tmp_path, method, rate=20_000, seconds=1.2, rotations=3)
    diag = Diagnostics()
    follower = Follower([str(writer.log) if target == "file" else str(tmp_path)], diag, from_start=True,
                        poll_seconds=0.1)
    follower.start()
    seen = line_ids(follow_while(follower, writer))
    assert exactly_once(seen, writer.written) is None, (exactly_once(seen, writer.written), diag.warnings)
    assert not [w for w in diag.warnings if "lost" in w]


def burst_then_copytruncate(folder: Path, follower: Follower, compress: bool = False) -> list[bytes]:
    """100 lines read, then a burst of 1,000 and copytruncate before the follower reads them, then 100 more."""
    log = folder / "app.log"
    got = []
    with open(log, "ab", buffering=0) as app:
        app.write(b"".join(b"L%08d first\n" % i for i in range(100)))
        deadline = time.monotonic() + 5
        while len(line_ids(got)) < 100 and time.monotonic() < deadline:
            got.extend(c.data for c in follower.poll())
            follower.wait(0.02)
        app.write(b"".join(b"L%08d burst\n" % i for i in range(100, 1100)))
        shutil.copyfile(log, folder / "app.log.1")
        log.write_bytes(b"")  # truncated (the writer's handle appends at the new end)
        if compress:
            with open(folder / "app.log.1", "rb") as src, gzip.open(folder / "app.log.1.gz", "wb") as dst:
                shutil.copyfileobj(src, dst)
            (folder / "app.log.1").unlink()
        app.write(b"".join(b"L%08d after\n" % i for i in range(1100, 1200)))
    deadline = time.monotonic() + 5
    while len(line_ids(got)) < 1200 and time.monotonic() < deadline:
        got.extend(c.data for c in follower.poll())
        follower.wait(0.02)
    time.sleep(0.3)
    got.extend(c.data for c in follower.poll())
    return got


@pytest.mark.parametrize("compress", [False, True], ids=["copy", "gz-copy"])
def test_copytruncate_right_after_a_burst_reads_the_unread_lines_from_the_copy(tmp_path: Path, compress: bool) -> None:
    diag = Diagnostics()
    follower = Follower([str(tmp_path / "app.log")], diag, from_start=True, poll_seconds=60)
    (tmp_path / "app.log").touch()
    seen = line_ids(burst_then_copytruncate(tmp_path, follower, compress))
    assert exactly_once(seen, 1200) is None
    copy = "app.log.1.gz" if compress else "app.log.1"
    burst = 1000 * len(b"L00000100 burst\n")
    assert any(f"the {burst:,} bytes" in w and f"read from its copy {tmp_path / copy}" in w for w in diag.warnings)


def test_copytruncate_in_a_followed_folder_does_not_read_the_copy_again(tmp_path: Path) -> None:
    (tmp_path / "app.log").touch()
    diag = Diagnostics()
    follower = Follower([str(tmp_path)], diag, from_start=True, poll_seconds=0.05)
    got = burst_then_copytruncate(tmp_path, follower)
    time.sleep(0.2)  # a rescan or two after the copy appeared
    for _ in range(3):
        got.extend(c.data for c in follower.poll())
        follower.wait(0.06)
    assert exactly_once(line_ids(got), 1200) is None


def test_truncation_without_a_copy_warns_that_lines_may_be_lost(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"L00000000 a\n")
    diag = Diagnostics()
    follower = Follower([str(log)], diag, from_start=True)
    assert line_ids(c.data for c in follower.poll()) == {0: 1}
    log.write_bytes(b"L00000001 b\n")  # truncated and rewritten, no copy anywhere
    assert line_ids(c.data for c in follower.poll()) == {1: 1}
    assert any("no copy" in w and "lost" in w for w in diag.warnings)


def test_truncated_and_grown_past_the_old_size_between_two_polls_is_seen_by_its_first_bytes(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"L00000000 old\n")
    diag = Diagnostics()
    follower = Follower([str(log)], diag, from_start=True)
    assert line_ids(c.data for c in follower.poll()) == {0: 1}
    shutil.copyfile(log, tmp_path / "app.log.1")
    log.write_bytes(b"L00000001 new, and longer than what was there\n")
    assert line_ids(c.data for c in follower.poll()) == {1: 1}  # not read from byte 14 as if appended
    assert any("truncated" in w for w in diag.warnings)


@pytest.mark.parametrize("target", ["file", "folder"])
def test_tail_counts_every_line_once_through_a_copytruncate_after_a_burst(tmp_path: Path, target: str) -> None:
    """Issue 14, 1 and 2 through `logscan tail`'s driver: 1,100 lines written, 2,100 or 100 read before."""
    log = tmp_path / "app.log"
    log.touch()
    out, stop = io.StringIO(), threading.Event()
    fast = Limits(tick_seconds=0.05, hold_seconds=0.2)
    tail = threading.Thread(target=run_tail, args=([str(log) if target == "file" else str(tmp_path)],),
                            kwargs={"output": TailFormat.jsonl, "out": out, "stop": stop, "limits": fast,
                                    "from_start": True})
    tail.start()
    time.sleep(0.5)
    with open(log, "ab", buffering=0) as app:
        app.write(b"".join(b"2026-11-23 10:00:00.000 | INFO     | app:f:1 - L%08d\n" % i for i in range(100)))
        time.sleep(0.5)  # read
        app.write(b"".join(b"2026-11-23 10:00:01.000 | INFO     | app:f:1 - L%08d\n" % i for i in range(100, 1100)))
        shutil.copyfile(log, tmp_path / "app.log.1")  # copytruncate at once, before tail reads the burst
        os.truncate(log, 0)
    time.sleep(1.0)  # a rescan of the folder
    stop.set()
    tail.join(20)
    assert not tail.is_alive()
    report = json.loads(out.getvalue().splitlines()[-1])["report"]
    assert report["summary"]["lines_read"] == 1100
    assert any("read from its copy" in w for w in report["summary"]["warnings"])
