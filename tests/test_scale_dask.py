"""`scan --engine dask` on a LocalCluster of 2 worker processes: the same JSON report as a local scan, even when a
worker dies mid-run. Skipped without the optional extra (pip install 'logscan[dask]')."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import orjson
import pytest

from analyzer.diagnostics import Diagnostics
from analyzer.ingest.sources import resolve
from analyzer.scale.partial import Job, Partial, Shard, finish, merge_all, plan_shards, run_shard
from conftest import ROOT

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed: pip install 'logscan[dask]'")

SAMPLES = [str(ROOT / "samples" / p) for p in ("compose/compose.log", "postgres", "deploy-b")]


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    out = orjson.loads(result.stdout)
    out.pop("generated_at")
    return out


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


def test_dask_scan_gives_the_local_report(cli, cluster) -> None:
    for sample in SAMPLES:
        local = _json(cli("scan", sample, "-F", "json"))
        dask = _json(cli("scan", sample, "-F", "json", "--engine", "dask", "--scheduler", cluster.scheduler_address))
        assert dask == local, sample
        assert local["incidents"], sample


def test_a_worker_killed_mid_run_changes_nothing(cluster, tmp_path: Path) -> None:
    """A shard task kills its own worker process the first time it runs: the scheduler runs it again on a new
    worker, the re-run returns the same partial, and the report is the local one, nothing counted twice."""
    from analyzer.analysis.engine import Settings
    from analyzer.analysis.signatures import load_signatures
    from analyzer.scale import dask as dask_engine
    from test_scale import local_report, report

    marker = tmp_path / "killed-once"
    paths = (str(ROOT / "samples" / "postgres"), str(ROOT / "samples" / "compose"))

    def dies_once(job: Job, shard: Shard) -> Partial:
        if shard.index == 1 and not os.path.exists(marker):
            Path(marker).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return run_shard(job, shard)

    diag = Diagnostics()
    shards = plan_shards(resolve(paths, diag))
    with distributed.Client(cluster) as client:
        partials, fetch = dask_engine.run(Job(Settings()), shards, client, task=dies_once)
        assert marker.exists()
        assert sorted(p.segments[0].index for p in partials) == [s.index for s in shards]
        assert all(p.segments[0].trails is None for p in partials)  # they stayed on the workers
        analysis, tally = finish(merge_all(partials), load_signatures(), Settings(), diag, fetch)
    assert report(analysis, diag, tally) == local_report(paths)
