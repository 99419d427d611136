"""Where a screened scan spends its time: each stage timed in process, one batch at a time, on one thread.

`scan` overlaps its stages on threads (analyzer.ingest.overlap), so its wall time says
which stage is the slowest, not what each costs. This script runs the same stage
functions one after the other on the caller's thread and adds up, per file:

- framing (`Framer.feed`: decode, envelopes, format detection, multi-line records),
- the screen and the parse (`Pipeline._parse`: `Screen.keep`, the kept records' full
  parse, the dropped records' light parse),
- finishing (`Pipeline._finish`: time inference, the tally, the lookback and its revivals),
- the analysis (`Analysis.add`), then the incidents (`Analysis.incidents`),

and, with ``--polars-lines N``, the N source lines of analyzer/ whose Polars calls took
the most time (every eager Polars call ends in one query; its time is charged to the
innermost analyzer/ line that made it). Start-up (imports, signatures) is timed apart.

    python benchmarks/stages.py FILE [FILE ...] [--exhaustive] [--polars-lines 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

started = time.perf_counter()
from polars.lazyframe import engine as polars_engine  # noqa: E402

from analyzer.commands.steps import effective, resolve_inputs  # noqa: E402
from analyzer.run import Run  # noqa: E402


class Charges:
    """Seconds per Polars query, charged to the analyzer/ source line that ran it."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.calls: defaultdict[str, int] = defaultdict(int)

    def install(self) -> None:
        collect = polars_engine._LocalEngine.collect
        charges = self

        def charged(engine: Any, *args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return collect(engine, *args, **kwargs)
            finally:
                frame = sys._getframe(1)
                while frame is not None and "/analyzer/" not in frame.f_code.co_filename:
                    frame = frame.f_back
                where = (f"{frame.f_code.co_filename.split('/analyzer/', 1)[1]}:{frame.f_lineno}"
                         if frame is not None else "(outside analyzer/)")
                charges.seconds[where] += time.perf_counter() - t
                charges.calls[where] += 1

        polars_engine._LocalEngine.collect = charged  # type: ignore[method-assign]


def stage(times: dict[str, float], name: str, fn: Callable[..., Any], *args: Any) -> Any:
    t = time.perf_counter()
    out = fn(*args)
    times[name] = times.get(name, 0.0) + time.perf_counter() - t
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--exhaustive", action="store_true", help="no screen: every record normalized")
    ap.add_argument("--polars-lines", type=int, default=0, metavar="N")
    args = ap.parse_args()
    charges = Charges()
    if args.polars_lines:
        charges.install()
    run = Run.build(effective(None, {}))
    print(f"start-up (imports, signatures): {time.perf_counter() - started:.3f} s")
    for path in args.files:
        pipeline, analysis = run.pipeline(screened=not args.exhaustive), run.analysis()
        times: dict[str, float] = {}
        t0 = time.perf_counter()
        for inp in resolve_inputs([path], run.diag):
            framer = pipeline.framer(inp)
            for chunk in pipeline.read(inp):
                records = stage(times, "framing", framer.feed, chunk)
                parsed = stage(times, "screen + parse", pipeline._parse, records)
                events = stage(times, "finish (times, tally, lookback)", pipeline._finish, framer, parsed, chunk.times)
                stage(times, "analysis", analysis.add, events)
            stage(times, "analysis", analysis.add, stage(times, "flush", pipeline.flush, inp))
        incidents = stage(times, "incidents", analysis.incidents)
        total = time.perf_counter() - t0
        mb = Path(path).stat().st_size / 1e6
        print(f"\n{path}: {mb:.1f} MB, {pipeline.tally.records:,} records, {incidents.height} incidents, "
              f"{total:.3f} s on one thread ({mb / total:.1f} MB/s)")
        for name, seconds in times.items():
            print(f"  {name:34s} {seconds:7.3f} s  {seconds / total:6.1%}")
    if args.polars_lines:
        print(f"\nPolars queries by analyzer/ line (all files), top {args.polars_lines}:")
        for where, seconds in sorted(charges.seconds.items(), key=lambda kv: -kv[1])[: args.polars_lines]:
            print(f"  {seconds:7.3f} s {charges.calls[where]:6d} calls  {where}")


if __name__ == "__main__":
    main()
