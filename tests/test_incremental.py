"""Incremental incidents (analyzer.analysis.incremental): folding evidence piece by piece gives what one
computation over all of it gives, whatever the pieces, and an unknown cluster keeps its first key."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.analysis.correlate import link_frames
from analyzer.analysis.engine import Analysis
from analyzer.analysis.incidents import build_incidents
from analyzer.analysis.incremental import IncidentState, LiveAnalysis
from analyzer.analysis.signatures import load_signatures
from analyzer.diagnostics import Diagnostics
from analyzer.ingest.pipeline import Pipeline
from analyzer.ingest.sources import Chunk, resolve
from analyzer.live import Limits, Tracker
from analyzer.miner import TemplateMiner

ROOT = Path(__file__).resolve().parent.parent
SIGS = load_signatures()
#: What folding keeps exact for every incident (module doc: `service` and duration percentiles may differ).
EXACT = ("records", "first_seen", "last_seen", "timeline", "affected_requests")


@pytest.fixture(scope="module")
def compose(tmp_path_factory) -> Path:
    """Generated compose traffic, heavy mix: storms, slow requests, unknown errors, several services."""
    out = tmp_path_factory.mktemp("compose")
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--size", "1200KB", "--mix", "stress",
                    "--out", str(out), "--only", "compose"], check=True, capture_output=True)
    return out / "compose.log"


@pytest.fixture(scope="module")
def scanned(compose) -> tuple[Analysis, pl.DataFrame]:
    """scan's analysis of the file, and its evidence tied to requests (as scan ties it)."""
    diag = Diagnostics()
    analysis = Analysis(SIGS)
    for batch in Pipeline(diag).run(resolve([str(compose)], diag)):
        analysis.add(batch)
    snapshot = analysis.snapshot()
    evidence = link_frames([snapshot.whole()], snapshot.traces)[0]
    return analysis, evidence


def _by_fingerprint(frame: pl.DataFrame, columns: tuple[str, ...]) -> dict[str, tuple]:
    return {row[0]: row[1:] for row in frame.select("fingerprint", *columns).iter_rows()}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(folds=st.integers(1, 8), seed=st.integers(0, 2**32 - 1))
def test_folding_evidence_in_any_pieces_equals_one_computation_over_it(scanned, folds, seed):
    """Requests land in random folds (a request's records in one fold, as LiveAnalysis folds them); window rows
    come in time order, cut anywhere: window buckets carry what the next fold needs."""
    _, evidence = scanned
    evidence = evidence.with_row_index("_n")
    r = random.Random(seed)
    owner = {rid: r.randrange(folds) for rid in evidence.get_column("request_id").drop_nulls().unique().to_list()}
    windowed = pl.col("kind") == "window"
    rest = evidence.filter(~windowed)
    fold_of = [owner[rid] if rid is not None else r.randrange(folds) for rid in rest.get_column("request_id").to_list()]
    rest = rest.with_columns(pl.Series("_fold", fold_of, dtype=pl.Int64))
    window = evidence.filter(windowed).sort("ts", maintain_order=True)
    cuts = sorted(r.randrange(window.height + 1) for _ in range(folds - 1))
    state = IncidentState(SIGS, {}, TemplateMiner())
    for k, (lo, hi) in enumerate(zip([0, *cuts], [*cuts, window.height], strict=True)):
        part = pl.concat([rest.filter(pl.col("_fold") == k).drop("_fold"), window.slice(lo, hi - lo)], how="diagonal_relaxed")
        state.fold(part.sort("_n").drop("_n"))
    want = build_incidents(evidence.drop("_n"), SIGS)
    assert want.height > 5
    single = want.filter(pl.col("services").list.len() <= 1).get_column("fingerprint").to_list()
    assert _by_fingerprint(state.table, EXACT) == _by_fingerprint(want, EXACT)
    # one service: occurrences too (across services the busiest one is chosen fold by fold: module doc)
    got = state.table.filter(pl.col("fingerprint").is_in(single))
    assert _by_fingerprint(got, ("count", "service")) == _by_fingerprint(want.filter(pl.col("fingerprint").is_in(single)),
                                                                         ("count", "service"))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_random_tick_batches_give_the_incidents_scan_gives(compose, scanned, seed):
    """The file read in random small batches, as tail reads it (evidence folded 10 s of log time after it came)."""
    full, _ = scanned
    data = compose.read_bytes()
    r = random.Random(seed)
    diag = Diagnostics()
    pipeline, live = Pipeline(diag), LiveAnalysis(SIGS)
    inp = resolve([str(compose)], diag)[0]
    start = 0
    while start < len(data):
        end = data.find(b"\n", start + r.randint(1, 40_000))
        end = len(data) if end < 0 else end + 1
        live.add(pipeline.feed(Chunk(inp, data[start:end], start, end == len(data))))
        start = end
    live.add(pipeline.flush(inp))
    folded = live.state.version
    got, want = live.incidents(), full.incidents()
    assert folded > 5  # most of it was folded before the end
    assert _by_fingerprint(got, ("records", "first_seen", "last_seen")) == \
        _by_fingerprint(want, ("records", "first_seen", "last_seen"))


def _loguru(second: int, word: str) -> str:
    return f"2026-01-01 00:00:{second:02d}.000 | ERROR    | app.cache:sync:12 - cache sync failed for shard {word} in pool main\n"


def test_an_unknown_cluster_keeps_its_first_key_when_its_template_generalizes(tmp_path):
    """The miner learns `shard <*>` only from the second batch on: the errors of both batches are one incident,
    under the fingerprint it was first folded (and announced) under."""
    diag = Diagnostics()
    log = tmp_path / "app.log"
    log.touch()
    pipeline, live = Pipeline(diag), LiveAnalysis(load_signatures([]), settle=timedelta(seconds=1))
    inp = resolve([str(log)], diag)[0]
    start, first = 0, None
    batches = [[(0, "alpha")] * 3, [(10, "beta"), (11, "gamma"), (12, "delta")], [(20, "epsilon")], [(40, "zeta")]]
    for batch in batches:
        data = "".join(_loguru(s, w) for s, w in batch).encode()
        live.add(pipeline.feed(Chunk(inp, data, start, False)))
        start += len(data)
        live.incidents()  # everything folded: a tick after a quiet moment
        first = first or live.state.table.get_column("fingerprint").to_list()
    live.add(pipeline.flush(inp))
    incidents = live.incidents()
    assert first and len(first) == 1
    assert incidents.get_column("fingerprint").to_list() == first
    assert incidents.get_column("count").to_list() == [sum(len(b) for b in batches)]
    # scan, over the same lines, also finds one incident (keyed by the template learned last)
    log.write_text("".join(_loguru(s, w) for batch in batches for s, w in batch))
    scan, scan_diag = Analysis(load_signatures([])), Diagnostics()
    for events in Pipeline(scan_diag).run(resolve([str(log)], scan_diag)):
        scan.add(events)
    assert scan.incidents().get_column("count").to_list() == incidents.get_column("count").to_list()


def _storm_rows(sig_id: str, seconds: list[float]) -> pl.DataFrame:
    """5xx access rows of distinct requests of one service, `seconds` after midnight."""
    t0 = pl.datetime(2026, 1, 1, time_zone="UTC")
    return pl.DataFrame({"s": seconds, "n": range(len(seconds))}).select(
        pl.lit("window").alias("kind"), pl.lit(sig_id).alias("signature"), pl.lit("api").alias("service"),
        (t0 + pl.duration(milliseconds=(pl.col("s") * 1000).cast(pl.Int64))).alias("ts"),
        pl.concat_str(pl.lit("r"), pl.col("s").cast(pl.String)).alias("request_id"),
        pl.lit(503).alias("http_status"), pl.lit("GET").alias("http_method"), pl.lit("/x").alias("http_path"),
        pl.lit("own").alias("linked_by"), pl.lit("GET /x 503").alias("message"), pl.lit("GET /x 503").alias("text"),
        pl.lit("app.log").alias("source"), pl.col("n").cast(pl.Int64).alias("line_no"), pl.lit("").alias("key"),
        pl.lit("{}").alias("captures"), pl.lit("error").alias("level"), pl.lit(None, pl.String).alias("exc_type"),
        pl.lit(None, pl.Float64).alias("duration_ms"), pl.lit("uvicorn").alias("format"),
        pl.lit(None, pl.String).alias("logger"),
    )


def test_a_storm_whose_rows_come_one_fold_at_a_time_is_found_and_its_buckets_expire():
    storm = SIGS["http_5xx_storm"]
    span, need = storm.window_seconds or 60.0, storm.min_count or 1
    assert need > 1
    state = IncidentState(SIGS, {}, TemplateMiner())
    seconds = [k * span / (2 * need) for k in range(need)]  # all within half a window
    for second in seconds:  # no fold alone reaches min_count
        state.fold(_storm_rows(storm.id, [second]))
    assert state.table.get_column("records").to_list() == [need]  # each row counted once
    later = seconds[-1] + 3 * span
    state.fold(_storm_rows(storm.id, [later]))  # alone, long after: no storm, and the old rows expired
    assert state.table.get_column("records").to_list() == [need]
    assert state.windows.height == 1


def test_clusters_the_miner_joins_are_announced_once_and_reported_once(tmp_path):
    """Clusters announced apart that the miner later joins: the later ones leave the board and the report, their
    occurrences counted under the first; nothing is opened twice."""
    diag = Diagnostics()
    log = tmp_path / "app.log"
    log.touch()
    pipeline, live = Pipeline(diag), LiveAnalysis(load_signatures([]), settle=timedelta(seconds=1))
    tracker = Tracker(Limits())
    inp = resolve([str(log)], diag)[0]
    start, opened = 0, []
    batches = [[(0, "alpha")] * 3, [(10, "beta"), (11, "gamma"), (12, "delta")], [(20, "epsilon")], [(40, "zeta")]]
    for tick, batch in enumerate(batches):
        data = "".join(_loguru(s, w) for s, w in batch).encode()
        live.add(pipeline.feed(Chunk(inp, data, start, False)))
        start += len(data)
        incidents = live.incidents()
        tracker.joined(live.state.aliases)
        opened += [c.incident["fingerprint"] for c in tracker.changes(float(tick), incidents, live.traces, True)
                   if c.event == "opened"]
    live.add(pipeline.flush(inp))
    final = live.incidents()
    tracker.joined(live.state.aliases)
    assert live.state.aliases and len(opened) > 1  # clusters were announced apart, then joined
    assert len(opened) == len(set(opened))
    assert [row.incident["fingerprint"] for row in tracker.board(10.0)] == final.get_column("fingerprint").to_list()
    assert tracker.merged(final).get_column("count").to_list() == [sum(len(b) for b in batches)]
