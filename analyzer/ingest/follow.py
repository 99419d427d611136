"""Follow mode of the sources stage: what `tail` reads, as the byte chunks `Pipeline.feed` takes.

`Follower.poll` returns the whole lines appended since the last call to every
followed file (and stream), as `Chunk`s of the same kind `read_chunks` makes, so
framing and parsing are exactly the batch ones. What it takes care of:

* Inputs: files, globs and folders (rescanned, so a new matching file is picked
  up and read from its start), and streams until their EOF: `-` (a closed stdin
  is said and skipped), a FIFO or a process substitution (`tail <(cmd)`), named
  or found in a folder (read on a thread of its own, which waits for a
  writer). Files present at the start are
  read from their end (like `tail -f`) unless `from_start`. `.gz` files are
  skipped: in a followed folder they are rotated copies of lines already read.
* Waking up: watchfiles reports changes in the files' folders within tens of
  milliseconds; a periodic poll backs it up, so a missed event never stalls.
* Rotation, without losing or repeating a line. Content is identified by its
  fingerprint, its first bytes (up to `FINGERPRINT_BYTES`, as Vector and Fluent
  Bit do), not by name or inode alone:
  - rename-and-create (logrotate `create`, Loguru's `rotation=`): the old file
    is read to its end, then the new one from its start; the old handle stays
    open and is read for `ROTATE_WAIT_SECONDS` after its last growth, because
    a writer keeps writing to it until it reopens its log;
  - copytruncate: the file shrank, or its first bytes are not the ones read
    (truncated, then rewritten past the old size between two polls). The lines
    between the last read and the copy are only in the copy: the newest file
    beside it whose content starts with the same first bytes (`app.log.1`,
    `app.log-20261123`, `app.log.1.gz`; analyzer.ingest.rotation) is read from
    the offset reached, then the truncated file from its start. Without such a
    copy, the lines written after the last read and before the truncation (if
    there were any) cannot be known: a warning says so;
  - a deleted file keeps being read through the open handle until a new one
    appears.
  A file found under a second name (`app.log.1` after a rename, with the inode
  and first bytes of a file read) or a copy (the first bytes of a followed
  file; an empty new file or one shorter than the followed file's known head
  that starts like it waits for the next rescan) is not read again.
* Partial lines: bytes after the last newline wait for their newline, or for
  `partial_seconds`, before they are passed on as a line of their own.
* Line numbers: the first chunk read from a newly opened file carries
  `Chunk.first_line`, so `line_no` is the line's number in the file: a file
  read from its end has its newlines before that point counted first (in
  `READ_BYTES` blocks, so memory stays bounded however large it is); a file
  read from its start, a new file after a rotation and a truncated file start
  at 1.
* Trouble (a missing or unreadable file, a permission change, a rotation) is
  said once per change as a warning in `Diagnostics`; following goes on.

Known limit: a copytruncate followed, between two polls, by more new bytes
than had been read, all starting with the same first bytes as before, looks
like an append.
"""

from __future__ import annotations

import glob
import os
import queue
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import watchfiles

from analyzer.diagnostics import Diagnostics
from analyzer.ingest import rotation
from analyzer.ingest.rotation import FINGERPRINT_BYTES
from analyzer.ingest.sources import MAX_LINE_BYTES, Chunk, Input, open_stream, resolve, stdin_stream

POLL_SECONDS = 1.0  # fallback poll (and rescan of globs and folders) when no change is reported
PARTIAL_SECONDS = 1.0  # how long an unfinished last line waits for its newline
READ_BYTES = 1 << 20
POLL_READS = 16  # READ_BYTES blocks taken from one input per poll: an endless one (/dev/zero) must let `stop` be seen
WATCH_DEBOUNCE_MS = 50
WATCH_STEP_MS = 20
ROTATE_WAIT_SECONDS = 5.0  # a renamed-away file is still read this long after its last growth (writers reopen late)

Ident = tuple[int, int]  # (st_dev, st_ino)


@dataclass
class _Followed:
    """One followed input and where reading stands."""

    input: Input
    file: BinaryIO | None = None
    ident: Ident | None = None  # (st_dev, st_ino) of the open file
    offset: int = 0  # bytes of the open file read so far
    head: bytes = b""  # its first bytes (up to FINGERPRINT_BYTES): the fingerprint of its content
    mtime_ns: int = 0  # its modification time when last checked for a truncation
    pending: bytes = b""  # bytes after the last newline, waiting for theirs
    pending_since: float = 0.0
    first_line: int = 0  # number of the first line of the next chunk (set when a file is opened; 0 = go on)
    problem: str | None = None  # the trouble last reported, so that each change is said once
    readable: bool = True
    done: bool = False  # a stream reached its EOF
    drains: list[_Followed] = field(default_factory=list)  # renamed-away files of this input, still read a while
    until: float = 0.0  # a drain: closed when it has not grown by then


@dataclass
class _Reader:
    """A thread reading a (blocking) stream into a queue; None marks its end. A FIFO named by `path` is opened
    on the thread, where waiting for its writer blocks nothing else."""

    stream: BinaryIO | None
    wake: threading.Event
    path: str = "-"
    blocks: queue.Queue[bytes | None] = field(default_factory=lambda: queue.Queue(maxsize=2 * POLL_READS))  # bounded:
    # a stream faster than the analysis waits instead of filling memory
    error: str | None = None

    def start(self) -> None:
        threading.Thread(target=self._run, name=f"logscan-read {self.path}", daemon=True).start()

    def _run(self) -> None:
        try:
            stream = self.stream if self.stream is not None else open_stream(self.path, wait=True)
            read = getattr(stream, "read1", stream.read)
            while data := read(READ_BYTES):
                self.blocks.put(data)
                self.wake.set()
        except OSError as exc:
            self.error = exc.strerror or str(exc)
        except ValueError:
            pass  # closed under us: that is its end too
        self.blocks.put(None)
        self.wake.set()


class Follower:
    """Follows what the user named; `poll` returns what was appended since the last call."""

    def __init__(
        self,
        args: list[str],
        diag: Diagnostics,
        *,
        from_start: bool = False,
        stdin: BinaryIO | None = None,
        poll_seconds: float = POLL_SECONDS,
        partial_seconds: float = PARTIAL_SECONDS,
    ) -> None:
        self.diag = diag
        self.from_start = from_start
        self.poll_seconds = poll_seconds
        self.partial_seconds = partial_seconds
        self.wake = threading.Event()
        self.files: dict[str, _Followed] = {}
        self.read_idents: dict[Ident, bytes] = {}  # every file read so far, under whatever name -> its first bytes
        self.ignored: dict[str, tuple[Ident, int]] = {}  # names of content already read -> (file id, mtime) then
        self.patterns = [a for a in args if a != "-" and (Path(a).is_dir() or glob.has_magic(a))]
        self.streams: dict[str, tuple[_Followed, _Reader]] = {}  # stdin, FIFOs and pipes: read until their EOF
        self._started = False
        self._stop = threading.Event()
        self._last_scan = 0.0
        if "-" in args:
            stream = stdin if stdin is not None else stdin_stream()
            if stream is None:
                diag.warn("stdin: closed; nothing to read")
            else:
                self.streams["-"] = (_Followed(Input("-")), _Reader(stream, self.wake))
        for arg in args:
            if arg != "-" and arg not in self.patterns:
                self._add(Input(arg), at_end=not from_start)
        self._rescan(at_end=not from_start, first=True)

    @property
    def inputs(self) -> list[Input]:
        """Every input followed so far (for flushing held records)."""
        return [f.input for f, _ in self.streams.values()] + [f.input for f in self.files.values()]

    @property
    def finished(self) -> bool:
        """Only streams were followed (or none could be) and they have ended: nothing more can come."""
        return all(f.done for f, _ in self.streams.values()) and not self.files and not self.patterns

    def start(self) -> None:
        """Start the stream readers and the change watchers (threads that only wake `poll`'s caller)."""
        self._started = True
        for _, reader in self.streams.values():
            reader.start()
        folders = {os.path.dirname(os.path.abspath(p)) for p in self.files} | {
            os.path.abspath(_glob_base(p)) for p in self.patterns
        }
        folders = {f for f in folders if os.path.isdir(f)}
        if folders:
            threading.Thread(target=self._watch, args=(sorted(folders),), name="logscan-watch", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        for f in self.files.values():
            for g in (f, *f.drains):
                if g.file:
                    g.file.close()

    def wait(self, timeout: float) -> None:
        """Sleep until a change is reported or `timeout` passes."""
        self.wake.wait(timeout)
        self.wake.clear()

    def _watch(self, folders: list[str]) -> None:
        recursive = any(Path(p).is_dir() or "**" in p for p in self.patterns)
        try:
            for _ in watchfiles.watch(
                *folders, watch_filter=None, debounce=WATCH_DEBOUNCE_MS, step=WATCH_STEP_MS, recursive=recursive,
                rust_timeout=int(self.poll_seconds * 1000), yield_on_timeout=True, stop_event=self._stop,
                raise_interrupt=False,
            ):
                self.wake.set()
        except (OSError, RuntimeError) as exc:  # e.g. out of inotify watches: the periodic poll still runs
            self.diag.warn(f"change notification unavailable ({exc}); polling every {self.poll_seconds:g}s")

    def poll(self) -> list[Chunk]:
        """Chunks of whole lines appended to every input since the last call."""
        now = time.monotonic()
        chunks: list[Chunk] = []
        for f, reader in self.streams.values():
            if not f.done:
                chunks.extend(self._poll_stream(f, reader))
        for f in list(self.files.values()):
            chunks.extend(self._poll_file(f))
            chunks.extend(self._poll_drains(f, now))
        # after the files: a truncated file's copy is taken up by the file itself before a rescan could see it
        if self.patterns and now - self._last_scan >= self.poll_seconds:
            before = set(self.files)
            self._rescan(at_end=False)
            for path in set(self.files) - before:
                chunks.extend(self._poll_file(self.files[path]))
        streams = [f for f, _ in self.streams.values()]
        for f in [*streams, *self.files.values(), *(d for f in self.files.values() for d in f.drains)]:
            if f.pending and not f.done and (
                now - f.pending_since >= self.partial_seconds or len(f.pending) >= MAX_LINE_BYTES
            ):
                chunks.extend(self._release(f))
        return chunks

    # -- inputs --------------------------------------------------------------------------------

    def _rescan(self, at_end: bool, first: bool = False) -> None:
        """Add files that now match a glob or sit in a followed folder."""
        self._last_scan = time.monotonic()
        scratch = Diagnostics()
        for inp in resolve(self.patterns, scratch):
            if inp.path not in self.files and inp.path not in self.streams and not inp.path.endswith(".gz"):
                self._add(inp, at_end, found_later=not first)
        if first:
            for message in scratch.errors:
                self._say(None, f"{message}; waiting for one to appear")

    def _add(self, inp: Input, at_end: bool, found_later: bool = False) -> None:
        """Follow `inp`, unless its content is already read or followed (a rotated name or a copy).

        `found_later`: it appeared in a followed folder or glob after the start, so a copy being made (empty, or
        so far only the first bytes of a followed file) waits for the next rescan instead of being read as new.
        """
        try:
            st = os.stat(inp.path)
        except OSError:
            st = None  # missing or unreadable: _open says so
        if st is not None and not stat.S_ISREG(st.st_mode):  # a FIFO or pipe: a stream, read until its EOF
            reader = _Reader(None, self.wake, inp.path)
            self.streams[inp.path] = (_Followed(inp), reader)
            if self._started:
                reader.start()
            return
        if st is not None:
            ident = (st.st_dev, st.st_ino)
            if self.ignored.get(inp.path) == (ident, st.st_mtime_ns):
                return  # unchanged since it was found to be a file already read
            if self._already_read(inp.path, ident, found_later):
                self.ignored[inp.path] = (ident, st.st_mtime_ns)
                return
            self.ignored.pop(inp.path, None)
            if found_later and self._may_be_a_copy_in_progress(inp.path, st.st_size):
                return
        f = self.files[inp.path] = _Followed(inp)
        self._open(f, at_end)

    def _already_read(self, path: str, ident: Ident, found_later: bool) -> bool:
        """Whether `path` holds content read already: a followed file's under another name (same file id and
        first bytes: renamed), or, found later, a copy of a followed file (its first bytes, at least as many)."""
        known = self.read_idents.get(ident)
        first = rotation.head(path) if known is not None or found_later else None
        if known is not None and first is not None and _same_start(first, known):
            return True
        if not found_later or not first:
            return False
        for f, known_head in self._followed_heads():
            if len(first) >= len(known_head) and first.startswith(known_head):
                self.diag.warn(f"{path}: a copy of {f.input.path} (same first bytes); not read again")
                self.read_idents[ident] = first
                return True
        return False

    def _may_be_a_copy_in_progress(self, path: str, size: int) -> bool:
        """An empty new file, or one holding so far only a prefix of a followed file's first bytes: wait."""
        if size == 0:
            return True
        first = rotation.head(path) or b""
        return any(len(first) < len(h) and h.startswith(first) for _, h in self._followed_heads())

    def _followed_heads(self) -> Iterator[tuple[_Followed, bytes]]:
        """The first bytes of each followed file: those read (`head`), and those it holds now when more (a copy
        may be made of content not read yet)."""
        for f in self.files.values():
            if f.head:
                yield f, f.head
            if f.file is not None and len(f.head) < FINGERPRINT_BYTES:
                try:
                    now = os.pread(f.file.fileno(), FINGERPRINT_BYTES, 0)
                except OSError:
                    continue
                if len(now) > len(f.head):
                    yield f, now

    def _open(self, f: _Followed, at_end: bool) -> None:
        try:
            fh = open(f.input.path, "rb")  # noqa: SIM115 - kept open while followed, closed on rotation/stop
        except FileNotFoundError:
            self._say(f, f"{f.input.path}: does not exist (yet); waiting for it")
            return
        except OSError as exc:
            self._say(f, f"{f.input.path}: cannot read ({exc.strerror or exc}); will retry")
            return
        st = os.fstat(fh.fileno())
        f.file, f.ident, f.offset = fh, (st.st_dev, st.st_ino), st.st_size if at_end else 0
        try:
            f.first_line = _count_lines(fh.fileno(), f.offset) + 1
            f.head = os.pread(fh.fileno(), min(FINGERPRINT_BYTES, f.offset), 0)
        except OSError:
            f.first_line, f.head = 0, b""  # unknown: the framer counts from 1
        fh.seek(f.offset)
        self.read_idents[f.ident] = f.head
        if f.problem:
            self._say(f, None, f"{f.input.path}: available now; reading it from the {'end' if at_end else 'start'}")

    def _say(self, f: _Followed | None, problem: str | None, note: str | None = None) -> None:
        """Warn about `f`'s new problem (once while it lasts), or clear it and say `note`."""
        if f is not None:
            if problem is not None and problem == f.problem:
                return
            f.problem = problem
        message = problem or note
        if message:
            self.diag.warn(message)

    # -- reading -------------------------------------------------------------------------------

    def _poll_file(self, f: _Followed) -> Iterator[Chunk]:
        if f.file is None:
            self._open(f, at_end=False)  # it appeared (or became readable) after we started: all of it is new
            if f.file is None:
                return
        if self._truncated(f):
            yield from self._after_truncation(f)
        yield from self._read(f)
        try:
            st = os.stat(f.input.path)
        except FileNotFoundError:
            self._say(f, f"{f.input.path}: deleted or moved away; still reading the open file, waiting for a new one")
            return
        except OSError as exc:
            self._say(f, f"{f.input.path}: cannot check ({exc.strerror or exc}); still reading the open file")
            return
        if (st.st_dev, st.st_ino) != f.ident:
            yield from self._read(f)  # the old file's last lines; it is read a while longer (a writer may not
            f.drains.append(_Followed(  # have reopened yet), its unfinished last line waits there
                f.input, f.file, f.ident, f.offset, f.head, pending=f.pending, pending_since=f.pending_since,
                until=time.monotonic() + ROTATE_WAIT_SECONDS,
            ))
            f.file, f.pending = None, b""
            how = "reappeared" if f.problem else "rotated (a new file took its name)"
            self._say(f, None, f"{f.input.path}: {how}; the old file was read to its end, reading the new one")
            self._open(f, at_end=False)
            if f.file is not None:
                yield from self._read(f)
            return
        self._say(f, None)
        readable = os.access(f.input.path, os.R_OK)
        if readable != f.readable:
            f.readable = readable
            self.diag.warn(f"{f.input.path}: " + (
                "readable again" if readable else "no longer readable (permissions changed); still reading the open file"
            ))

    def _truncated(self, f: _Followed) -> bool:
        """Whether the open file no longer holds what was read: it shrank, or its first bytes changed."""
        assert f.file is not None
        fd = f.file.fileno()
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # a device or pipe has no size to shrink
            return False
        if st.st_size == f.offset and st.st_mtime_ns == f.mtime_ns:
            return False  # untouched since the last look
        f.mtime_ns = st.st_mtime_ns
        return st.st_size < f.offset or (bool(f.head) and os.pread(fd, len(f.head), 0) != f.head)

    def _after_truncation(self, f: _Followed) -> Iterator[Chunk]:
        """Read what was written before the truncation and not read yet from the rotated copy, then start over."""
        assert f.file is not None
        path, reached = f.input.path, f.offset
        copy = rotation.find_copy(path, f.head) if reached else None
        if copy is not None:
            try:
                yield from self._feed(f, rotation.blocks_from(copy, reached))
                st = os.stat(copy)
                self.read_idents[(st.st_dev, st.st_ino)] = f.head
                self.diag.warn(
                    f"{path}: truncated (copytruncate); the {f.offset - reached:,} bytes written before that and not "
                    f"read yet were read from its copy {copy}; reading it again from the start"
                )
            except OSError as exc:
                self.diag.warn(f"{path}: truncated; its copy {copy} could not be read ({exc.strerror or exc})")
                copy = None
        if copy is None and reached:
            self.diag.warn(
                f"{path}: truncated (copytruncate?) and no copy starting with the same first bytes was found beside "
                f"it: lines written after byte {reached:,} and before the truncation, if there were any, are lost; "
                "reading it again from the start"
            )
        yield from self._release(f)
        f.offset, f.first_line, f.head = 0, 1, b""
        f.file.seek(0)

    def _poll_drains(self, f: _Followed, now: float) -> Iterator[Chunk]:
        """Lines still written to renamed-away files of `f`; each is closed once quiet for ROTATE_WAIT_SECONDS."""
        for d in list(f.drains):
            before = d.offset
            yield from self._read(d)
            if d.offset > before:
                d.until = now + ROTATE_WAIT_SECONDS
            elif now >= d.until:
                yield from self._release(d)
                assert d.file is not None
                d.file.close()
                f.drains.remove(d)

    def _read(self, f: _Followed) -> Iterator[Chunk]:
        """What `f` holds beyond what was read: up to POLL_READS blocks (the next poll then comes at once)."""
        assert f.file is not None
        file = f.file

        def blocks() -> Iterator[bytes]:
            for _ in range(POLL_READS):
                try:
                    data = file.read(READ_BYTES)
                except OSError as exc:
                    self._say(f, f"{f.input.path}: read failed ({exc.strerror or exc}); will retry")
                    return
                if not data:
                    return
                yield data

        yield from self._feed(f, blocks())

    def _feed(self, f: _Followed, blocks: Iterator[bytes]) -> Iterator[Chunk]:
        """Chunks of `blocks`, the content of `f` from `f.offset` on; the first bytes keep its fingerprint."""
        read = False
        for data in blocks:
            read = True
            if len(f.head) < FINGERPRINT_BYTES and f.offset == len(f.head):
                f.head += data[: FINGERPRINT_BYTES - len(f.head)]
                if f.ident is not None:
                    self.read_idents[f.ident] = f.head
            f.offset += len(data)
            yield from self._take(f, data, f.offset - len(data))
        if read:  # more may be waiting (a busy file grows while its lines are analysed): the next poll comes at once;
            self.wake.set()  # after a read that found nothing, the change watcher (or the periodic poll) wakes it

    def _poll_stream(self, f: _Followed, reader: _Reader) -> Iterator[Chunk]:
        offset = f.offset
        for _ in range(POLL_READS):
            if reader.blocks.empty():
                return
            data = reader.blocks.get()
            if data is None:
                f.done = True
                if reader.error:  # a normal end (the writer closed it) is no warning: it is how a pipe ends
                    name = "stdin" if f.input.is_stdin else f.input.path
                    self.diag.warn(f"{name}: read failed ({reader.error})")
                yield Chunk(f.input, f.pending, offset - len(f.pending), final=True)
                f.pending = b""
                return
            f.offset += len(data)
            yield from self._take(f, data, offset)
            offset = f.offset
        self.wake.set()  # more may be waiting: the next poll comes at once

    def _take(self, f: _Followed, data: bytes, offset: int) -> Iterator[Chunk]:
        """Whole lines of `pending + data` as a chunk; the unfinished rest waits in `pending`."""
        self.diag.source(f.input.path).bytes += len(data)
        end = data.rfind(b"\n")
        if end < 0:
            if not f.pending:
                f.pending_since = time.monotonic()
            f.pending += data
            return
        lines = f.pending + data[: end + 1]
        yield Chunk(f.input, lines, offset - len(f.pending), final=False, first_line=f.first_line)
        f.first_line = 0
        f.pending, f.pending_since = data[end + 1 :], time.monotonic()

    def _release(self, f: _Followed) -> Iterator[Chunk]:
        """The unfinished last line, passed on as a line of its own (it waited long enough, or its file ended)."""
        if f.pending:
            yield Chunk(f.input, f.pending + b"\n", f.offset - len(f.pending), final=False, first_line=f.first_line)
            f.pending, f.first_line = b"", 0


def _same_start(a: bytes, b: bytes) -> bool:
    """Whether the shorter of two first-byte strings starts the longer (the same content, seen at two sizes)."""
    return a.startswith(b) if len(a) >= len(b) else b.startswith(a)


def _count_lines(fd: int, end: int) -> int:
    """Newlines in the first `end` bytes of the open file `fd`, read in `READ_BYTES` blocks (bounded memory)."""
    count = pos = 0
    while pos < end:
        block = os.pread(fd, min(READ_BYTES, end - pos), pos)
        if not block:
            break
        count += block.count(b"\n")
        pos += len(block)
    return count


def _glob_base(pattern: str) -> str:
    """The folder part of a path or glob before its first wildcard (what to watch)."""
    plain: list[str] = []
    for part in Path(pattern).parts:
        if glob.has_magic(part):
            break
        plain.append(part)
    return str(Path(*plain)) if plain else "."
