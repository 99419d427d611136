"""Unfinished last records (`scan --state`): where a resumed read stops so that the next run reads them whole.

A nightly run may start while the app is still writing a record: a traceback
whose exception line is not there yet, an `ERROR` whose traceback or
PostgreSQL `DETAIL`/`STATEMENT` lines follow a moment later. Read as it is,
the half becomes an incident of its own and the next run reads the rest as a
record without its head. So a resumed read of a file that may still grow
passes on only its settled records (`settled`) and its checkpoint stays at the
start of the unfinished one, which the next run reads from there. The rule,
for the last record of each stream (a Compose service, a Docker stream, the
file) as the framer joins them:

* **a traceback without its exception line**: the record holds
  `Traceback (most recent call last):` and its last non-blank line is a frame
  (indented, or Loguru's `> File`): unfinished, whatever its age.

A complete-looking record is never held, however young: a CI step that scans
with `--fail-on` right after the app logged an error must see that error now,
not on the next run.

Nothing is held from a file that gets no more lines (rotated away:
`analyzer.state.checkpoints.Plan.final`): its last record is read as it is,
so no record is lost at the final run. Only the last `WINDOW_BYTES` are looked
at; a record starting before them is passed on.
"""

from __future__ import annotations

from analyzer.diagnostics import Diagnostics
from analyzer.ingest.framing.multiline import unfinished_traceback
from analyzer.ingest.sources import Chunk, Input

WINDOW_BYTES = 256 << 10


def settled(inp: Input, data: bytes) -> int:
    """How many bytes of `data` (whole lines, the end of a file) are settled records; the rest is an
    unfinished last traceback, left for the next run."""
    start = max(0, len(data) - WINDOW_BYTES)
    if start:
        start = data.index(b"\n", start - 1) + 1  # a line boundary
    window = data[start:]
    if not window:
        return len(data)
    cut: int | None = None
    for first_line, _sid, lines in _last_records(inp, window):
        if unfinished_traceback(lines):  # the rule `tail` holds a traceback by, too
            at = _line_offset(window, first_line)
            cut = at if cut is None else min(cut, at)
    return len(data) if cut is None else start + cut


def _last_records(inp: Input, window: bytes) -> list[tuple[int, int, list[str]]]:
    """(first line number in `window`, stream, lines) of the last record of each stream, by the real framer."""
    from analyzer.ingest.framing import Framer
    from analyzer.ingest.pipeline import formats_for

    framer = Framer(inp, formats_for(None), Diagnostics())
    framer.feed(Chunk(inp, window, 0, final=False, first_line=1))
    if framer.held is None or framer.held.height == 0:
        return []
    records: dict[int, tuple[int, list[str]]] = {}  # stream -> (its first line number, its lines)
    last: dict[int, int] = {}  # stream -> its last line number
    for line_no, sid, line in framer.held.sort("line_no").select("line_no", "sid", "line").iter_rows():
        records.setdefault(sid, (line_no, []))[1].append(line)
        last[sid] = line_no
    return [(records[sid][0], sid, records[sid][1]) for sid in sorted(records, key=last.__getitem__)]


def _line_offset(window: bytes, line_no: int) -> int:
    """Byte offset of line `line_no` (1-based) in `window`."""
    at = 0
    for _ in range(line_no - 1):
        at = window.index(b"\n", at) + 1
    return at
