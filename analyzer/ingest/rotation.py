"""Rotated copies of a log file, found by fingerprint (its first bytes), not by name or inode.

logrotate's `copytruncate` copies `app.log` to `app.log.1` (later maybe
`app.log.1.gz`, or `app.log-20261123`) and then truncates `app.log`. Lines
written after the last read and before the copy exist only in the copy; the
copy itself repeats everything already read. So a reader that saw its file
truncated looks next to it for a copy whose first bytes are the first bytes it
read (`find_copy`, as Vector and Fluent Bit identify files by a checksum of
their head), and reads that copy from the offset it had reached
(`blocks_from`, or `open_by_id` and `blocks_of` when it must be the very file
found): nothing lost, nothing read twice. `follow` (tail) uses this
on every truncation it sees, `sources` for `scan --state` when a checkpointed
file shrank between two runs.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator
from typing import BinaryIO

FINGERPRINT_BYTES = 4096  # how many first bytes identify a file's content (fewer while it is shorter)
BLOCK_BYTES = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
_GZ_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


def head(path: str, n: int = FINGERPRINT_BYTES) -> bytes | None:
    """The first `n` bytes of `path`'s content (decompressed for gzip), None when it cannot be read."""
    try:
        with open(path, "rb") as f:
            return head_of(f, n)
    except OSError:
        return None


def head_of(raw: BinaryIO, n: int = FINGERPRINT_BYTES) -> bytes:
    """The first `n` bytes of an open file's content (decompressed for gzip; fewer if damaged or shorter)."""
    out = b""
    for block in blocks_of(raw, 0):
        out += block[: n - len(out)]
        if len(out) >= n:
            break
    return out


def candidates(path: str) -> list[str]:
    """Files beside `path` that may be its rotated copies (`app.log.1`, `app.log-20261123`, `app.1.log.gz`),
    newest first. Only a name sharing the part before the first dot is considered; the fingerprint decides."""
    folder, name = os.path.split(os.path.abspath(path))
    stem = name.split(".", 1)[0]
    found: list[tuple[int, str]] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        if entry.name == name or not entry.name.startswith(stem):
            continue
        try:
            if entry.is_file():
                found.append((entry.stat().st_mtime_ns, entry.path))
        except OSError:
            continue
    return [p for _, p in sorted(found, reverse=True)]


def find_copy(path: str, known_head: bytes) -> str | None:
    """The newest file beside `path` whose content starts with `known_head` (the first bytes read of `path`
    before it was truncated): its rotated copy. None when there is none, or nothing is known of the head."""
    if not known_head:
        return None
    for candidate in candidates(path):
        first = head(candidate, len(known_head))
        if first == known_head:
            return candidate
    return None


def read_at(path: str, offset: int, n: int) -> bytes | None:
    """`n` bytes of `path`'s content (decompressed for gzip) at `offset`; None when it holds fewer or is unreadable."""
    out = b""
    try:
        with open(path, "rb") as raw:
            for block in blocks_of(raw, offset):
                out += block[: n - len(out)]
                if len(out) >= n:
                    break
    except OSError:
        return None
    return out if len(out) == n else None


def blocks_from(path: str, offset: int) -> Iterator[bytes]:
    """`path`'s content (decompressed for gzip) from byte `offset` to its end, in blocks (see `blocks_of`)."""
    with open(path, "rb") as raw:
        yield from blocks_of(raw, offset)


def blocks_of(raw: BinaryIO, offset: int) -> Iterator[bytes]:
    """An open file's content (decompressed for gzip) from byte `offset` to its end, in blocks.

    A damaged gzip ends early (what could be read was passed on); OSError propagates.
    """
    fd = raw.fileno()
    if os.pread(fd, 2, 0) != GZIP_MAGIC:
        raw.seek(offset)
        while data := raw.read(BLOCK_BYTES):
            yield data
        return
    raw.seek(0)
    with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
        try:
            skip = offset
            while skip > 0:
                dropped = gz.read(min(skip, BLOCK_BYTES))
                if not dropped:
                    return
                skip -= len(dropped)
            while data := gz.read(BLOCK_BYTES):
                yield data
        except _GZ_ERRORS:
            return


def open_by_id(path: str, ident: tuple[int, int], beside: str) -> BinaryIO | None:
    """The file `ident` (st_dev, st_ino) found at `path` a moment ago, opened: at `path`, or renamed since to
    another rotated name beside `beside` (a rotation went on meanwhile); None when it is gone."""
    for candidate in [path, *(c for c in candidates(beside) if c != path)]:
        try:
            raw = open(candidate, "rb")  # noqa: SIM115 - returned to the caller, who closes it
        except OSError:
            continue
        st = os.fstat(raw.fileno())
        if (st.st_dev, st.st_ino) == ident:
            return raw
        raw.close()
    return None
