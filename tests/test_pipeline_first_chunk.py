"""`Pipeline.run(first_chunk_bytes=...)` (what `events` uses to print its first rows at once) cuts the first
chunks smaller and changes nothing else: the same events, line numbers and counts as one big chunk."""

from __future__ import annotations

import polars as pl
import pytest
from conftest import ROOT

from analyzer.diagnostics import Diagnostics
from analyzer.ingest.pipeline import Pipeline
from analyzer.ingest.sources import resolve


def _events(paths: list[str], **run_kwargs) -> tuple[pl.DataFrame, int, Diagnostics]:
    diag = Diagnostics()
    pipeline = Pipeline(diag)
    batches = list(pipeline.run(resolve(paths, diag), **run_kwargs))
    return pl.concat(batches), len(batches), diag


def _sorted(events: pl.DataFrame) -> pl.DataFrame:
    return events.sort("source", "line_no", "service", "stream")


@pytest.mark.parametrize("first", [1, 300, 4096])
@pytest.mark.parametrize("sample", ["samples/compose/compose.log", "samples/api/api-text.log",
                                    "samples/postgres/default.csv"])
def test_small_first_chunks_give_the_same_events(sample, first):
    path = str(ROOT / sample)
    whole, whole_batches, whole_diag = _events([path])
    ramped, ramped_batches, ramped_diag = _events([path], first_chunk_bytes=first)
    assert ramped_batches > whole_batches  # really cut
    assert _sorted(ramped).equals(_sorted(whole))
    assert ramped_diag.lines_read == whole_diag.lines_read and ramped_diag.bytes_read == whole_diag.bytes_read


def test_the_ramp_spans_inputs_and_then_stops(tmp_path):
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    line = b"2026-11-23 10:00:00.000 | INFO     | app:f:1 - hello\n"
    a.write_bytes(line * 2000)
    b.write_bytes(line * 2000)
    whole, _, _ = _events([str(a), str(b)])
    ramped, batches, _ = _events([str(a), str(b)], first_chunk_bytes=1024)
    assert _sorted(ramped).equals(_sorted(whole))
    assert ramped.get_column("line_no").filter(ramped.get_column("source") == str(b)).to_list() == list(range(1, 2001))
    assert batches < 20  # pieces grow fourfold: 1 KiB, 4 KiB, 16 KiB, 64 KiB, then whole chunks
