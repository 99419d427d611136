"""A log writer under load with logrotate in between, for the rotation tests.

`RotatingWriter` appends numbered lines (`L00001234 ...`) to `app.log` at about
`rate` lines a second from a thread, and rotates the file `rotations` times
while it writes, the way logrotate (or a logging library) would:

* `rename`: app.log -> app.log.1, the writer goes on writing to the old file
  for a moment (it reopens late, as after a postrotate signal), then creates a
  new app.log;
* `create`: rename and reopen at once;
* `copytruncate`: copy app.log to app.log.1, truncate app.log (the writer keeps
  its O_APPEND handle);
* `copytruncate_gz`: the same, then app.log.1 compressed to app.log.1.gz and
  removed (logrotate's `compress` without `delaycompress`);
* `delete`: app.log removed, a new one created (its lines are in `deleted`:
  a reader that had not opened it cannot read them);
* `rename_gz`: rename, reopen, then app.log.1 compressed to app.log.1.gz.

Older copies are shifted first (app.log.1 -> app.log.2), none is removed, so a
reader that comes late still finds every line somewhere. Rotation steps run
between two writes of the same thread, so no line is lost by the rotation
itself: every line written must be read exactly once.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

METHODS = ("rename", "create", "copytruncate", "copytruncate_gz", "delete", "rename_gz")
LINE = re.compile(rb"^L(\d{8}) ")
BATCH_SECONDS = 0.01


class RotatingWriter(threading.Thread):
    def __init__(self, folder: Path, method: str, *, rate: int = 20_000, seconds: float = 2.0,
                 rotations: int = 3) -> None:
        super().__init__(name="rotating-writer", daemon=True)
        self.folder, self.method, self.rate, self.seconds, self.rotations = folder, method, rate, seconds, rotations
        self.log = folder / "app.log"
        self.written = 0
        self.file_start = 0  # id of the first line of the current app.log
        self.deleted: list[range] = []  # ids of the lines of each deleted file
        self.fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def lines(self, n: int) -> bytes:
        start, self.written = self.written, self.written + n
        return b"".join(b"L%08d GET /items/%d 200 %s\n" % (i, i % 977, b"x" * (i % 23)) for i in range(start, start + n))

    def run(self) -> None:
        per_batch = max(1, int(self.rate * BATCH_SECONDS))
        batches = int(self.seconds / BATCH_SECONDS)
        rotate_at = {batches * (k + 1) // (self.rotations + 1) for k in range(self.rotations)}
        late: int | None = None  # rename: batches still written to the old file before the writer reopens
        begin = time.monotonic()
        for b in range(batches):
            os.write(self.fd, self.lines(per_batch))
            if late is not None:
                late -= 1
                if late == 0:
                    self.reopen()
                    late = None
            if b in rotate_at:
                late = self.rotate()
            time.sleep(max(0.0, begin + (b + 1) * BATCH_SECONDS - time.monotonic()))
        if late is not None:
            self.reopen()
        os.close(self.fd)

    def reopen(self) -> None:
        os.close(self.fd)
        self.fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def rotate(self) -> int | None:
        """One rotation; returns how many batches go on to the old file first (rename), else None."""
        one = self.folder / "app.log.1"
        for k in range(self.rotations, 0, -1):  # keep every copy: app.log.2 -> app.log.3, app.log.1 -> app.log.2
            for ext in ("", ".gz"):
                if (self.folder / f"app.log.{k}{ext}").exists():
                    (self.folder / f"app.log.{k}{ext}").rename(self.folder / f"app.log.{k + 1}{ext}")
        if self.method in ("rename", "create", "rename_gz"):
            self.log.rename(one)
            if self.method == "rename":
                return 3
            self.reopen()
            if self.method == "rename_gz":
                compress(one)
        elif self.method in ("copytruncate", "copytruncate_gz"):
            shutil.copyfile(self.log, one)
            os.truncate(self.log, 0)
            if self.method == "copytruncate_gz":
                compress(one)
        elif self.method == "delete":
            self.log.unlink()
            self.deleted.append(range(self.file_start, self.written))
            self.reopen()
        self.file_start = self.written
        return None


def compress(path: Path) -> None:
    with open(path, "rb") as src, gzip.open(f"{path}.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    path.unlink()


def line_ids(data: Iterable[bytes]) -> Counter[int]:
    """How many times each numbered line was read (other lines are ignored)."""
    seen: Counter[int] = Counter()
    for block in data:
        for line in block.splitlines():
            m = LINE.match(line)
            if m:
                seen[int(m[1])] += 1
    return seen


def exactly_once(seen: Counter[int], written: int) -> str | None:
    """None when lines 0..written-1 were each read once, else what went wrong (duplicates, gaps)."""
    doubled = sum(n - 1 for n in seen.values() if n > 1)
    missing = written - sum(1 for i in seen if i < written)
    if doubled or missing or len(seen) != written:
        return f"written {written:,}, distinct read {len(seen):,}, doubled {doubled:,}, missing {missing:,}"
    return None
