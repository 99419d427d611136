"""Follow mode numbers lines as they are in the file, also when it starts reading at the file's end."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from analyzer.ingest import follow
from analyzer.diagnostics import Diagnostics
from analyzer.ingest.follow import Follower
from analyzer.ingest.rotation import FINGERPRINT_BYTES
from analyzer.ingest.pipeline import Pipeline
from analyzer.ingest.sources import Chunk


def chunks_until(follower: Follower, needle: bytes, timeout: float = 5.0) -> list[Chunk]:
    got: list[Chunk] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got += follower.poll()
        if needle in b"".join(c.data for c in got):
            return got
        follower.wait(0.02)
    return got


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def old_lines(n: int) -> bytes:
    return b"".join(f"2026-11-23 10:00:00.000 | INFO     | app:f:1 - old {i}\n".encode() for i in range(n))


NEW = b"2026-11-23 10:00:01.000 | ERROR    | app:f:1 - new one\n"


def test_reading_from_the_end_numbers_lines_from_the_file_start(tmp_path, monkeypatch):
    monkeypatch.setattr(follow, "READ_BYTES", 4096)  # count in many small blocks
    log = tmp_path / "app.log"
    log.write_bytes(old_lines(2356))
    follower = Follower([str(log)], Diagnostics())
    append(log, NEW)
    got = chunks_until(follower, b"new one")
    assert got and got[0].data == NEW and got[0].first_line == 2357
    pipeline = Pipeline(Diagnostics())
    events = pipeline.feed(got[0])
    events = events.vstack(pipeline.flush(got[0].input)) if events.height == 0 else events
    assert events.get_column("line_no").to_list() == [2357]
    append(log, NEW)
    later = chunks_until(follower, b"new one")
    assert later[0].first_line == 0  # numbering simply goes on


def test_unfinished_last_line_at_start_is_counted_as_its_line(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(old_lines(3) + b"half of line 4")
    follower = Follower([str(log)], Diagnostics(), partial_seconds=30)
    append(log, b" rest\n")
    got = chunks_until(follower, b"rest")
    assert got[0].data == b" rest\n" and got[0].first_line == 4


def test_from_start_rotation_and_truncation_start_at_line_one(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(old_lines(5))
    assert chunks_until(Follower([str(log)], Diagnostics(), from_start=True), b"old 4")[0].first_line == 1

    follower = Follower([str(log)], Diagnostics())
    os.rename(log, tmp_path / "app.log.1")
    log.write_bytes(NEW)
    got = chunks_until(follower, b"new one")
    assert [c.first_line for c in got if c.data == NEW] == [1]

    follower = Follower([str(log)], Diagnostics())
    append(log, old_lines(2))
    assert chunks_until(follower, b"old 1")[0].first_line == 2
    with open(log, "wb") as f:  # copytruncate
        f.write(b"x\n")
    got = chunks_until(follower, b"x\n")
    assert got[-1].data == b"x\n" and got[-1].first_line == 1


def test_counting_reads_bounded_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(follow, "READ_BYTES", 1000)
    sizes: list[int] = []
    real = os.pread

    def pread(fd: int, n: int, at: int) -> bytes:
        sizes.append(n)
        return real(fd, n, at)

    monkeypatch.setattr(follow.os, "pread", pread)
    log = tmp_path / "big.log"
    log.write_bytes(b"abc\n" * 50_000)  # 200 kB
    follower = Follower([str(log)], Diagnostics())
    assert follower.files[str(log)].first_line == 50_001
    counting = list(sizes)
    counting.remove(FINGERPRINT_BYTES)  # one read of the first bytes: the file's fingerprint (rotation)
    assert counting and max(counting) <= 1000


@pytest.mark.parametrize("size", [0, 1])
def test_empty_or_tiny_file(tmp_path, size):
    log = tmp_path / "app.log"
    log.write_bytes(b"\n" * size)
    follower = Follower([str(log)], Diagnostics())
    append(log, NEW)
    assert chunks_until(follower, b"new one")[0].first_line == size + 1


def test_after_a_rotation_the_new_file_is_numbered_from_one(tmp_path):
    """One pipeline (one framer per path) follows the file across a rename rotation: numbering starts again."""
    log = tmp_path / "app.log"
    log.write_bytes(old_lines(10))
    follower = Follower([str(log)], Diagnostics())
    pipeline = Pipeline(Diagnostics())

    def line_numbers(chunks: list[Chunk]) -> list[int]:
        numbers: list[int] = []
        for chunk in chunks:
            numbers += pipeline.feed(chunk).get_column("line_no").to_list()
        return numbers + pipeline.flush(chunks[-1].input).get_column("line_no").to_list()

    append(log, NEW)
    assert line_numbers(chunks_until(follower, b"new one")) == [11]
    os.rename(log, tmp_path / "app.log.1")
    log.write_bytes(NEW)
    assert line_numbers(chunks_until(follower, b"new one")) == [1]
