"""analyzer.scale: a scan cut into shards whose partials merge, in any order, into the report a local scan gives.

No Dask here (see tests/test_scale_dask.py): shards run in this process, which is what a cluster's workers do.
"""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
from functools import cache

import orjson
import polars as pl
import pytest
import regex
from hypothesis import event, given, settings
from hypothesis import strategies as st

from analyzer.analysis.correlate import TraceLimits
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
    TraceAsk,
    TrailFetch,
    detach_trails,
    last_start,
    finish,
    merge_all,
    pick_packed,
    plan_shards,
    resolve_carries,
    run_shard,
    unpack_frame,
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
def local_report(paths: tuple[str, ...], chunk_bytes: int | None = None) -> dict:
    diag = Diagnostics()
    pipeline = Pipeline(diag, **({"chunk_bytes": chunk_bytes} if chunk_bytes else {}))
    analysis = Analysis(SIGS, SETTINGS)
    for batch in pipeline.run(resolve(paths, diag)):
        analysis.add(batch)
    return report(analysis, diag, pipeline.tally)


@cache
def _shard_result(chunk_bytes: int, inputs: tuple, carry: tuple, span: tuple[int, int] | None) -> Partial:
    return run_shard(Job(SETTINGS, chunk_bytes=chunk_bytes), Shard(0, inputs, carry, span))


def run_cached(shard: Shard, job: Job = JOB) -> Partial:
    """run_shard, remembered across examples (it is a pure function of the job and the shard's inputs, carry and
    range; the jobs here differ only in chunk size)."""
    got = _shard_result(job.chunk_bytes, shard.inputs, shard.carry, shard.span)
    return Partial([dataclasses.replace(got.segments[0], index=shard.index)], got.miner)


def over_the_wire(partials: list[Partial]) -> tuple[list[Partial], TrailFetch]:
    """Partials as a cluster's driver gets them: held rows (trace rows, trails, strings) left behind, the rest
    pickled and unpickled (compressed frames), and a fetch that asks for held rows as the driver does."""
    held, sent = {}, []
    for p in partials:
        bare, kept = detach_trails(p)
        held[p.segments[0].index] = kept
        sent.append(pickle.loads(pickle.dumps(bare, protocol=5)))
    return sent, lambda index, wanted: unpack_frame(pick_packed(held[index], wanted))


def sharded_report(paths: tuple[str, ...], cuts: list[int], order: list[int], tree: list[int]) -> dict:
    """Inputs cut before the input positions in `cuts`, partials merged in `order` along a random tree."""
    diag = Diagnostics()
    inputs = resolve(paths, diag)
    edges = [0, *sorted({c for c in cuts if 0 < c < len(inputs)}), len(inputs)]
    shards = [Shard(n, tuple(inputs[a:b])) for n, (a, b) in enumerate(zip(edges, edges[1:]))]
    partials = resolve_carries(shards, [run_cached(s) for s in shards], lambda again: [run_cached(s) for s in again])
    partials, fetch = over_the_wire(partials)
    pending = [partials[i % len(partials)] for i in order if i < len(partials)]
    pending += [p for p in partials if all(p is not q for q in pending)]
    pending = list({id(p): p for p in pending}.values())
    for pick in tree:  # merge two neighbours at a random place: any association
        if len(pending) == 1:
            break
        at = pick % (len(pending) - 1)
        pending[at : at + 2] = [pending[at].merge(pending[at + 1])]
    analysis, tally = finish(merge_all(pending), SIGS, SETTINGS, diag, fetch)
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


@settings(max_examples=8, deadline=None)
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
        (["--workers", "2"], "--engine dask"),
        (["--scheduler", "tcp://127.0.0.1:1"], "--engine dask"),
    ]
    for extra, said in cases:
        result = cli("scan", sample, *extra)
        assert result.exit_code == 2, extra
        assert said in result.stderr, extra
    result = cli("scan", "-", "--engine", "dask", input="x\n")
    assert result.exit_code == 2 and "stdin" in result.stderr


#: Single files whose records span lines (uvicorn tracebacks, Loguru exceptions, PostgreSQL DETAIL/STATEMENT lines).
BIG_FILES = tuple(str(ROOT / "samples" / p) for p in (
    "api/api-text.log", "api/api-json.log", "deploy-b/web/web.log", "postgres/debian.log"))


def ranged_report(path: str, chunk_bytes: int, shard_bytes: int, order: list[int]) -> tuple[dict, list[Shard]]:
    job = Job(SETTINGS, chunk_bytes=chunk_bytes)
    diag = Diagnostics()
    shards = plan_shards(resolve([path], diag), shard_bytes=shard_bytes, job=job)
    partials = resolve_carries(shards, [run_cached(s, job) for s in shards],
                               lambda again: [run_cached(s, job) for s in again])
    partials, fetch = over_the_wire(partials)
    ranked = sorted(range(len(partials)), key=lambda i: order[i % len(order)] * 1000 + i)
    analysis, tally = finish(merge_all(partials[i] for i in ranked), SIGS, SETTINGS, diag, fetch)
    return report(analysis, diag, tally), shards


@settings(max_examples=6, deadline=None)
@given(
    path=st.sampled_from(BIG_FILES),
    chunk_bytes=st.integers(4_000, 40_000),
    chunks_per_shard=st.integers(1, 3),
    order=st.permutations(list(range(16))),
)
def test_byte_range_shards_in_any_order_give_the_local_report(path: str, chunk_bytes: int, chunks_per_shard: int,
                                                               order: list[int]) -> None:
    """Ranges are whole chunks of a local scan with the same chunk size, so the batches are its batches."""
    got, shards = ranged_report(path, chunk_bytes, chunk_bytes * chunks_per_shard, order)
    assert got == local_report((path,), chunk_bytes)
    # a range is cut only where a local read's chunk ends at a record start: a small file may have no such place
    # (debian.log with 5,750-byte chunks), and is then one shard; the cutting itself is tested below and above
    event(f"{'several shards' if len(shards) > 1 else 'one shard'}")
    assert all(a[1] == b[0] for a, b in zip([s.span for s in shards], [s.span for s in shards][1:]))


@pytest.mark.parametrize("chunk_bytes", [5_000, 20_000])
def test_requests_seen_in_an_access_log_are_named_by_their_line_in_the_whole_file(chunk_bytes: int) -> None:
    """hypercorn logs no request IDs: a range names each request its access log shows by its own line numbers
    (from 1), and the merge moves them on, as it moves the records' lines."""
    path = str(ROOT / "tests" / "real_lines" / "hypercorn.log")
    got, shards = ranged_report(path, chunk_bytes, chunk_bytes, list(range(16))[::-1])
    assert len(shards) > 1 and got == local_report((path,), chunk_bytes)
    assert got["incidents"][0]["failed_requests"] == 12


@pytest.mark.parametrize("name", ["gunicorn_storm.log", "loguru_intercept_422_storm.log"])
def test_a_storm_of_requests_seen_in_an_access_log_counts_each_once_across_ranges(name: str) -> None:
    """25 refused requests (422s) that only their access lines show, cut into ranges: each still one affected
    request, named by its line in the whole file, and the report the local one."""
    path = str(ROOT / "tests" / "real_lines" / name)
    got, shards = ranged_report(path, 1_000, 1_000, list(range(16))[::-1])
    assert len(shards) > 1 and got == local_report((path,), 1_000)
    (storm,) = [i for i in got["incidents"] if i["signature"] == "http_422_storm"]
    assert (storm["affected_requests"], storm["failed_requests"]) == (25, 0)


def test_a_traceback_across_a_cut_stays_whole(tmp_path) -> None:
    """A chunk ending inside a traceback: the range begins at the record the traceback belongs to, which is read
    whole, once, as a local scan reads it."""
    lines = (ROOT / "samples" / "api" / "api-text.log").read_bytes().splitlines(keepends=True)[:200]
    log = tmp_path / "api.log"
    log.write_bytes(b"".join(lines))
    offset = [sum(len(line) for line in lines[:n]) for n in range(len(lines) + 1)]
    inside = offset[95] + 10  # within line 96, in the traceback that line 89 opens
    assert lines[87].startswith(b"ERROR:    Exception in ASGI application") and lines[88].startswith(b"Traceback")
    with log.open("rb") as f:
        cut = last_start(f, inside, formats_for(None))
    assert cut == offset[87]  # the record the traceback continues
    got, shards = ranged_report(str(log), inside, inside, [0])
    assert shards[0].span == (0, cut) and len(shards) > 1
    assert got == local_report((str(log),), inside)
    texts = [e["text"] for i in got["incidents"] for e in i["examples"] if "Traceback" in e["text"]]
    assert any(t.startswith("ERROR:    Exception in ASGI application\nTraceback") for t in texts)


def _shifted(text: str, hours: int) -> str:
    """Every `2026-11-23 HH:` time moved back `hours` hours (generated logs stay within the first hours of the day)."""
    return regex.sub(r"2026-11-23 (\d\d):", lambda m: f"2026-11-22 {24 - hours + int(m[1])}:", text)


def traced_run(folder: Path, chunk: int) -> tuple[dict, Analysis, list[Partial], dict[int, pl.DataFrame]]:
    """Each file of `folder` a shard read in chunks of `chunk` bytes, partials over the wire, merged in reverse: the
    report, the replayed Analysis, the partials as the shards made them, and the trace rows each shard sent."""
    job = Job(SETTINGS, chunk_bytes=chunk)
    diag = Diagnostics()
    shards = plan_shards(resolve([str(folder)], diag))
    partials = resolve_carries(shards, [run_shard(job, s) for s in shards], lambda again: [run_shard(job, s) for s in again])
    sent, fetch = over_the_wire(partials)
    traces: dict[int, pl.DataFrame] = {}

    def keeping(index: int, wanted):  # type: ignore[no-untyped-def]
        got = fetch(index, wanted)
        if isinstance(wanted, TraceAsk):
            traces[index] = got
        return got

    analysis, tally = finish(merge_all(reversed(sent)), SIGS, SETTINGS, diag, keeping)
    return report(analysis, diag, tally), analysis, partials, traces


def test_trace_rows_pruned_on_arrival_stay_in_their_shard(tmp_path) -> None:
    """A file read after one whose requests end an hour later: the trace table prunes its un-notable requests the
    moment they arrive, so they never travel; its notable ones, and the rows of requests also logged in the file
    before (merged, whatever their age), do. PostgreSQL records of that hour link to what is left, in both runs."""
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--size", "2MB", "--out", str(tmp_path),
                    "--only", "compose", "loguru", "postgres"], check=True, capture_output=True)
    compose = (tmp_path / "compose.log").read_text()
    shared = [line.split("| ", 1)[1] for line in compose.splitlines() if line.startswith("api-1") and "req_id=" in line][:200]
    loguru = (tmp_path / "loguru.log").read_text()
    (tmp_path / "loguru.log").write_text(_shifted(loguru, 1) + _shifted("\n".join(shared) + "\n", 1))
    (tmp_path / "postgres.log").write_text(_shifted((tmp_path / "postgres.log").read_text(), 1))
    chunk = 256 << 10
    got, _, partials, traces = traced_run(tmp_path, chunk)
    assert got == local_report((str(tmp_path),), chunk)
    kept = sum(frame.height for frame in traces.values())
    total = sum(p.segments[0].traces.height for p in partials if p.segments[0].index in traces)
    # the hour-old requests never travelled but the notable ones and those whose ID the first file also logged
    # (the generator draws IDs from one sequence per file: most of them; they stay, to merge)
    assert kept < 0.8 * total, (kept, total)


def test_a_range_reads_the_chunks_a_local_read_reads(tmp_path) -> None:
    """A byte range is read in the chunks a local read of the file makes: those end at the last newline before
    the ends of its blocks, and its first block is the page its gzip check left in the file's buffer (not a
    whole chunk). Ranges on a grid of whole chunks made a 1.2 GB run differ from the local one (942 vs 943
    affected requests of a PostgreSQL incident), by the 4 KiB its chunk ends were shifted by."""
    from analyzer.ingest.sources import read_chunks
    from analyzer.scale.partial import _ShardPipeline, first_block

    data = (ROOT / "samples" / "postgres" / "debian.log").read_bytes() * 3
    log = tmp_path / "pg.log"
    log.write_bytes(data)
    inp = resolve([str(log)], Diagnostics())[0]
    page = first_block(str(log))
    assert 0 < page < len(data)
    for size in (page // 3, page - 1, page, page + 1, 5_000, 3 * page + 7):
        local = [(c.offset, len(c.data)) for c in read_chunks(inp, Diagnostics(), chunk_bytes=size)]
        pipeline = _ShardPipeline(Diagnostics(), chunk_bytes=size, carry={})
        pipeline.span = (0, len(data))
        ranged = [(c.offset, len(c.data)) for c in pipeline.read(inp)]
        assert ranged == local, size


def test_trace_rows_whose_id_nothing_reads_travel_without_it(tmp_path) -> None:
    """A Compose log of some 35 minutes (the API's requests, PostgreSQL's slow statements and errors beside them),
    rotated once halfway: the requests that no record can be linked to (no statement they ran through, no error
    moments from their end, in their own file or left pending from the one before), that nothing merges with and
    that the trace table has let go of by their file's end travel without their ID (most of the bytes); those a
    statement or an error may be tied to keep theirs, and the report is the local one."""
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--size", "40MB", "--out", str(tmp_path),
                    "--only", "compose"], check=True, capture_output=True)
    lines = (tmp_path / "compose.log").read_text().splitlines(keepends=True)
    rotated = tmp_path / "rotated"
    rotated.mkdir()
    (rotated / "compose.log.1").write_text("".join(lines[: len(lines) // 2]))
    (rotated / "compose.log").write_text("".join(lines[len(lines) // 2 :]))
    chunk = 2 << 20
    got, analysis, partials, traces = traced_run(rotated, chunk)
    assert got == local_report((str(rotated),), chunk)
    assert len(partials) == 2
    travelled = pl.concat(traces.values())
    unread = travelled.get_column("request_id").is_null()
    assert unread.sum() > travelled.height / 4, (unread.sum(), travelled.height)
    linked = analysis.snapshot().evidence().filter(pl.col("linked_by") == "in_flight")
    assert linked.height and linked.get_column("request_id").is_in(travelled.get_column("request_id").implode()).all()


def test_a_request_pruned_on_arrival_still_travels_when_its_own_batch_links_to_it(tmp_path) -> None:
    """One batch spans more than the trace horizon: its request of no note ends before the batch's prune cutoff,
    yet the batch's database error settles against it before the prune (Analysis.absorb), so the shard sends it
    (`_kept_traces`) and the sharded report ties the error to it as the local one does."""
    from test_correlate import _compose_minutes_apart

    minutes = int(TraceLimits().horizon.total_seconds() // 60) + 5
    (tmp_path / "compose.log").write_text(_compose_minutes_apart(minutes))
    got, _, _, _ = traced_run(tmp_path, 1 << 20)
    assert got == local_report((str(tmp_path),), 1 << 20)
    (missing,) = [i for i in got["incidents"] if i["signature"] == "relation_missing"]
    assert missing["request_ids"] == ["0f1e2d3c4b5a69788796a5b4c3d2e1f0"]
