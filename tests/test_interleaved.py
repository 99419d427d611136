"""Multi-line joining when another stream's lines land inside a traceback (stdout and stderr merged, 2>&1).

Real output: tests/real_lines/merged_stdout_stderr.log (see its README)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.diagnostics import Diagnostics
from analyzer.ingest.pipeline import Pipeline
from analyzer.ingest.sources import Chunk, resolve

REAL = Path(__file__).parent / "real_lines"
MERGED = REAL / "merged_stdout_stderr.log"


def events(path: Path) -> pl.DataFrame:
    diag = Diagnostics()
    return pl.concat(list(Pipeline(diag).run(resolve([str(path)], diag))))


WHOLE = events(MERGED).select("line_no", "line_count", "exc_type").rows()


def test_traceback_keeps_its_lines_and_json_lines_are_records_of_their_own():
    ev = events(MERGED)
    lines = MERGED.read_text().splitlines()
    json_lines = [n for n, line in enumerate(lines, 1) if line.startswith("{")]
    tb = ev.filter(pl.col("exc_type").is_not_null())
    assert tb.height == 1
    row = tb.row(0, named=True)
    assert row["message"] == "Exception in thread Thread-1 (fail):"
    assert row["exc_type"] == "sqlalchemy.exc.TimeoutError"
    end = next(n for n, line in enumerate(lines, 1) if line.startswith("sqlalchemy.exc.TimeoutError"))
    inside = [n for n in json_lines if row["line_no"] < n < end]
    assert len(inside) == 7
    assert row["line_count"] == end - row["line_no"] + 1 - len(inside)
    assert row["text"].count('"job progress"') == 1  # only the JSON line that landed in the middle of a code line
    assert row["text"].splitlines()[-1].startswith("sqlalchemy.exc.TimeoutError: QueuePool limit of size 1")
    js = ev.filter(pl.col("format") == "json")
    assert js.get_column("line_no").to_list() == json_lines
    assert set(js.get_column("line_count")) == {1}


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=1, max_value=60))
def test_same_records_whatever_the_chunking(per_chunk):
    lines = MERGED.read_bytes().splitlines(keepends=True)
    diag = Diagnostics()
    pipe = Pipeline(diag)
    inp = resolve([str(MERGED)], diag)[0]
    parts, offset = [], 0
    for at in range(0, len(lines), per_chunk):
        data = b"".join(lines[at:at + per_chunk])
        parts.append(pipe.feed(Chunk(inp, data, offset, at + per_chunk >= len(lines))))
        offset += len(data)
    parts.append(pipe.flush(inp))
    got = pl.concat([p for p in parts if p.height]).select("line_no", "line_count", "exc_type").rows()
    assert got == WHOLE


def test_a_line_after_a_finished_traceback_is_a_new_record():
    text = (
        "Exception in thread Thread-1 (fail):\nTraceback (most recent call last):\n"
        '  File "/tmp/gen/merged_run.py", line 11, in fail\n    eng.connect()\n'
        "sqlalchemy.exc.TimeoutError: QueuePool limit of size 1 overflow 0 reached, connection timed out, timeout 0.20\n"
        '{"asctime": "2026-12-03 19:03:36,890", "levelname": "INFO", "name": "app.worker", "message": "job progress", "job": "sync", "step": 1740}\n'
        "    return self.pool.connect()\n"
    )
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
        f.write(text)
    ev = events(Path(f.name))
    assert ev.get_column("line_count").to_list() == [5, 2]  # no open traceback: the JSON record takes the indented line


_LINES = MERGED.read_text().splitlines()
_TB_START = next(i for i, line in enumerate(_LINES) if line.startswith("Exception in thread"))
_TB_END = next(i for i, line in enumerate(_LINES) if line.startswith("sqlalchemy.exc.TimeoutError"))
TRACEBACK = [line for line in _LINES[_TB_START:_TB_END + 1] if not line.startswith("{")]
JSON_LINES = [line for line in _LINES if line.startswith("{")]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=2, max_value=len(TRACEBACK) - 1), st.sampled_from(JSON_LINES)), max_size=12))
def test_json_lines_anywhere_inside_the_traceback(tmp_path_factory, landed):
    # the real traceback and the real JSON lines of the fixture, the JSON lines landing at drawn places
    # (after the opener, before the exception line or right before it)
    lines = list(TRACEBACK)
    for at, line in sorted(landed, reverse=True):
        lines.insert(at, line)
    lines = [JSON_LINES[0], *lines, JSON_LINES[1]]
    path = tmp_path_factory.mktemp("merged") / "merged.log"
    path.write_text("\n".join(lines) + "\n")
    ev = events(path)
    tb = ev.filter(pl.col("exc_type").is_not_null())
    assert tb.height == 1
    assert tb.row(0, named=True)["text"].splitlines() == TRACEBACK
    assert ev.filter(pl.col("format") == "json").height == len(landed) + 2


def test_a_json_line_carrying_a_traceback_in_a_field_opens_nothing(tmp_path: Path):
    """A JSON formatter writes the traceback escaped inside its `exception` field; the lines after that line
    are records of their own, never the end of a traceback (found in the compose sample: the status line after
    the worker's failed-job line, and the line after it, had vanished)."""
    log = tmp_path / "worker.log"
    log.write_text(
        '{"event": "job failed", "level": "error", "exception": "Traceback (most recent call last):\\n'
        '  File \\"/app/worker.py\\", line 9, in run\\nValueError: boom"}\n'
        "worker-1 exited with code 0\n"
        "one more plain line\n"
    )
    ev = events(log)
    assert ev.select("line_no", "line_count").rows() == [(1, 1), (2, 1), (3, 1)]
    assert ev.get_column("exc_type").to_list()[0] == "ValueError"
    assert ev.get_column("text").to_list()[2] == "one more plain line"


def test_lines_joined_after_a_json_record_stay_in_its_text(tmp_path: Path):
    """stderr's traceback after stdout's JSON line (2>&1) joins that record; the JSON parser rebuilds the
    text from the fields, and the traceback's lines are kept after it, not dropped."""
    log = tmp_path / "merged.log"
    log.write_text(
        '{"message": "job failed", "level": "error"}\n'
        "Traceback (most recent call last):\n"
        '  File "/app/worker.py", line 9, in run\n'
        "ValueError: boom\n"
    )
    ev = events(log)
    assert ev.select("line_no", "line_count").rows() == [(1, 4)]
    text = ev.get_column("text").item()
    assert text.endswith('  File "/app/worker.py", line 9, in run\nValueError: boom')
    assert ev.get_column("exc_type").item() == "ValueError"
