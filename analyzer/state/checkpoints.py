"""Checkpoints of incremental runs (`scan --state`): where each file was read to, rotation-aware.

A checkpoint says "this content was read up to byte `offset`" (decompressed
bytes for a `.gz`). It is found again by the file's identity, (st_dev, st_ino),
and by its content: a hash of its first bytes (`head`, up to `HEAD_BYTES`, as
read: decompressed for `.gz`) and of the bytes just before `offset` (`mark`, up
to `MARK_BYTES`). `analyzer.ingest.sources.read_chunks` asks `plan` where to start an
input, and hands the new position to `update` once the input was read to its
end; nothing is kept until `settle` (called by the state's commit after a
successful run), so a run that crashes reads the same bytes again next time.

How an input is matched, in order:

1. Same (st_dev, st_ino) as a checkpoint: resumed at its offset if its first
   bytes and the bytes before the offset are unchanged (and, for a plain file,
   it did not shrink). This covers a rename rotation (`app.log` -> `app.log.1`:
   continued under its new name) and an unchanged `.gz` (skipped without
   decompressing when its size and mtime are the same). Otherwise it was
   truncated (copytruncate), rewritten, or is a new file that got a freed
   inode back: unless 2. finds its content, it is read again from the start,
   with a warning in Diagnostics saying why.
2. Another file id (or an inode whose checkpoint does not fit), same content: a copy or compressed rotated copy
   (`app.log.1` -> `app.log.2.gz`, a copytruncate's `app.log.1`, a file synced
   by rename). Every checkpoint not yet continued in this run whose head
   matches the input's first bytes is a candidate; for a plain file its mark
   is checked before it is trusted, for a `.gz` while its first `offset` bytes
   are decompressed and dropped (a mismatch there: read from the start, with a
   warning). The one with the largest offset wins. A warning names the earlier
   file and the byte the input was resumed at.
3. The same file id truncated, or another file under the name a checkpoint
   was read under (copytruncate, or rename and create, of a file named alone:
   its rotated copy is not among the inputs): the newest file beside it whose
   first bytes and bytes before the offset are the checkpoint's (`app.log.1`,
   `app.log-20261123`, `app.log.1.gz`; analyzer.ingest.rotation) is its copy
   (`Plan.copies`): what the copy holds past the offset is read first, then the
   file from its start. Rotated copies of it made since the last run whose
   content no checkpoint knows (rotated more than once between two runs, or
   seen empty, with no first bytes to know it by) are read whole before it,
   oldest first. Without a copy, a warning says that lines written after the
   offset and before the truncation, if any, are lost. (A renamed
   file that its writer goes on writing to after such a run is read further
   only when it is an input: pass a glob such as `'app.log*'`.)
4. Nothing matched: read from the start (with a warning when a checkpoint
   existed for this very path and nothing continued it: the file was replaced).

A file already read in this run (its pending checkpoint, e.g. a copy read
through its truncated original before it came up as an input itself) is
continued from where this run left it.

Bytes not read again are always counted (`SourceStats.resumed_bytes`); an
unfinished last line of a plain file is never consumed: the checkpoint stays
before it and it is read by the next run once its newline is there
(`SourceStats.held_bytes`, and a warning), unless the file was rotated away
(`Plan.final`): resumed under another name than the one it was read under,
while that name now holds another file (`app.log` renamed to `app.log.1` and a
new `app.log` created; a copytruncate's copy), or named like a numbered
rotation (`app.log.2`) of a name that holds another file. Such a file gets no
more lines, so its unfinished last line is read as a line of its own, once,
instead of being left for a next run that would only leave it again (with the
same warning every run). A line cut at the line limit whose
rest is still being skipped is remembered (`long_line`), so its rest is
skipped next time too. stdin is never checkpointed.

Limits (`settle` prunes): checkpoints of files not seen in a run for
`MAX_AGE_DAYS` days are dropped, and at most `MAX_CHECKPOINTS` are kept (the
most recently seen).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from analyzer.ingest import rotation

SCHEMA = "logscan.checkpoints/1"
HEAD_BYTES = 4096
MARK_BYTES = 4096
MAX_CHECKPOINTS = 10_000
MAX_AGE_DAYS = 30

PRead = Callable[[int, int], bytes]  # (offset, length) -> bytes of the open file


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _key(dev: int, ino: int) -> str:
    return f"{dev}:{ino}"


@dataclass
class Checkpoint:
    """How far one file's content was read, and how to recognise that content again."""

    path: str  # the name it was last read under (absolute)
    dev: int
    ino: int
    offset: int  # bytes read (decompressed for gz); the next run starts here
    lines: int  # lines before offset (for line numbers)
    head_len: int  # bytes hashed into head (the first ones, up to HEAD_BYTES)
    head: str
    mark_len: int  # bytes hashed into mark (those just before offset, up to MARK_BYTES)
    mark: str
    size: int  # on-disk size when read
    mtime_ns: int
    gz: bool
    long_line: bool  # offset is inside a line cut at the line limit whose rest is skipped
    seen: float  # unix time of the last committed run that read it
    # the last time of each stream read up to offset, [service, stream or None, ISO time]: what a resumed read
    # infers the time of a record without one of its own from (uvicorn's, alembic's lines), as a whole read does
    times: list[list[Any]] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Any) -> Checkpoint:
        if not isinstance(data, dict):
            raise TypeError("a checkpoint is not an object")
        values: dict[str, Any] = {"times": _times_from_json(data.get("times", []))}  # absent before it was kept
        for f in fields(cls):
            if f.name == "times":
                continue
            value = data.get(f.name)
            want = {"str": str, "int": int, "bool": bool, "float": (int, float)}[str(f.type)]
            if not isinstance(value, want) or (want is int and isinstance(value, bool)):
                raise ValueError(f"checkpoint field {f.name!r} is missing or not {f.type}")
            values[f.name] = value
        cp = cls(**values)
        if min(cp.offset, cp.lines, cp.head_len, cp.mark_len, cp.size) < 0 or cp.mark_len > cp.offset:
            raise ValueError("checkpoint has negative or inconsistent sizes")
        return cp


@dataclass
class Plan:
    """Where to start reading one input."""

    offset: int = 0
    lines: int = 0
    long_line: bool = False
    mark_len: int = 0  # for a .gz: check the `mark_len` bytes before offset while skipping
    mark: str = ""
    whole: bool = False  # an unchanged .gz read to its end before: skip it without decompressing
    note: str | None = None  # a warning for Diagnostics
    final: bool = False  # rotated away, gets no more lines: read an unfinished last line instead of holding it
    times: list[list[Any]] = field(default_factory=list)  # each stream's last time at `offset` (Checkpoint.times)
    # rotated copies to read first (oldest first): name, file id (st_dev, st_ino), the checkpoint it continues;
    # a truncated or replaced file's copy, and copies made since that hold content never read
    copies: list[tuple[str, tuple[int, int], Checkpoint]] = field(default_factory=list)


class Checkpoints:
    """The checkpoints of one job; `plan`/`update` during a run, `settle` after it succeeded."""

    def __init__(self, files: dict[str, Checkpoint] | None = None) -> None:
        self.files: dict[str, Checkpoint] = dict(files or {})
        self.pending: dict[str, Checkpoint] = {}
        self.claimed: dict[str, str] = {}  # checkpoint key -> path that continues it in this run

    # --- storage -------------------------------------------------------------------------------

    @classmethod
    def from_json(cls, data: Any) -> Checkpoints:
        """From a parsed checkpoints file; ValueError when it is not one."""
        if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("files"), dict):
            raise ValueError(f"not a {SCHEMA} file")
        files = {}
        for key, value in data["files"].items():
            cp = Checkpoint.from_json(value)
            if key != _key(cp.dev, cp.ino):
                raise ValueError(f"checkpoint key {key!r} does not match its file id")
            files[key] = cp
        return cls(files)

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "files": {key: asdict(cp) for key, cp in self.files.items()}}

    def settle(self, now: float | None = None) -> None:
        """Keep what this run read (call once the run succeeded, before saving `to_json`), and prune."""
        now = time.time() if now is None else now
        read = {cp.path for cp in self.pending.values()}
        for key, by in self.claimed.items():  # continued by another file read to its end: superseded, and dropped
            if key not in self.pending and os.path.abspath(by) in read:  # (kept, it would match a reused file id)
                self.files.pop(key, None)
        for key, cp in self.pending.items():
            cp.seen = now
            self.files[key] = cp
        self.pending.clear()
        self.claimed.clear()
        cutoff = now - MAX_AGE_DAYS * 86400
        kept = sorted((cp for cp in self.files.values() if cp.seen >= cutoff), key=lambda cp: cp.seen, reverse=True)
        self.files = {_key(cp.dev, cp.ino): cp for cp in kept[:MAX_CHECKPOINTS]}

    # --- during a run --------------------------------------------------------------------------

    def plan(self, path: str, st: os.stat_result, compressed: bool, head: bytes, pread: PRead | None) -> Plan:
        """Where to start reading `path` (opened: `st` its fstat, `head` its first bytes, `pread` None for gz)."""
        plan = self._plan(path, st, compressed, head, pread)
        if not compressed and not plan.final and _numbered_rotation_of_another(path, st):
            plan.final = True
        return plan

    def _plan(self, path: str, st: os.stat_result, compressed: bool, head: bytes, pread: PRead | None) -> Plan:
        key = _key(st.st_dev, st.st_ino)
        where = os.path.abspath(path)  # stored and compared absolute, shown as given
        done = self.pending.get(key)
        if done is not None and not self._differs(done, st, compressed, head, pread):
            return Plan(offset=done.offset, lines=done.lines, long_line=done.long_line, mark_len=done.mark_len,
                        mark=done.mark, final=True, times=done.times, note=f"{path}: already read up to byte {done.offset:,} in this run")
        cp = self.files.get(key)
        problem = None
        if cp is not None:
            problem = self._differs(cp, st, compressed, head, pread)
            if problem is None and cp.offset > 0:
                self.claimed[key] = path
                return self._resume(cp, path, where, st, compressed)
        # not (or nothing of it) read under this file id: is it a copy of content read before?
        found = self._same_content(key, st, compressed, head, pread)
        if found is not None:
            self.claimed[_key(found.dev, found.ino)] = path
            return self._resume(found, path, where, st, compressed)
        if cp is not None and problem is not None:
            other_path = self.claimed.get(key)
            if other_path and other_path != path:
                return Plan(note=f"{path}: {problem} since the last run (what was read of it before continues in "
                            f"{other_path}); read again from the start")
            if cp.path == where:  # truncated (copytruncate) or rewritten in place
                self.claimed[key] = path
                return self._from_copy(cp, path, head, f"{problem} since the last run", "read again from the start")
            # else it was read under another name: a freed file id given to a new file; the name decides below
        elif cp is not None:  # the same file, nothing of it read before
            self.claimed[key] = path
            plan = self._resume(cp, path, where, st, compressed)
            plan.copies = self._unseen_copies(cp, path, head, [])
            if plan.copies:
                plan.note = (f"{path}: empty at the last run, rotated since; its rotated copies "
                             f"{', '.join(c for c, _, _ in plan.copies)} are read first")
            return plan
        for other_key, other in self.files.items():
            if other.path == where and other_key not in self.claimed:
                self.claimed[other_key] = path
                return self._from_copy(other, path, head, "not the file read last time under this name (replaced "
                                       "or recreated: another file id and other first bytes)", "read from the start")
        return Plan()

    def _from_copy(self, cp: Checkpoint, path: str, head: bytes, what: str, restart: str) -> Plan:
        """Where to start `path` (first bytes `head`), whose content `cp` describes no more (truncated or
        replaced): first what its rotated copy beside it holds past `cp.offset`, and rotated copies made since
        that hold content never read (more than one rotation since the last run), then `path` from its start;
        without a copy of `cp`'s content, said lost."""
        found = self._copy_beside(cp, path)
        copy = found[0] if found else None
        copies = [(*found, cp)] if found else []
        copies += self._unseen_copies(cp, path, head, [c for c, _, _ in copies])
        if not copies:
            lost = (f"no copy with its first bytes was found beside it: lines written after byte {cp.offset:,} and "
                    "before that, if there were any, are lost; ")
            return Plan(note=f"{path}: {what}; {lost}{restart}")
        how = f"what was written to it after byte {cp.offset:,} is read from its copy {copy}" if copy else (
            "no copy of what was read of it is beside it (lines written after byte "
            f"{cp.offset:,} and before that, if there were any, are lost)")
        later = [c for c, _, _ in copies if c != copy]
        also = f"; rotated copies made since, never read, are read too: {', '.join(later)}" if later else ""
        return Plan(copies=copies, note=f"{path}: {what}; {how}{also}; then {restart}")

    def update(
        self, path: str, st: os.stat_result, compressed: bool, offset: int, lines: int, long_line: bool,
        head: bytes, mark_len: int, mark: str, size: int,
    ) -> None:
        """`path` (opened with fstat `st`; `size` bytes at the end) was read to its end: start at `offset` next time.

        Pending until `commit`.
        """
        self.pending[_key(st.st_dev, st.st_ino)] = Checkpoint(
            path=os.path.abspath(path), dev=st.st_dev, ino=st.st_ino, offset=offset, lines=lines, head_len=len(head),
            head=digest(head), mark_len=mark_len, mark=mark, size=max(size, st.st_size), mtime_ns=st.st_mtime_ns,
            gz=compressed, long_line=long_line, seen=0.0,
        )

    def keep_times(self, path: str, times: list[list[Any]]) -> None:
        """The last time of each stream of `path` once it was read to where its pending checkpoint stands
        ([service, stream or None, ISO time]; the pipeline knows them, the reader does not)."""
        where = os.path.abspath(path)
        for cp in self.pending.values():
            if cp.path == where:
                cp.times = [list(item) for item in times]

    @staticmethod
    def _head_matches(cp: Checkpoint, head: bytes) -> bool:
        return len(head) >= cp.head_len and digest(head[: cp.head_len]) == cp.head

    @staticmethod
    def _mark_matches(cp: Checkpoint, pread: PRead) -> bool:
        return digest(pread(cp.offset - cp.mark_len, cp.mark_len)) == cp.mark

    def _differs(
        self, cp: Checkpoint, st: os.stat_result, compressed: bool, head: bytes, pread: PRead | None
    ) -> str | None:
        """Why the file with this checkpoint's id is not the content it describes (None: it is)."""
        if compressed != cp.gz:
            return "was rewritten (compressed or decompressed in place)"
        if pread is not None and st.st_size < cp.size:
            return f"shrank from {cp.size:,} to {st.st_size:,} bytes (truncated, e.g. by copytruncate rotation)"
        if not self._head_matches(cp, head):
            return "changed its first bytes (rewritten, or a new file with the same file id)"
        if pread is not None and not self._mark_matches(cp, pread):
            return f"changed before byte {cp.offset:,}, where the last run stopped (rewritten)"
        return None

    def _same_content(
        self, key: str, st: os.stat_result, compressed: bool, head: bytes, pread: PRead | None
    ) -> Checkpoint | None:
        """The checkpoint (of another file id, not yet continued; for a .gz, also one read in this run) whose
        content this file continues: the one read furthest."""
        best: Checkpoint | None = None
        heads: dict[int, str] = {}  # head length -> digest of the file's first bytes (most are HEAD_BYTES long)
        candidates = [(k, cp) for k, cp in self.files.items() if k not in self.claimed]
        if compressed:  # also a file read in this run: `app.log.1.gz` being made from the `app.log.1` just read
            candidates += self.pending.items()
        for other_key, cp in candidates:
            if other_key == key or cp.head_len == 0 or cp.head_len > len(head):
                continue
            if cp.head_len not in heads:
                heads[cp.head_len] = digest(head[: cp.head_len])
            if heads[cp.head_len] != cp.head:
                continue
            if pread is not None and (st.st_size < cp.offset or not self._mark_matches(cp, pread)):
                continue
            if best is None or (cp.offset, cp.seen) > (best.offset, best.seen):
                best = cp
        return best

    def _copy_beside(self, cp: Checkpoint, path: str) -> tuple[str, tuple[int, int]] | None:
        """The newest file beside `path` holding the content `cp` describes (first bytes and the bytes before its
        offset), read no further in this run: the rotated copy of a truncated or replaced file. With no first
        bytes to compare (the file was empty), only the file itself renamed to a rotated name of `path`
        (`app.log.1`) is."""
        for candidate in rotation.candidates(path):
            try:
                st = os.stat(candidate)
            except OSError:
                continue
            key = _key(st.st_dev, st.st_ino)
            if key in self.pending or (
                cp.head_len == 0 and (key != _key(cp.dev, cp.ino) or not _rotated_name(candidate, path))
            ):
                continue
            first = rotation.head(candidate, cp.head_len)
            if first is None or not self._head_matches(cp, first):
                continue
            before = rotation.read_at(candidate, cp.offset - cp.mark_len, cp.mark_len)
            if before is not None and digest(before) == cp.mark:
                return candidate, (st.st_dev, st.st_ino)
        return None

    def _unseen_copies(
        self, cp: Checkpoint, path: str, head: bytes, taken: list[str]
    ) -> list[tuple[str, tuple[int, int], Checkpoint]]:
        """Rotated copies of `path` made since the run that left `cp` (a file rotated more than once since, or
        seen empty: nothing to know its content by): modified after it, holding content no checkpoint knows
        and that neither `path` (first bytes `head`) nor another of them (`taken`, or a plain copy before its
        .gz) holds, not read in this run; oldest first, each to be read whole."""
        # content something was read of (a checkpoint at offset 0, `cp` itself maybe, says only that it was seen)
        known = [c for c in (*self.files.values(), *self.pending.values()) if c.head_len and c.offset]
        heads = [first for p in taken if (first := rotation.head(p, HEAD_BYTES))]
        if head:
            heads.append(head)
        found: list[tuple[int, str, os.stat_result, bytes]] = []
        for candidate in sorted(rotation.candidates(path), key=lambda p: p.endswith(".gz")):  # plain ones first
            if candidate in taken or not _rotated_name(candidate, path):
                continue  # without first bytes to go by, only its own rotated names
            try:
                st = os.stat(candidate)
            except OSError:
                continue
            if _key(st.st_dev, st.st_ino) in self.pending or st.st_mtime_ns <= cp.mtime_ns:
                continue
            first = rotation.head(candidate, HEAD_BYTES)
            if not first or any(first.startswith(h) or h.startswith(first) for h in heads):
                continue  # empty (a copy just begun), or the content of `path` or of a copy already taken
            if any(self._head_matches(c, first) for c in known):
                continue
            heads.append(first)
            found.append((st.st_mtime_ns, candidate, st, first))
        return [  # nothing read of it yet; its first bytes find it again should it be compressed meanwhile
            (p, (st.st_dev, st.st_ino), Checkpoint(
                path=os.path.abspath(p), dev=st.st_dev, ino=st.st_ino, offset=0, lines=0, head_len=len(first),
                head=digest(first), mark_len=0, mark=digest(b""), size=0, mtime_ns=0, gz=False, long_line=False,
                seen=0.0,
            ))
            for _, p, st, first in sorted(found, key=lambda item: item[0])
        ]

    @staticmethod
    def _resume(cp: Checkpoint, path: str, where: str, st: os.stat_result, compressed: bool) -> Plan:
        same_file = (cp.dev, cp.ino) == (st.st_dev, st.st_ino)
        whole = (
            compressed and same_file and cp.gz and cp.size == st.st_size and cp.mtime_ns == st.st_mtime_ns
        )
        note = None
        if cp.path != where:
            how = "renamed" if same_file else "a rotated or copied version of it"
            note = (
                f"{path}: continues {cp.path} read by an earlier run ({how}); its first {cp.offset:,} bytes "
                "were read then and are not read again"
            )
        return Plan(
            offset=cp.offset, lines=cp.lines, long_line=cp.long_line, mark_len=cp.mark_len, mark=cp.mark,
            whole=whole, note=note, times=cp.times,
            # moved away from the name its writer writes to (offset 0: maybe only a reused inode, not a rotation)
            final=not compressed and cp.offset > 0 and cp.path != where and _holds_another_file(cp.path, st),
        )


def _times_from_json(value: Any) -> list[list[Any]]:
    """A checkpoint's `times`, checked: [service, stream or None, ISO time] items."""
    if not isinstance(value, list):
        raise ValueError("checkpoint field 'times' is not a list")
    for item in value:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str)
                and (item[1] is None or isinstance(item[1], str)) and isinstance(item[2], str)):
            raise ValueError("checkpoint field 'times' holds an item that is not [service, stream, time]")
        try:
            datetime.fromisoformat(item[2])
        except ValueError as exc:
            raise ValueError(f"checkpoint field 'times' holds a bad time {item[2]!r}") from exc
    return [list(item) for item in value]


def _rotated_name(candidate: str, path: str) -> bool:
    """Whether `candidate` is named like a rotated copy of `path`: app.log.1, app.log.2.gz, app.log-20261123."""
    name = os.path.basename(path)
    return os.path.basename(candidate).startswith((f"{name}.", f"{name}-"))


def _holds_another_file(name: str, st: os.stat_result) -> bool:
    """Whether `name` exists and is not the file of `st` (a missing name may still be written through an open
    handle, so it does not count)."""
    try:
        other = os.stat(name)
    except OSError:
        return False
    return (other.st_dev, other.st_ino) != (st.st_dev, st.st_ino)


def _numbered_rotation_of_another(path: str, st: os.stat_result) -> bool:
    """`app.log.2` (a numbered rotation) while `app.log` holds another file: `path` gets no more lines."""
    stem, dot, number = os.path.basename(path).rpartition(".")
    if not (dot and stem and number.isdigit()):
        return False
    return _holds_another_file(os.path.join(os.path.dirname(path), stem), st)
