"""analyzer.scale: a scan cut into shards whose partials merge, in any order, into the report a local scan gives.

No Dask here (see tests/test_scale_dask.py): shards run in this process, which is what a cluster's workers do.
"""

from __future__ import annotations

import dataclasses
import re
from functools import cache
from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.analysis.engine import Analysis, Settings
from analyzer.analysis.signatures import load_signatures
from analyzer.diagnostics import Diagnostics
from analyzer.ingest.pipeline import Pipeline, Tally
from analyzer.ingest.sources import resolve
from analyzer.report import json as json_report
from analyzer.report.model import build_report
from analyzer.report.summary import summary_dict
from analyzer.ingest.pipeline import formats_for
from analyzer.scale.partial import (
    Job,
    Partial,
    Shard,
    find_cut,
    finish,
    merge_all,
    plan_shards,
    resolve_carries,
    run_shard,
)
from conftest import ROOT

#: Compose output (services interleaved), PostgreSQL files beside the API's (evidence linked across files),
#: a rotated set (untimed first lines take the previous file's last time), stack B's folders.
PATHS = tuple(str(ROOT / "samples" / p) for p in ("compose", "postgres", "rotated", "api", "deploy-b"))
SETTINGS = Settings()
SIGS = load_signatures()
JOB = Job(SETTINGS)


def report(analysis: Analysis, diag: Diagnostics, tally: Tally) -> dict:
    """The JSON report as `scan --format json` writes it, without `generated_at`."""
    built = build_report(summary_dict(diag, tally, ignored=0), analysis.incidents(), analysis.traces)
    out = orjson.loads(json_report.render(built))
    out.pop("generated_at")
    return out


@cache
def local_report(paths: tuple[str, ...]) -> dict:
    diag = Diagnostics()
    pipeline = Pipeline(diag)
    analysis = Analysis(SIGS, SETTINGS)
    for batch in pipeline.run(resolve(paths, diag)):
        analysis.add(batch)
    return report(analysis, diag, pipeline.tally)


@cache
def _shard_result(inputs: tuple, carry: tuple, span: tuple[int, int] | None) -> Partial:
    return run_shard(JOB, Shard(0, inputs, carry, span))


def run_cached(shard: Shard) -> Partial:
    """run_shard, remembered across examples (it is a pure function of the shard's inputs, carry and range)."""
    got = _shard_result(shard.inputs, shard.carry, shard.span)
    return Partial([dataclasses.replace(got.segments[0], index=shard.index)], got.miner)


def sharded_report(paths: tuple[str, ...], cuts: list[int], order: list[int], tree: list[int]) -> dict:
    """Inputs cut before the input positions in `cuts`, partials merged in `order` along a random tree."""
    diag = Diagnostics()
    inputs = resolve(paths, diag)
    edges = [0, *sorted({c for c in cuts if 0 < c < len(inputs)}), len(inputs)]
    shards = [Shard(n, tuple(inputs[a:b])) for n, (a, b) in enumerate(zip(edges, edges[1:]))]
    partials = resolve_carries(shards, [run_cached(s) for s in shards], lambda again: [run_cached(s) for s in again])
    pending = [partials[i % len(partials)] for i in order if i < len(partials)]
    pending += [p for p in partials if all(p is not q for q in pending)]
    pending = list({id(p): p for p in pending}.values())
    for pick in tree:  # merge two neighbours at a random place: any association
        if len(pending) == 1:
            break
        at = pick % (len(pending) - 1)
        pending[at : at + 2] = [pending[at].merge(pending[at + 1])]
    analysis, tally = finish(merge_all(pending), SIGS, SETTINGS, diag)
    return report(analysis, diag, tally)


def test_one_shard_per_file_gives_the_local_report() -> None:
    diag = Diagnostics()
    shards = plan_shards(resolve(PATHS, diag))
    assert len(shards) > 20
    partials = resolve_carries(shards, [run_cached(s) for s in shards], lambda again: [run_cached(s) for s in again])
    analysis, tally = finish(merge_all(reversed(partials)), SIGS, SETTINGS, diag)
    got = report(analysis, diag, tally)
    assert got == local_report(PATHS)
    assert len(got["incidents"]) > 10 and got["summary"]["records"] > 1000


@settings(max_examples=12, deadline=None)
@given(
    cuts=st.lists(st.integers(0, 40), max_size=8),
    order=st.permutations(list(range(40))),
    tree=st.lists(st.integers(0, 40), min_size=40, max_size=40),
)
def test_any_cut_and_merge_order_gives_the_local_report(cuts: list[int], order: list[int], tree: list[int]) -> None:
    assert sharded_report(PATHS, cuts, order, tree) == local_report(PATHS)


def test_rotated_set_carries_time_into_the_next_shard() -> None:
    """app.log begins with lines without a time: a local scan gives them app.log.1's last time; so does the shard."""
    diag = Diagnostics()
    shards = plan_shards(resolve([str(ROOT / "samples" / "rotated")], diag))
    first = [run_shard(JOB, s) for s in shards]
    assert any(p.segments[0].needs_carry for p in first)
    again: list[Shard] = []

    def rerun(batch: list[Shard]) -> list[Partial]:
        again.extend(batch)
        return [run_shard(JOB, s) for s in batch]

    resolve_carries(shards, first, rerun)
    assert again and all(s.carry for s in again)


def test_a_shard_merged_twice_is_refused() -> None:
    diag = Diagnostics()
    shard = plan_shards(resolve([str(ROOT / "samples" / "rotated")], diag))[0]
    p = run_shard(JOB, shard)
    try:
        p.merge(run_shard(JOB, shard))
    except ValueError as exc:
        assert "merged twice" in str(exc)
    else:
        raise AssertionError("a shard counted twice")


def test_engine_options_that_cannot_run_together_exit_2(cli, tmp_path) -> None:
    sample = str(ROOT / "samples" / "rotated")
    cases = [
        (["--engine", "dask", "--state", str(tmp_path / "state")], "--state"),
        (["--engine", "dask", "--incremental"], "--state"),
        (["--workers", "2"], "--engine dask"),
        (["--scheduler", "tcp://127.0.0.1:1"], "--engine dask"),
    ]
    for extra, said in cases:
        result = cli("scan", sample, *extra)
        assert result.exit_code == 2, extra
        assert said in result.stderr, extra
    result = cli("scan", "-", "--engine", "dask", input="x\n")
    assert result.exit_code == 2 and "stdin" in result.stderr
    assert not (tmp_path / "state").exists()  # refused before anything was opened


#: Single files whose records span lines (uvicorn tracebacks, Loguru exceptions, PostgreSQL DETAIL/STATEMENT lines).
BIG_FILES = tuple(str(ROOT / "samples" / p) for p in (
    "api/api-text.log", "api/api-json.log", "deploy-b/web/web.log", "postgres/debian.log"))


def ranged_report(path: str, shard_bytes: int, order: list[int]) -> tuple[dict, int]:
    diag = Diagnostics()
    shards = plan_shards(resolve([path], diag), shard_bytes=shard_bytes, job=JOB)
    partials = resolve_carries(shards, [run_cached(s) for s in shards], lambda again: [run_cached(s) for s in again])
    ranked = sorted(range(len(partials)), key=lambda i: order[i % len(order)] * 1000 + i)
    analysis, tally = finish(merge_all(partials[i] for i in ranked), SIGS, SETTINGS, diag)
    return report(analysis, diag, tally), len(shards)


@settings(max_examples=8, deadline=None)
@given(
    path=st.sampled_from(BIG_FILES),
    shard_bytes=st.integers(1_500, 60_000),
    order=st.permutations(list(range(16))),
)
def test_byte_range_shards_in_any_order_give_the_local_report(path: str, shard_bytes: int, order: list[int]) -> None:
    got, shards = ranged_report(path, shard_bytes, order)
    assert got == local_report((path,))
    assert shards > 1 or shard_bytes >= Path(path).stat().st_size


def test_a_traceback_across_a_cut_stays_whole(tmp_path) -> None:
    """A nominal cut inside a traceback moves to the first record after it; the record is read whole, once."""
    lines = (ROOT / "samples" / "api" / "api-text.log").read_bytes().splitlines(keepends=True)[:200]
    log = tmp_path / "api.log"
    log.write_bytes(b"".join(lines))
    inside = sum(len(line) for line in lines[:95])  # line 96 of the file: within the traceback of line 89
    assert lines[88].startswith(b"Traceback") and lines[95].startswith(b"  ")
    with log.open("rb") as f:
        cut = find_cut(f, inside, formats_for(None))
    assert cut is not None and cut > inside
    at = [sum(len(line) for line in lines[:n]) for n in range(len(lines) + 1)].index(cut)
    assert not lines[at].startswith((b" ", b"Traceback"))  # a record's first line
    exception_line = re.compile(rb"^[A-Za-z_][\w.]*: ")  # sqlalchemy.exc.MissingGreenlet: ...
    assert all(line.startswith((b" ", b"Traceback")) or exception_line.match(line)
               for line in lines[89:at])  # what lies between belongs to the traceback
    diag = Diagnostics()
    shards = plan_shards(resolve([str(log)], diag), shard_bytes=inside, job=JOB)
    assert shards[0].span == (0, cut)
    got, _ = ranged_report(str(log), inside, [0])
    assert got == local_report((str(log),))
    texts = [e["text"] for i in got["incidents"] for e in i["examples"] if "Traceback" in e["text"]]
    assert texts and all(t.rstrip().splitlines()[-1][:1] not in (" ", "") for t in texts)
