"""Two logscan versions interleaved on the same files: best wall time and best CPU time (user + system of the
child, which other processes' load barely moves) per command. For a machine too busy for `run.py`'s wall
times to compare two runs made minutes apart.

    git archive <before> | tar -x -C /tmp/base; git archive <after> | tar -x -C /tmp/after
    python benchmarks/ab.py /tmp/base /tmp/after --data /tmp/bench --rounds 9 compose.log loguru.log app.json

Each version runs from its own folder with PYTHONPATH set to it, by this interpreter (or --python);
`scan` runs on compose.log when it is among the files.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--data", type=Path, default=Path(__file__).parent / "data")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args()
    python = os.path.abspath(args.python) if os.sep in args.python else args.python  # the commands run elsewhere
    commands = {f: ["events", str(args.data / f), "--format", "count"] for f in args.files}
    if "compose.log" in args.files:
        commands["scan compose.log"] = ["scan", str(args.data / "compose.log"), "--format", "json", "-o", "/dev/null"]
    wall: dict[tuple[str, str], float] = {}
    cpu: dict[tuple[str, str], float] = {}
    for _ in range(args.rounds):
        for version, root in (("before", args.before), ("after", args.after)):
            for name, cmd in commands.items():
                r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                subprocess.run([python, "-m", "analyzer.commands.app", *cmd], cwd=root, check=True,
                               env={**os.environ, "PYTHONPATH": str(root)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                dt = time.perf_counter() - t0
                r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                used = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
                wall[(version, name)] = min(wall.get((version, name), 1e9), dt)
                cpu[(version, name)] = min(cpu.get((version, name), 1e9), used)
    print("| file | wall before | wall after | CPU before | CPU after | CPU throughput change |")
    print("|---|--:|--:|--:|--:|--:|")
    for name in commands:
        mb = (args.data / name.removeprefix("scan ")).stat().st_size / 1e6
        wb, wa, cb, ca = wall[("before", name)], wall[("after", name)], cpu[("before", name)], cpu[("after", name)]
        print(f"| {name} | {wb:.3f} s ({mb / wb:.1f} MB/s) | {wa:.3f} s ({mb / wa:.1f} MB/s) | {cb:.2f} s | {ca:.2f} s "
              f"| {100 * (cb / ca - 1):+.1f}% |")


if __name__ == "__main__":
    main()
