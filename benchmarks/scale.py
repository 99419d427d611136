"""`scan --engine dask --workers N` against a local scan, on generated data (benchmarks/generate.py).

    python benchmarks/generate.py --size 100MB --out /tmp/logscan-bench --only compose loguru postgres uvicorn
    python benchmarks/scale.py /tmp/logscan-bench [--workers 2] [--markdown benchmarks/RESULTS.md]

Measures, on this machine (CPU shared with whatever else runs: figures are noisy):
- wall time and peak RSS of `logscan scan DIR -F json` (a child process, --engine local);
- wall time of the same scan with --engine dask on a LocalCluster of N worker processes (started before the
  clock, as a standing cluster would be), peak RSS of each worker and of the driver;
- bytes moved: each partial pickled (worker -> driver), the task arguments (driver -> worker);
- per shard (in this process, one after another): seconds, bytes read, partial bytes, and what a partial holds;
- that both reports are identical (JSON minus generated_at).
"""

from __future__ import annotations

import argparse
import pickle
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

from analyzer.analysis.engine import Settings
from analyzer.analysis.signatures import load_signatures
from analyzer.diagnostics import Diagnostics
from analyzer.ingest.sources import resolve
from analyzer.report import json as json_report
from analyzer.report.model import build_report
from analyzer.report.summary import summary_dict
from analyzer.scale import dask as dask_engine
from analyzer.scale.partial import Job, detach_trails, finish, merge_all, plan_shards, run_shard


def _report_json(text: str | bytes) -> dict:
    out = orjson.loads(text)
    out.pop("generated_at", None)
    return out


def local_scan(data: str) -> tuple[float, float, dict]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "analyzer", "scan", data, "-F", "json", "-q"],
                          capture_output=True, check=False)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if proc.returncode not in (0, 1):
        raise SystemExit(proc.stderr.decode())
    return wall, rss, _report_json(proc.stdout)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dask_scan(data: str, workers: int) -> dict:
    import distributed

    settings = Settings()
    sigs = load_signatures()
    job = Job(settings)
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        client.run(lambda: __import__("analyzer.scale.partial"))  # workers import logscan before the clock
        t0 = time.perf_counter()
        diag = Diagnostics()
        shards = plan_shards(resolve([data], diag))
        partials, fetch = dask_engine.run(job, shards, client)
        t_gathered = time.perf_counter()
        analysis, tally = finish(merge_all(partials), sigs, settings, diag, fetch)
        report = build_report(summary_dict(diag, tally, ignored=0), analysis.incidents(), analysis.traces)
        text = json_report.render(report)
        wall = time.perf_counter() - t0
        worker_rss = client.run(_rss_mib)
    moved_up = sum(len(pickle.dumps(p, protocol=5)) for p in partials)
    moved_down = sum(len(pickle.dumps((job, s), protocol=5)) for s in shards)
    return {
        "wall": wall, "gathered_at": t_gathered - t0, "worker_rss": sorted(worker_rss.values()),
        "driver_rss": _rss_mib(), "moved_up": moved_up, "moved_down": moved_down, "shards": len(shards),
        "bytes_read": diag.bytes_read, "report": _report_json(text),
    }


def per_shard(data: str) -> list[dict]:
    rows = []
    job = Job(Settings())
    for shard in plan_shards(resolve([data], Diagnostics())):
        t0 = time.perf_counter()
        p = run_shard(job, shard)
        seconds = time.perf_counter() - t0
        seg = p.segments[0]
        p, _ = detach_trails(p)  # as a cluster task returns it: the trails stay on the worker
        traces = sum(len(pickle.dumps(b.traces, protocol=5)) for b in seg.parts)
        evidence = len(pickle.dumps(seg.evidence, protocol=5))
        rows.append({
            "shard": Path(shard.name).name, "seconds": seconds, "read": seg.diag.bytes_read,
            "partial": len(pickle.dumps(p, protocol=5)), "traces": traces, "evidence": evidence,
            "trace_rows": sum(b.traces.height for b in seg.parts),
            "evidence_rows": seg.evidence[0].height + seg.evidence[1].height,
        })
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", help="a folder of generated logs")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--markdown", type=Path, help="append the results to this file")
    args = ap.parse_args()

    shards = per_shard(args.data)
    local_wall, local_rss, local_report = local_scan(args.data)
    d = dask_scan(args.data, args.workers)
    same = d["report"] == local_report
    mb = 1e6
    lines = [
        f"## scan --engine dask vs local, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"- command: `python benchmarks/scale.py {args.data} --workers {args.workers}`; data: "
        f"{d['bytes_read'] / mb:.1f} MB in {d['shards']} files (benchmarks/generate.py, seed 1); "
        "CPU shared with other jobs: **noisy figures**",
        f"- reports identical: **{same}**",
        "",
        "| run | wall s | peak RSS MiB | bytes moved |",
        "|---|--:|--:|--:|",
        f"| local (`logscan scan`, one process) | {local_wall:.1f} | {local_rss:.0f} | - |",
        f"| dask, {args.workers} workers (driver) | {d['wall']:.1f} (partials in at {d['gathered_at']:.1f}) | "
        f"{d['driver_rss']:.0f} | up {d['moved_up'] / mb:.1f} MB ({100 * d['moved_up'] / d['bytes_read']:.1f}% of "
        f"input), down {d['moved_down'] / 1e3:.1f} kB |",
        f"| dask workers | | {', '.join(f'{r:.0f}' for r in d['worker_rss'])} | |",
        "",
        "Per shard (one process, one after another):",
        "",
        "| shard | read MB | s | MB/s | partial MB | % of read | trace partials MB (rows) | evidence MB (rows) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in shards:
        lines.append(
            f"| {r['shard']} | {r['read'] / mb:.1f} | {r['seconds']:.1f} | {r['read'] / mb / r['seconds']:.1f} | "
            f"{r['partial'] / mb:.2f} | {100 * r['partial'] / r['read']:.1f} | {r['traces'] / mb:.2f} "
            f"({r['trace_rows']:,}) | {r['evidence'] / mb:.2f} ({r['evidence_rows']:,}) |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        with args.markdown.open("a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
