"""Follow mode (analyzer.ingest.follow): appended lines read once each, through rotations, deletions and trouble."""

from __future__ import annotations

import builtins
import io
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from analyzer.ingest import follow
from analyzer.diagnostics import Diagnostics
from analyzer.ingest.follow import Follower


def collect(follower: Follower, until: Callable[[bytes], bool], timeout: float = 5.0) -> bytes:
    """Bytes of every chunk polled until `until` holds for them (or the timeout)."""
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data += b"".join(chunk.data for chunk in follower.poll())
        if until(data):
            return data
        follower.wait(0.02)
    return data


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def lines(n: int, tag: str = "line") -> bytes:
    return b"".join(f"{tag} {i}\n".encode() for i in range(n))


def test_default_starts_at_the_end_from_start_reads_what_is_there(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"old 1\nold 2\n")
    at_end = Follower([str(log)], Diagnostics())
    from_start = Follower([str(log)], Diagnostics(), from_start=True)
    append(log, b"new 1\n")
    assert collect(at_end, lambda d: b"new 1" in d) == b"new 1\n"
    assert collect(from_start, lambda d: b"new 1" in d) == b"old 1\nold 2\nnew 1\n"


def test_a_partial_last_line_waits_for_its_newline(tmp_path):
    log = tmp_path / "app.log"
    log.touch()
    follower = Follower([str(log)], Diagnostics(), partial_seconds=30)
    append(log, b"first\nsecond half")
    assert collect(follower, lambda d: b"first" in d) == b"first\n"
    assert collect(follower, lambda d: False, timeout=0.2) == b""  # not parsed in halves
    append(log, b" and the rest\n")
    assert collect(follower, lambda d: b"rest" in d) == b"second half and the rest\n"


def test_a_partial_line_is_passed_on_after_the_timeout(tmp_path):
    log = tmp_path / "app.log"
    log.touch()
    follower = Follower([str(log)], Diagnostics(), partial_seconds=0.2)
    append(log, b"no newline yet")
    assert collect(follower, lambda d: b"yet" in d) == b"no newline yet\n"


def test_rename_rotation_reads_the_old_file_to_its_end_then_the_new_one(tmp_path):
    log = tmp_path / "app.log"
    diag = Diagnostics()
    with open(log, "wb", buffering=0) as writer:
        follower = Follower([str(log)], diag)
        writer.write(b"a 1\n")
        assert collect(follower, lambda d: b"a 1" in d) == b"a 1\n"
        writer.write(b"a 2\n")
        log.rename(tmp_path / "app.log.1")
        writer.write(b"a 3\n")  # the writer has not reopened yet: still the old file
        log.write_bytes(b"b 1\nb 2\n")
    data = collect(follower, lambda d: b"b 2" in d)
    assert data == b"a 2\na 3\nb 1\nb 2\n"
    assert any("rotated" in w for w in diag.warnings)


def test_a_rotated_copy_found_in_a_followed_folder_is_not_read_twice(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    follower = Follower([str(tmp_path)], Diagnostics(), poll_seconds=0.05)
    append(log, b"a 1\n")
    assert collect(follower, lambda d: b"a 1" in d) == b"a 1\n"
    log.rename(tmp_path / "app.log.1")
    log.write_bytes(b"b 1\n")
    (tmp_path / "other.log").write_bytes(b"c 1\n")  # a new file in the folder: read from its start
    data = collect(follower, lambda d: b"b 1" in d and b"c 1" in d)
    assert sorted(data.splitlines()) == [b"b 1", b"c 1"]
    assert collect(follower, lambda d: False, timeout=0.3) == b""


def test_copytruncate_reads_the_file_again_from_the_start_and_says_so(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    diag = Diagnostics()
    follower = Follower([str(log)], diag)
    append(log, lines(3))
    assert collect(follower, lambda d: b"line 2" in d) == lines(3)
    shutil.copy(log, tmp_path / "app.log.1")
    with open(log, "r+b") as f:
        f.truncate(0)
    append(log, b"after 1\n")
    assert collect(follower, lambda d: b"after 1" in d) == b"after 1\n"
    assert any("truncated" in w for w in diag.warnings)


def test_a_deleted_then_recreated_file_is_followed_again(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    diag = Diagnostics()
    follower = Follower([str(log)], diag)
    append(log, b"one\n")
    assert collect(follower, lambda d: b"one" in d) == b"one\n"
    log.unlink()
    assert collect(follower, lambda d: False, timeout=0.1) == b""
    assert any("deleted" in w for w in diag.warnings)
    log.write_bytes(b"two\n")
    assert collect(follower, lambda d: b"two" in d) == b"two\n"
    assert any("reappeared" in w for w in diag.warnings)


@pytest.fixture
def chmod(monkeypatch):
    """chmod for the permission test: the real one where permissions bind; as root (who reads every file,
    as CI does) the kernel's check is simulated at the two calls the follower makes, open() and os.access()."""
    if not (hasattr(os, "geteuid") and os.geteuid() == 0):
        return lambda path, mode: path.chmod(mode)
    denied: set[str] = set()
    real_open, real_access = builtins.open, os.access

    def guarded_open(file, *args, **kwargs):
        if str(file) in denied:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    def guarded_access(path, mode, *args, **kwargs):
        return str(path) not in denied and real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(follow, "open", guarded_open, raising=False)  # module globals come before builtins
    monkeypatch.setattr(follow.os, "access", guarded_access)

    def _chmod(path, mode):
        path.chmod(mode)
        (denied.discard if mode & 0o444 else denied.add)(str(path))

    return _chmod


def test_permission_changes_are_reported_and_reading_resumes(tmp_path, chmod):
    log = tmp_path / "app.log"
    log.write_bytes(b"before\n")
    chmod(log, 0)
    diag = Diagnostics()
    follower = Follower([str(log)], diag)
    assert collect(follower, lambda d: False, timeout=0.1) == b""
    assert any("cannot read" in w and "Permission denied" in w for w in diag.warnings)
    chmod(log, 0o644)
    assert collect(follower, lambda d: b"before" in d) == b"before\n"  # it appeared: all of it is new
    chmod(log, 0)  # the open file can still be read
    assert collect(follower, lambda d: False, timeout=0.1) == b""
    assert any("no longer readable" in w for w in diag.warnings)
    chmod(log, 0o644)
    append(log, b"after\n")
    assert collect(follower, lambda d: b"after" in d) == b"after\n"
    assert any("readable again" in w for w in diag.warnings)


def test_a_missing_file_is_waited_for(tmp_path):
    log = tmp_path / "later.log"
    diag = Diagnostics()
    follower = Follower([str(log)], diag)
    assert any("does not exist" in w for w in diag.warnings)
    log.write_bytes(b"hello\n")
    assert collect(follower, lambda d: b"hello" in d) == b"hello\n"


def test_change_notification_wakes_the_follower_long_before_the_poll(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    follower = Follower([str(log)], Diagnostics(), poll_seconds=10)
    follower.start()
    try:
        time.sleep(0.3)  # let the watcher start
        follower.wake.clear()
        started = time.monotonic()
        append(log, b"now\n")
        follower.wait(5)
        assert time.monotonic() - started < 5.0  # half the 10 s poll: the notification woke it, on a loaded machine too
        assert b"".join(c.data for c in follower.poll()) == b"now\n"
    finally:
        follower.stop()


def test_stdin_is_read_to_its_end():
    follower = Follower(["-"], Diagnostics(), stdin=io.BytesIO(b"a\nb\nunfinished"))
    follower.start()
    chunks = []
    deadline = time.monotonic() + 5
    while not follower.finished and time.monotonic() < deadline:
        follower.wait(0.05)
        chunks.extend(follower.poll())
    assert follower.finished
    assert b"".join(c.data for c in chunks) == b"a\nb\nunfinished"
    assert chunks[-1].final


def test_a_poll_that_reads_nothing_leaves_the_next_wait_to_the_watcher(tmp_path):
    """After a read the next poll comes at once (more may have come meanwhile); after a poll that found
    nothing, waiting waits (for the change watcher or the timeout) instead of spinning."""
    log = tmp_path / "app.log"
    log.touch()
    follower = Follower([str(log)], Diagnostics())
    append(log, lines(3))
    assert b"".join(chunk.data for chunk in follower.poll()) == lines(3)
    assert follower.wake.is_set()
    follower.wait(5.0)  # returns at once: the read set it
    assert follower.poll() == []
    assert not follower.wake.is_set()
    started = time.monotonic()
    follower.wait(0.2)
    assert time.monotonic() - started >= 0.15
