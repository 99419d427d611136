"""Layouts of sample set B (samples/deploy-b: real lines of a stack built differently from set A), read
the way any deployment writing them is read: each test takes its lines from the real files."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from analyzer.diagnostics import Diagnostics
from analyzer.ingest.pipeline import Pipeline
from analyzer.ingest.sources import resolve
from tests.conftest import ROOT

SET_B = ROOT / "samples" / "deploy-b"


def lines_of(path: Path, *needles: str) -> list[str]:
    """The lines of a real sample file that hold every needle."""
    return [line for line in path.read_text().splitlines() if all(n in line for n in needles)]


def events_of(tmp_path: Path, name: str, lines: list[str]) -> pl.DataFrame:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    diag = Diagnostics()
    return pl.concat(list(Pipeline(diag).run(resolve([str(path)], diag))))


def test_logfmt_quoted_values_are_read_as_the_program_printed_them(tmp_path):
    # structlog's LogfmtRenderer escapes quotes and newlines inside a quoted value
    refused = lines_of(SET_B / "worker/worker.log", "database connect failed")[0]
    failed = lines_of(SET_B / "worker/worker.log", "job failed")[0]
    assert '\\"127.0.0.1\\"' in refused and "\\n" in failed
    ev = events_of(tmp_path, "worker.log", [refused, failed]).sort("line_no")
    assert ev.get_column("format").to_list() == ["logfmt", "logfmt"]
    text = ev.get_column("text").to_list()
    assert 'connection to server at "127.0.0.1", port ' in text[0]
    assert "Connection refused\n\tIs the server running" in text[0]
    assert "Traceback (most recent call last):\n  File " in text[1]
    assert ev.get_column("exc_type").to_list() == [None, "psycopg.errors.QueryCanceled"]
    assert ev.get_column("message").to_list() == ["database connect failed", "job failed"]


def test_logfmt_unescapes_only_quoted_values():
    from analyzer.ingest.formats.logfmt import unescape_values

    assert unescape_values(r'level=info path=C:\new msg="say \"hi\"\\n" repr=' + r"'it\'s'") == (
        'level=info path=C:\\new msg="say "hi"\\n" repr=' + "'it's'"
    )
