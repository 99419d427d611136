"""`scan --engine dask --workers N` against a local scan, on generated data (benchmarks/generate.py).

    python benchmarks/generate.py --size 300MB --out /tmp/logscan-bench --only compose loguru postgres uvicorn
    python benchmarks/scale.py /tmp/logscan-bench [--workers 2] [--markdown benchmarks/RESULTS.md]

Measures, on this machine (CPU shared with whatever else runs: figures are noisy):
- wall time and peak RSS of `logscan scan DIR --format json -q` (a child process, --engine local);
- wall time and peak RSS of `logscan scan DIR --format json -q --engine dask --workers N` (a child process: the
  command as a user runs it, cluster start included);
- the same run through `analyzer.scale` on a LocalCluster of N worker processes started before the clock (a
  standing cluster), instrumented: when the partials were in, peak RSS of each worker, and every byte that
  crossed between workers and driver: round 1 (each shard's partial), round 2 (the trace rows the driver
  asks for), the fetches of trails and example strings, and what the driver sent (tasks, asks);
- per shard: bytes read, seconds on its worker, partial bytes (round 1 + round 2) as % of what it read;
- that the three reports are identical (JSON minus generated_at).
"""

from __future__ import annotations

import argparse
import io
import os
import pickle
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from analyzer.analysis.engine import Settings
from analyzer.analysis.signatures import load_signatures
from analyzer.diagnostics import Diagnostics
from analyzer.ingest.sources import resolve
from analyzer.report import json as json_report
from analyzer.report.model import build_report
from analyzer.report.redact import Redactor
from analyzer.report.summary import summary_dict
from analyzer.scale import dask as dask_engine
from analyzer.scale.cli import SHARD_BYTES
from analyzer.scale.partial import Job, TraceAsk, finish, merge_all, plan_shards, run_shard

MB = 1e6


def _report_json(text: str | bytes) -> dict:
    out = orjson.loads(text)
    out.pop("generated_at", None)
    return out


#: Runs the command line in a child that reports its own peak RSS at exit (ru_maxrss of RUSAGE_CHILDREN would be
#: the largest child so far, whichever run it was).
_WRAPPER = (
    "import atexit, os, resource, runpy, sys\n"
    "atexit.register(lambda: open(os.environ['RSS_OUT'], 'w').write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)))\n"
    "sys.argv = ['logscan', *sys.argv[1:]]\n"
    "runpy.run_module('analyzer', run_name='__main__')\n"
)


def _child(args: list[str]) -> tuple[float, float, dict]:
    """Wall seconds, the child's own peak RSS in MiB, its report."""
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".rss") as rss_file:
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _WRAPPER, *args], capture_output=True, check=False,
                              env={**os.environ, "RSS_OUT": rss_file.name})
        wall = time.perf_counter() - t0
        rss = int(Path(rss_file.name).read_text() or 0) / 1024
    if proc.returncode not in (0, 1):
        raise SystemExit(proc.stderr.decode())
    return wall, rss, _report_json(proc.stdout)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ipc_size(frame: pl.DataFrame) -> int:
    out = io.BytesIO()
    frame.write_ipc(out, compression="zstd")
    return len(out.getvalue())


def dask_scan(data: str, workers: int) -> dict[str, Any]:
    import distributed

    settings = Settings()
    sigs = load_signatures()
    job = Job(settings)
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        client.run(lambda: __import__("analyzer.scale.partial"))  # workers import logscan before the clock
        t0 = time.perf_counter()
        diag = Diagnostics()
        shards = plan_shards(resolve([data], diag), shard_bytes=SHARD_BYTES, job=job)
        partials, fetch = dask_engine.run(job, shards, client)
        t_gathered = time.perf_counter()
        moved: dict[str, int] = {"traces": 0, "trails": 0, "strings": 0, "asks": 0}
        per_traces: dict[int, int] = {}

        def counted(index: int, wanted: Any) -> pl.DataFrame:
            got = fetch(index, wanted)
            kind = "traces" if isinstance(wanted, TraceAsk) else "strings" if "token" in wanted.columns else "trails"
            size = _ipc_size(got)  # what pick_packed sent
            moved[kind] += size
            moved["asks"] += len(pickle.dumps(wanted, protocol=5))
            if kind == "traces":
                per_traces[index] = size
            return got

        analysis, tally = finish(merge_all(partials), sigs, settings, diag, counted)
        report = build_report(summary_dict(diag, tally, ignored=0), analysis.incidents(), analysis.traces)
        text = json_report.render(Redactor().data(report))  # as scan prints it
        wall = time.perf_counter() - t0
        worker_rss = client.run(_rss_mib)
    round1 = {p.segments[0].index: len(pickle.dumps(p, protocol=5)) for p in partials}
    shard_rows = []
    for p in partials:
        seg = p.segments[0]
        shard = next(s for s in shards if s.index == seg.index)
        shard_rows.append({
            "shard": Path(shard.inputs[0].path).name + (f" [{shard.span[0] / MB:.0f}-{shard.span[1] / MB:.0f} MB]"
                                                         if shard.span else ""),
            "read": seg.diag.bytes_read, "seconds": seg.seconds,
            "round1": round1[seg.index], "traces": per_traces.get(seg.index, 0),
        })
    return {
        "wall": wall, "gathered_at": t_gathered - t0, "worker_rss": sorted(worker_rss.values()),
        "driver_rss": _rss_mib(), "round1": sum(round1.values()), "moved": moved,
        "down": sum(len(pickle.dumps((job, s), protocol=5)) for s in shards) + moved["asks"],
        "shards": shard_rows, "bytes_read": diag.bytes_read, "files": len({s.inputs[0].path for s in shards}),
        "report": _report_json(text),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", help="a folder of generated logs")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--markdown", type=Path, help="append the results to this file")
    args = ap.parse_args()

    # the children first: a child's ru_maxrss starts at its parent's RSS when it forked (Linux keeps it over exec)
    local_wall, local_rss, local_report = _child(["scan", args.data, "--format", "json", "-q"])
    cli_wall, cli_rss, cli_report = _child(["scan", args.data, "--format", "json", "-q", "--engine", "dask",
                                            "--workers", str(args.workers)])
    load_before = os.getloadavg()
    d = dask_scan(args.data, args.workers)
    read = d["bytes_read"]
    up = d["round1"] + d["moved"]["traces"] + d["moved"]["trails"] + d["moved"]["strings"]
    lines = [
        f"## scan --engine dask vs local, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"- command: `python benchmarks/scale.py {args.data} --workers {args.workers}`; data: "
        f"{read / MB:.1f} MB in {d['files']} files, {len(d['shards'])} shards (benchmarks/generate.py, seed 1); "
        "CPU shared with other jobs: **noisy figures, one run each**; load average (1, 5, 15 min) "
        f"{' '.join(f'{x:.1f}' for x in load_before)} before the instrumented run, "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} after",
        f"- reports identical (JSON minus generated_at): instrumented dask = local: **{d['report'] == local_report}**; "
        f"`--engine dask` command = local: **{cli_report == local_report}**",
        "",
        "| run | wall s | peak RSS MiB |",
        "|---|--:|--:|",
        f"| `logscan scan DIR --format json -q` (local, one process) | {local_wall:.1f} | {local_rss:.0f} |",
        f"| `... --engine dask --workers {args.workers}` (the command, cluster start included; RSS: the driver "
        f"process, scheduler included) | {cli_wall:.1f} | {cli_rss:.0f} |",
        f"| instrumented, standing cluster: driver (scheduler in-process) | {d['wall']:.1f} (partials in at "
        f"{d['gathered_at']:.1f}) | {d['driver_rss']:.0f} |",
        f"| instrumented: each worker | | {', '.join(f'{r:.0f}' for r in d['worker_rss'])} |",
        "",
        f"Bytes moved, workers -> driver: **{up / MB:.2f} MB = {100 * up / read:.2f}% of the input** "
        f"(round 1 partials {d['round1'] / MB:.2f} MB, round 2 trace rows {d['moved']['traces'] / MB:.2f} MB, "
        f"trails {d['moved']['trails'] / 1e3:.1f} kB, example strings {d['moved']['strings'] / 1e3:.1f} kB); "
        f"driver -> workers: {d['down'] / 1e3:.1f} kB (tasks, trace asks, fetches).",
        "",
        "| shard | read MB | s on its worker | MB/s | round 1 kB | round 2 (trace rows) kB | partial, % of read |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for r in d["shards"]:
        lines.append(
            f"| {r['shard']} | {r['read'] / MB:.1f} | {r['seconds']:.1f} | {r['read'] / MB / r['seconds']:.1f} | "
            f"{r['round1'] / 1e3:.0f} | {r['traces'] / 1e3:.0f} | {100 * (r['round1'] + r['traces']) / r['read']:.2f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        with args.markdown.open("a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
