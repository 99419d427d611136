"""Sources: turn what the user named into byte chunks of whole lines.

Paths, globs, folders (recursive), rotated sets (`app.log`, `app.log.1`,
`app.log.2.gz`: oldest first), gzip files, Docker's containers folder and `-`
(stdin) all become `Input`s, then `read_chunks` streams each one in bounded
chunks that end on a line boundary. Memory is bounded by the chunk size plus the
line limit, whatever the file size: a line longer than the limit is cut (and
counted) instead of being held whole.

Incremental reads (`scan --state`): an `Input` whose `resume` holds the run's
`analyzer.state.checkpoints.Checkpoints` starts where an earlier run stopped, if it is
the same content (matched by (st_dev, st_ino) and by a hash of its first bytes,
so a renamed or compressed rotated copy is continued under its new name, and a
truncated, replaced or recreated file is read again from the start with a
warning, after what its rotated copies beside it hold unread: `_read_copy`,
`analyzer.state.checkpoints.Plan.copies`). Bytes not read again are counted in
`SourceStats.resumed_bytes`; an unfinished last line or record is left for the
next run (`SourceStats.held_bytes`, and a warning; the rule is in
analyzer.ingest.settle), unless the file was rotated away and gets no more
lines (`analyzer.state.checkpoints.Plan.final`). Without `resume` (the default,
and always for stdin) nothing of this runs. `Chunk.offset` is always the true
byte offset in the (decompressed) input, or in the rotated copy a chunk of it
was read from.

Streams: stdin, a FIFO and a process substitution (`scan <(cmd)`, a pipe
named `/dev/fd/63`) are read once from where they are, never seeked nor
checkpointed. A FIFO named by the user is opened as `cat` would (waiting for a
writer); one found in a folder is opened without waiting, so one no program
writes to reads as empty instead of stopping the scan. A closed stdin
(`scan - <&-`) reads as empty, with a warning.
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import os
import stat
import sys
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import orjson
import regex

from analyzer.diagnostics import Diagnostics, SourceStats
from analyzer.ingest import rotation, urls

if TYPE_CHECKING:
    from analyzer.state.checkpoints import Checkpoint, Checkpoints

CHUNK_BYTES = 16 << 20  # each Polars call costs ~50-100 µs: big batches amortise it; peak RSS stays ~0.5 GiB
MAX_LINE_BYTES = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"  # how a gzip stream starts, whatever the file is called

_ROTATED = regex.compile(r"(?s)^(?P<base>.+?)(?:\.(?P<n>\d+))?(?P<gz>\.gz)?\Z")  # any name, also one holding a newline
_DOCKER_LOG = regex.compile(r"^(?P<id>[0-9a-f]{64})-json\.log(?:\.\d+)?(?:\.gz)?$")


@dataclass(frozen=True)
class Input:
    """One readable thing: a file path, or "-" for stdin."""

    path: str
    service: str | None = None  # known service name (Docker container config)
    named: bool = True  # named by the user (an unreadable one is an error), not found in a folder
    # checkpoints of an incremental run (`scan --state`): read only what earlier runs did not; never for stdin
    resume: Checkpoints | None = field(default=None, compare=False, repr=False)

    @property
    def is_stdin(self) -> bool:
        return self.path == "-"


@dataclass(frozen=True)
class Chunk:
    """Whole lines from one input. `data` ends with a newline unless `final`.

    Lines are counted and numbered where they are split (analyzer.ingest.framing),
    so the bytes are never scanned for newlines twice.
    """

    input: Input
    data: bytes
    offset: int  # byte offset of `data` in the (decompressed) input
    final: bool
    # number of the first line of `data` when the reader knows it (a resumed read: lines before `offset` + 1);
    # 0 = not known, the framer counts from 1
    first_line: int = 0
    # a resumed read's first chunk: each stream's last time before `offset`, [service, stream or None, ISO time]
    # (analyzer.state.checkpoints.Checkpoint.times), for the pipeline to infer times from as a whole read would
    times: tuple[tuple[str, str | None, str], ...] = ()


def _rotation_key(path: str) -> tuple[str, int, str]:
    """Sort key putting a rotated set oldest first: app.log.2.gz, app.log.1, app.log."""
    name = os.path.basename(path)
    m = _ROTATED.fullmatch(name)
    if m is None:  # an empty name: nothing to sort it by but itself
        return (path, 0, name)
    index = int(m["n"]) if m["n"] else 0
    return (os.path.join(os.path.dirname(path), m["base"]), -index, name)


def _docker_service(log_path: str) -> str | None:
    """Service name of a Docker json-file log from its container's config.v2.json."""
    name = os.path.basename(log_path)
    m = _DOCKER_LOG.match(name)
    if not m:
        return None
    config = os.path.join(os.path.dirname(log_path), "config.v2.json")
    try:
        with open(config, "rb") as f:
            data = orjson.loads(f.read())
        labels = (data.get("Config") or {}).get("Labels") or {}
        service = labels.get("com.docker.compose.service")
        if service:
            return str(service)
        if data.get("Name"):
            return str(data["Name"]).lstrip("/")
    except (OSError, orjson.JSONDecodeError, AttributeError):
        pass
    return m["id"][:12]


def _is_log_candidate(path: Path) -> bool:
    """Whether a file found inside a folder is worth reading as a log."""
    name = path.name
    if name.startswith("."):
        return False
    if name.endswith((".json",)) and name in {"config.v2.json", "hostconfig.json", "manifest.json"}:
        return False
    return not name.endswith(
        (".pyc", ".py", ".mako", ".png", ".jpg", ".toml", ".md", ".ini", ".cfg", ".yml", ".yaml", ".sh", ".sql")
    )


def _folder_files(folder: Path, diag: Diagnostics) -> list[str]:
    files: list[str] = []

    def onerror(err: OSError) -> None:
        diag.warn(f"{err.filename}: cannot read folder ({err.strerror}); skipped")

    for root, dirs, names in os.walk(folder, onerror=onerror):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            p = Path(root) / name
            if not _is_log_candidate(p):
                continue
            if p.is_file() or p.is_fifo():
                files.append(str(p))
            elif p.is_symlink():
                diag.warn(f"{p}: broken link; skipped")
    return files


def resolve(args: Iterable[str], diag: Diagnostics, resume: Checkpoints | None = None) -> list[Input]:
    """Expand what the user named into inputs, in reading order.

    Unusable arguments (no such file, a glob matching nothing) are recorded as
    errors and skipped; the rest is still read. With `resume`, every file (not
    stdin) is read from where an earlier run stopped (see the module docstring).
    """
    inputs: list[Input] = []
    seen: set[str] = set()
    for arg in args:
        if arg == "-":
            inputs.append(Input("-"))
            continue
        if urls.is_url(arg):  # one file, read through fsspec (analyzer.ingest.urls)
            why = urls.problem(arg)
            if why is None and not urls.exists(arg):
                why = f"{arg}: no such file"
            if why is not None:
                diag.error(why)
            elif arg not in seen:
                seen.add(arg)
                inputs.append(Input(arg))  # never resumed: checkpoints know files by device and inode
            continue
        p = Path(arg)
        if p.is_dir():
            found = _folder_files(p, diag)
        elif p.exists():
            found = [arg]
        elif glob.has_magic(arg):
            found = sorted(glob.glob(arg, recursive=True))
            if not found:
                diag.error(f"{arg}: no file matches this pattern")
        else:
            diag.error(f"{arg}: no such file or folder")
            found = []
        expanded: list[str] = []
        for f in found:
            expanded.extend(_folder_files(Path(f), diag) if Path(f).is_dir() else [f])
        for f in sorted(expanded, key=_rotation_key):
            real = os.path.realpath(f)
            if real in seen:
                continue
            seen.add(real)
            named = not p.is_dir() and not glob.has_magic(arg)
            inputs.append(Input(f, service=_docker_service(f), named=named, resume=resume))
    return inputs


def known_size(inputs: Iterable[Input]) -> int | None:
    """Bytes the inputs hold, when that is known before reading (a progress bar's total): None with stdin or
    a compressed file. A file that cannot be opened counts 0 here; reading it reports why."""
    total = 0
    for inp in inputs:
        if inp.is_stdin or not is_regular(inp.path):
            return None  # a stream: its size is not known before it ends (and opening it would consume it)
        try:
            with open(inp.path, "rb") as f:
                if f.read(2) == GZIP_MAGIC:
                    return None
                total += os.fstat(f.fileno()).st_size
        except OSError:
            continue
    return total


def known_empty(inp: Input) -> bool:
    """Whether `inp` holds no byte, known without consuming one: a regular file of size 0, or stdin at its end
    (peeked, so a stdin that holds bytes still has them all). Anything else (a FIFO, a URL, a closed stdin, a
    resumed read) may hold bytes, or something to report, until it is read."""
    if inp.resume is not None:
        return False
    if inp.is_stdin:
        peek = getattr(stdin_stream(), "peek", None)
        return peek is not None and peek(1) == b""
    try:
        found = os.stat(inp.path)
    except OSError:
        return False
    return stat.S_ISREG(found.st_mode) and found.st_size == 0


def read_if_empty(inputs: Sequence[Input], diag: Diagnostics) -> bool:
    """When no input holds a byte (`known_empty`), read each one as `read_chunks` does (its stats; an
    unreadable one's error, into `diag`) and return True: there is nothing to analyze, so a run need not build
    its stages. Otherwise, and when a file has grown since it was found empty, return False having counted
    nothing: the run reads every input afresh."""
    if not all(known_empty(inp) for inp in inputs):
        return False
    read = Diagnostics()
    for inp in inputs:
        if any(chunk.data for chunk in read_chunks(inp, read)):
            return False
    diag.merge(read)
    return True


def is_regular(path: str) -> bool:
    """Whether `path` is a regular file (seekable, with a size); False for a FIFO, a pipe, a device, or none."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def stdin_stream() -> BinaryIO | None:
    """The binary stdin, None when it is closed (`<&-`: Python then has no sys.stdin at all)."""
    stdin = sys.stdin
    return getattr(stdin, "buffer", None) if stdin is not None else None


def open_stream(path: str, wait: bool) -> BinaryIO:
    """Open a FIFO or pipe for reading. `wait`: block until a writer opens it (as `cat` does); otherwise a FIFO
    without a writer reads as empty (opened non-blocking, then switched back to blocking reads)."""
    if wait:
        return open(path, "rb")  # noqa: SIM115 - closed by the caller
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    os.set_blocking(fd, True)
    return open(fd, "rb")  # noqa: SIM115 - closed by the caller


def open_file(path: str) -> BinaryIO:
    """A seekable binary file: a path, or an fsspec URL (analyzer.ingest.urls)."""
    if urls.is_url(path):
        return urls.open_url(path)
    return open(path, "rb")  # noqa: SIM115 - closed by the caller


def _open(inp: Input) -> BinaryIO | None:
    """The input's byte stream (gzip decompressed); None for a closed stdin."""
    if inp.is_stdin:
        return stdin_stream()
    if not is_regular(inp.path) and os.path.exists(inp.path):
        f = open_stream(inp.path, wait=inp.named)
        if f.peek(2)[:2] == GZIP_MAGIC:  # type: ignore[attr-defined]  # peek: a stream cannot go back
            return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
        return f
    f = open_file(inp.path)
    if f.read(2) == GZIP_MAGIC:
        f.seek(0)
        gz = gzip.GzipFile(fileobj=f, mode="rb")
        try:
            gz.peek(1)
            return gz  # type: ignore[return-value]
        except (EOFError, zlib.error, gzip.BadGzipFile):
            pass  # gzip magic but no gzip stream: read the bytes as they are
    f.seek(0)
    return f


def _blocks(stream: BinaryIO, inp: Input, diag: Diagnostics, block: int) -> Iterator[bytes]:
    """Raw blocks of a stream; a damaged gzip ends the input with a warning, keeping what was read."""
    read = getattr(stream, "read1", stream.read)
    while True:
        try:
            data = read(block)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            diag.warn(f"{inp.path}: compressed data is damaged or truncated ({exc}); kept what could be read")
            return
        if not data:
            return
        yield data


def read_chunks(
    inp: Input,
    diag: Diagnostics,
    chunk_bytes: int = CHUNK_BYTES,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Iterator[Chunk]:
    """Stream `inp` as chunks of whole lines of about `chunk_bytes`, counting every byte read.

    A line longer than `max_line_bytes` is cut to that length (the rest of it is
    skipped and counted), so no single line can make memory grow without bound.
    An unreadable input is recorded as an error and yields nothing. Each byte is
    copied once on its way into a chunk. With `inp.resume`, reading starts where
    an earlier run stopped (`_read_resumed`).
    """
    if inp.resume is not None and not inp.is_stdin and is_regular(inp.path):
        yield from _read_resumed(inp, inp.resume, diag, chunk_bytes, max_line_bytes)
        return
    stats = diag.source(inp.path)
    try:
        stream = _open(inp)
    except OSError as exc:
        _unreadable(inp, diag, exc)
        return
    if stream is None:
        diag.warn("stdin: closed; nothing to read")
        return
    try:
        yield from _chunks(inp, _blocks(stream, inp, diag, chunk_bytes), stats, chunk_bytes, max_line_bytes)
    except OSError as exc:
        diag.error(f"{inp.path}: read failed ({exc.strerror or exc}); kept what was read before")
    finally:
        if not inp.is_stdin:
            stream.close()


def _unreadable(inp: Input, diag: Diagnostics, exc: OSError) -> None:
    report = diag.error if inp.named else diag.warn
    report(f"{inp.path}: cannot read ({exc.strerror or exc}); skipped")


@dataclass
class _End:
    """Where a `_chunks` run stopped: `consumed` bytes of the input are in chunks (or skipped as an over-long line)."""

    consumed: int  # offset just past the last byte passed on (the held unfinished line excluded)
    held: int  # bytes of an unfinished last line or record not passed on (only with hold)
    skipping: bool  # the input ended inside an over-long line whose rest is being skipped


def _chunks(
    inp: Input,
    blocks: Iterable[bytes],
    stats: SourceStats,
    chunk_bytes: int,
    max_line_bytes: int,
    start: int = 0,
    skipping: bool = False,
    hold: Callable[[bytes], int] | None = None,
) -> Generator[Chunk, None, _End]:
    """Blocks read from offset `start` -> chunks of whole lines (the last one `final`).

    `skipping`: the input starts inside an over-long line already cut, whose rest
    is skipped. `hold`: an unfinished last line is not passed on (the final chunk
    ends at the last newline), nor the part of the final chunk's whole lines after
    the first `hold(lines)` bytes (an unfinished last record); both are `_End.held`.
    """
    parts: list[bytes] = []  # read but not yet emitted; all but the unfinished last line end in a newline
    size = 0  # bytes in parts
    unfinished = 0  # bytes of parts after their last newline
    pos = start  # input offset of the next block
    base = start  # input offset of parts[0]
    for data in blocks:
        block_at = pos
        pos += len(data)
        stats.bytes += len(data)
        if skipping:
            cut = data.find(b"\n")
            if cut < 0:
                continue
            data = data[cut + 1 :]
            base = block_at + cut + 1
            skipping = False
        last_nl = data.rfind(b"\n")
        unfinished = unfinished + len(data) if last_nl < 0 else len(data) - last_nl - 1
        parts.append(data)
        size += len(data)
        if unfinished > max_line_bytes:
            # the unfinished last line is over the limit: keep its head, skip its rest
            head = b"".join(parts)[: size - unfinished + max_line_bytes] + b"\n"
            stats.truncated_lines += 1
            parts, size, unfinished, skipping = [], 0, 0, True
            yield Chunk(inp, head, base, False)
            base = pos
        elif size >= chunk_bytes and size > unfinished:
            if last_nl >= 0:  # the usual case: the chunk ends in the last block read
                out = b"".join([*parts[:-1], memoryview(data)[: last_nl + 1]])
                parts = [data[last_nl + 1 :]]
            else:
                joined = b"".join(parts)
                out = joined[: size - unfinished]
                parts = [joined[size - unfinished :]]
            yield Chunk(inp, out, base, False)
            base += len(out)
            size = unfinished
    if skipping:
        yield Chunk(inp, b"", pos, True)
        return _End(pos, 0, True)
    if hold is not None:
        whole = b"".join(parts)[: size - unfinished]
        out = whole[: hold(whole)]
        yield Chunk(inp, out, base, True)
        return _End(base + len(out), size - len(out), False)
    yield Chunk(inp, b"".join(parts), base, True)
    return _End(base + size, 0, False)


# --- resumed reads (scan --state) ---------------------------------------------------------------

_GZ_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


def _gz_head(path: str, n: int) -> bytes | None:
    """The first `n` decompressed bytes of a gzip file (fewer if shorter or damaged), None if it is no gzip stream."""
    with open(path, "rb") as f, gzip.GzipFile(fileobj=f, mode="rb") as gz:
        try:
            gz.peek(1)
        except _GZ_ERRORS:
            return None  # gzip magic but no gzip stream: read as it is (as `_open` does)
        out = b""
        try:
            while len(out) < n:
                data = gz.read(n - len(out))
                if not data:
                    break
                out += data
        except _GZ_ERRORS:
            pass  # damaged: what could be read (`_blocks` says so when it is read)
        return out


def _skip(stream: BinaryIO, n: int, mark_len: int, block: int) -> tuple[bytes | None, bytes]:
    """Read and drop `n` bytes; returns (the last `mark_len` of them, the bytes read past `n`), None if short."""
    read = getattr(stream, "read1", stream.read)
    done = 0
    tail = b""
    while done < n:
        try:
            data = read(min(block, max(n - done, 1 << 16)))
        except _GZ_ERRORS:
            return None, b""
        if not data:
            return None, b""
        take = min(len(data), n - done)
        tail = (tail + data[:take])[-mark_len:] if mark_len else b""
        done += take
        if take < len(data):
            return tail, data[take:]
    return tail, b""


def _read_resumed(
    inp: Input, checkpoints: Checkpoints, diag: Diagnostics, chunk_bytes: int, max_line_bytes: int
) -> Iterator[Chunk]:
    """`read_chunks` of a file with checkpoints: start where an earlier run stopped, then note where this one did.

    The new position is only handed to `checkpoints` (pending, committed by the
    caller after a successful run) once the input was read to its end.
    """
    from analyzer.ingest.settle import settled
    from analyzer.state.checkpoints import HEAD_BYTES, MARK_BYTES, Plan, digest

    stats = diag.source(inp.path)
    try:
        raw = open(inp.path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        _unreadable(inp, diag, exc)
        return
    stream: BinaryIO = raw
    try:
        fd = raw.fileno()
        st = os.fstat(fd)
        compressed = os.pread(fd, 2, 0) == GZIP_MAGIC
        head = _gz_head(inp.path, HEAD_BYTES) if compressed else None
        if head is None:  # plain, or gzip magic but no gzip stream: read the bytes as they are
            compressed = False
            head = os.pread(fd, HEAD_BYTES, 0)
        plan = checkpoints.plan(inp.path, st, compressed, head, None if compressed else (lambda at, n: os.pread(fd, n, at)))
        if plan.note:
            diag.warn(plan.note)
        for copy, ident, continued in plan.copies:  # truncated or replaced: first what its rotated copies hold
            yield from _read_copy(inp, copy, ident, continued, checkpoints, diag, chunk_bytes, max_line_bytes)
        first = skipped = b""
        if compressed:
            stream = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
            if plan.whole:  # unchanged since an earlier run read it to its end: nothing to decompress
                stats.resumed_bytes += plan.offset
                checkpoints.update(
                    inp.path, st, True, plan.offset, plan.lines, plan.long_line, head, plan.mark_len, plan.mark, st.st_size
                )
                yield Chunk(inp, b"", plan.offset, True, plan.lines + 1, _times(plan.times))
                return
            if plan.offset:
                mark, first = _skip(stream, plan.offset, plan.mark_len, chunk_bytes)
                skipped = mark or b""
                if mark is None:  # it holds less than was read of its content (still being compressed): nothing new
                    stats.resumed_bytes += plan.offset
                    checkpoints.update(inp.path, st, True, plan.offset, plan.lines, plan.long_line, head,
                                       plan.mark_len, plan.mark, st.st_size)
                    yield Chunk(inp, b"", plan.offset, True, plan.lines + 1, _times(plan.times))
                    return
                if digest(mark) != plan.mark:
                    diag.warn(
                        f"{inp.path}: does not continue what an earlier run read as it seemed to (checked up to "
                        f"byte {plan.offset:,} of its decompressed content); read from the start"
                    )
                    raw.seek(0)
                    stream = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
                    plan, first, skipped = Plan(), b"", b""
        elif plan.offset:
            raw.seek(plan.offset)
        stats.resumed_bytes += plan.offset
        blocks: Iterator[bytes] = _blocks(stream, inp, diag, chunk_bytes)
        if first:
            blocks = _prepend(first, blocks)
        tail = _Tail(MARK_BYTES, blocks, skipped) if compressed else None
        gen = _chunks(
            inp, tail or blocks, stats, chunk_bytes, max_line_bytes, plan.offset, plan.long_line,
            # a rotated-away file gets no more lines: nothing to wait for
            hold=None if compressed or plan.final else (lambda lines: settled(inp, lines)),
        )
        end, lines, last = yield from _numbered(gen, plan.lines, MARK_BYTES, _times(plan.times))
        if end.held:
            stats.held_bytes += end.held
            diag.warn(
                f"{inp.path}: its last record is unfinished (a traceback without its exception line, or a line "
                f"without its newline); its {end.held:,} bytes are left for the next run"
            )
        if tail is not None:  # a compressed input is read to its end: the mark is the last bytes read
            mark = tail.data
        else:
            mark = os.pread(fd, min(MARK_BYTES, end.consumed), end.consumed - min(MARK_BYTES, end.consumed))
            if os.fstat(fd).st_size < end.consumed or os.pread(fd, len(head), 0) != head:
                mark = last[-len(mark) :] if mark else b""  # rotated while read: the bytes passed on, not its new ones
        size = st.st_size if compressed else os.fstat(fd).st_size
        checkpoints.update(
            inp.path, st, compressed, end.consumed, lines, end.skipping, head, len(mark), digest(mark), size
        )
    except OSError as exc:
        diag.error(f"{inp.path}: read failed ({exc.strerror or exc}); kept what was read before")
    finally:
        stream.close()
        raw.close()


def _times(times: list[list[object]]) -> tuple[tuple[str, str | None, str], ...]:
    """A checkpoint's stream times as `Chunk.times`."""
    return tuple((str(service), None if stream is None else str(stream), str(ts)) for service, stream, ts in times)


def _numbered(
    gen: Generator[Chunk, None, _End], lines: int, keep: int, times: tuple[tuple[str, str | None, str], ...] = ()
) -> Generator[Chunk, None, tuple[_End, int, bytes]]:
    """The chunks of `gen` numbered (`lines` lines before the first), the first carrying `times`; returns where it
    ended, the lines then, and the last `keep` bytes passed on."""
    last = b""
    while True:
        try:
            chunk = next(gen)
        except StopIteration as stop:
            return stop.value, lines, last
        if keep:
            last = (last + chunk.data[-keep:])[-keep:]
        n = chunk.data.count(b"\n")
        if chunk.final and chunk.data and not chunk.data.endswith(b"\n"):
            n += 1
        chunk = replace(chunk, first_line=lines + 1, times=times)
        times = ()
        lines += n
        yield chunk
        del chunk  # not kept alive while the next one is read


def _read_copy(
    inp: Input, copy: str, ident: tuple[int, int], cp: Checkpoint, checkpoints: Checkpoints, diag: Diagnostics,
    chunk_bytes: int, max_line_bytes: int,
) -> Iterator[Chunk]:
    """What the rotated copy `copy` (file id `ident`, followed if renamed since it was found) of the truncated or
    replaced `inp` holds past `cp` (where an earlier run stopped), as chunks of `inp`; the copy is checkpointed
    at its end, so it is not read again should it become an input."""
    from analyzer.state.checkpoints import HEAD_BYTES, MARK_BYTES, digest

    stats = diag.source(inp.path)
    raw = rotation.open_by_id(copy, ident, inp.path)
    if raw is None and cp.head_len:  # gone meanwhile (compressed and removed?): the file beside starting alike
        for candidate in rotation.candidates(inp.path):
            first = rotation.head(candidate, cp.head_len)
            if first is not None and len(first) == cp.head_len and digest(first) == cp.head:
                with contextlib.suppress(OSError):
                    raw, copy = open(candidate, "rb"), candidate  # noqa: SIM115 - closed below
                    break
    if raw is None:
        diag.warn(f"{copy}: gone before it could be read; lines written to {inp.path} after byte {cp.offset:,} "
                  "and before its rotation are lost")
        return
    try:
        with raw:
            st = os.fstat(raw.fileno())
            compressed = os.pread(raw.fileno(), 2, 0) == GZIP_MAGIC
            head = rotation.head_of(raw, HEAD_BYTES)
            tail = _Tail(MARK_BYTES, rotation.blocks_of(raw, cp.offset))
            gen = _chunks(inp, tail, stats, chunk_bytes, max_line_bytes, cp.offset, cp.long_line)
            end, lines, _ = yield from _numbered(gen, cp.lines, 0, _times(cp.times))
    except OSError as exc:
        diag.warn(f"{copy}: cannot read ({exc.strerror or exc}); lines written to {inp.path} after byte "
                  f"{cp.offset:,} and before its rotation are lost")
        return
    stats.resumed_bytes += cp.offset
    mark_len, mark = (len(tail.data), digest(tail.data)) if tail.data else (cp.mark_len, cp.mark)
    checkpoints.update(copy, st, compressed, end.consumed, lines, end.skipping, head, mark_len, mark, st.st_size)


def _prepend(first: bytes, blocks: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from blocks


class _Tail:
    """Passes blocks through, keeping the last `n` bytes seen."""

    def __init__(self, n: int, blocks: Iterable[bytes], data: bytes = b"") -> None:
        self.n = n
        self.blocks = blocks
        self.data = data[-n:]

    def __iter__(self) -> Iterator[bytes]:
        for block in self.blocks:
            self.data = (self.data + block[-self.n :])[-self.n :]
            yield block
