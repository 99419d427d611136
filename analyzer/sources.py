"""Sources: turn what the user named into byte chunks of whole lines.

Paths, globs, folders (recursive), rotated sets (`app.log`, `app.log.1`,
`app.log.2.gz`: oldest first), gzip files, Docker's containers folder and `-`
(stdin) all become `Input`s, then `read_chunks` streams each one in bounded
chunks that end on a line boundary. Memory is bounded by the chunk size plus the
line limit, whatever the file size: a line longer than the limit is cut (and
counted) instead of being held whole.
"""

from __future__ import annotations

import glob
import gzip
import os
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson
import regex

from analyzer.diagnostics import Diagnostics

CHUNK_BYTES = 16 << 20  # each Polars call costs ~50-100 µs: big batches amortise it; peak RSS stays ~0.5 GiB
MAX_LINE_BYTES = 1 << 20

_ROTATED = regex.compile(r"^(?P<base>.+?)(?:\.(?P<n>\d+))?(?P<gz>\.gz)?$")
_DOCKER_LOG = regex.compile(r"^(?P<id>[0-9a-f]{64})-json\.log(?:\.\d+)?(?:\.gz)?$")


@dataclass(frozen=True)
class Input:
    """One readable thing: a file path, or "-" for stdin."""

    path: str
    service: str | None = None  # known service name (Docker container config)
    named: bool = True  # named by the user (an unreadable one is an error), not found in a folder

    @property
    def is_stdin(self) -> bool:
        return self.path == "-"


@dataclass(frozen=True)
class Chunk:
    """Whole lines from one input. `data` ends with a newline unless `final`.

    Lines are counted and numbered where they are split (analyzer.framing),
    so the bytes are never scanned for newlines twice.
    """

    input: Input
    data: bytes
    offset: int  # byte offset of `data` in the (decompressed) input
    final: bool


def _rotation_key(path: str) -> tuple[str, int, str]:
    """Sort key putting a rotated set oldest first: app.log.2.gz, app.log.1, app.log."""
    name = os.path.basename(path)
    m = _ROTATED.match(name)
    assert m is not None  # the pattern matches any name
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
            if p.is_file():
                files.append(str(p))
            elif p.is_symlink():
                diag.warn(f"{p}: broken link; skipped")
    return files


def resolve(args: Iterable[str], diag: Diagnostics) -> list[Input]:
    """Expand what the user named into inputs, in reading order.

    Unusable arguments (no such file, a glob matching nothing) are recorded as
    errors and skipped; the rest is still read.
    """
    inputs: list[Input] = []
    seen: set[str] = set()
    for arg in args:
        if arg == "-":
            inputs.append(Input("-"))
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
            inputs.append(Input(f, service=_docker_service(f), named=not p.is_dir() and not glob.has_magic(arg)))
    return inputs


def _open(inp: Input) -> BinaryIO:
    if inp.is_stdin:
        return sys.stdin.buffer
    f = open(inp.path, "rb")  # noqa: SIM115 - closed by read_chunks
    if f.read(2) == b"\x1f\x8b":
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
    copied once on its way into a chunk.
    """
    stats = diag.source(inp.path)
    try:
        stream = _open(inp)
    except OSError as exc:
        report = diag.error if inp.named else diag.warn
        report(f"{inp.path}: cannot read ({exc.strerror or exc}); skipped")
        return
    parts: list[bytes] = []  # read but not yet emitted; all but the unfinished last line end in a newline
    size = 0  # bytes in parts
    unfinished = 0  # bytes of parts after their last newline
    skipping = False  # inside the unread rest of an over-long line
    offset = 0

    def emit(data: bytes, final: bool = False) -> Chunk:
        nonlocal offset
        chunk = Chunk(inp, data, offset, final)
        offset += len(data)
        return chunk

    try:
        for data in _blocks(stream, inp, diag, chunk_bytes):
            stats.bytes += len(data)
            if skipping:
                cut = data.find(b"\n")
                if cut < 0:
                    continue
                data = data[cut + 1 :]
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
                yield emit(head)
            elif size >= chunk_bytes and size > unfinished:
                if last_nl >= 0:  # the usual case: the chunk ends in the last block read
                    yield emit(b"".join([*parts[:-1], memoryview(data)[: last_nl + 1]]))
                    parts = [data[last_nl + 1 :]]
                else:
                    joined = b"".join(parts)
                    yield emit(joined[: size - unfinished])
                    parts = [joined[size - unfinished :]]
                size = unfinished
        yield emit(b"".join(parts), final=True)
    except OSError as exc:
        diag.error(f"{inp.path}: read failed ({exc.strerror or exc}); kept what was read before")
    finally:
        if not inp.is_stdin:
            stream.close()
