"""What `[[ignore]]` rules cost a `scan`: the real command with 0, 1,000, 5,000 and 20,000 rules, and where
the time goes (reading the TOML, validating it, compiling the rules, applying them to the incidents).

    python benchmarks/ignore_rules.py [--input samples/compose/compose.log] [--repeat 7]

Prints a Markdown section for RESULTS.md. Half the rules name a fingerprint for any service, half a
signature on one service; none matches, so every incident is looked up against all of them.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analyzer.analysis.ignores import Ignores, apply_ignores  # noqa: E402
from analyzer.config import _ignore, effective, load_config  # noqa: E402
from analyzer.analysis.engine import Analysis  # noqa: E402
from analyzer.analysis.signatures import load_signatures  # noqa: E402
from analyzer.diagnostics import Diagnostics  # noqa: E402
from analyzer.ingest.pipeline import Pipeline  # noqa: E402
from analyzer.ingest.sources import resolve  # noqa: E402


def rules_toml(n: int) -> str:
    half = n // 2
    fingerprints = (f'[[ignore]]\nfingerprint = "{i:016x}"\nreason = "r {i}"\n' for i in range(half))
    signatures = (f'[[ignore]]\nsignature = "sig_{i}"\nservice = "svc_{i % 7}"\nreason = "r {i}"\n'
                  for i in range(n - half))
    return "".join(fingerprints) + "".join(signatures)


def seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default="samples/compose/compose.log")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    diag = Diagnostics()
    analysis = Analysis(load_signatures())
    for batch in Pipeline(diag).run(resolve([str(ROOT / args.input)], diag)):
        analysis.add(batch)
    incidents = analysis.incidents()
    counts = (0, 1_000, 5_000, 20_000)
    walls: dict[int, list[float]] = {n: [] for n in counts}
    parts: dict[int, tuple[float, float, float, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        configs = {n: Path(folder) / f"rules-{n}.toml" for n in counts}
        for n, config in configs.items():
            text = rules_toml(n)
            config.write_text(text)
            t0 = time.perf_counter()
            data = tomllib.loads(text)
            t1 = time.perf_counter()
            _ignore(config, "", data.get("ignore", []))
            t2 = time.perf_counter()
            ignores = Ignores.of(effective(load_config(config)).active_rules())
            t3 = time.perf_counter()
            apply_ignores(incidents, ignores)
            parts[n] = (t1 - t0, t2 - t1, t3 - t2, time.perf_counter() - t3)
        for _ in range(args.repeat):  # round-robin, so that the machine's load falls on every count alike
            for n, config in configs.items():
                walls[n].append(seconds([sys.executable, "-m", "analyzer", "scan", args.input, "--format", "json",
                                         "--config", str(config)]))
    rows = [(n, statistics.median(walls[n]), *parts[n]) for n in counts]
    base = rows[0][1]
    print(f"## `[[ignore]]` rules, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n")
    print(f"`python benchmarks/ignore_rules.py` on `{args.input}` ({incidents.height} incidents), median of "
          f"{args.repeat} `scan` runs; the parts measured in-process once.\n")
    print("| rules | scan wall | over 0 rules | TOML parse | validate | load+compile | apply |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n, wall, parse, validate, compile_, apply in rows:
        print(f"| {n:,} | {wall:.2f} s | {wall - base:+.2f} s | {parse:.3f} s | {validate:.3f} s | "
              f"{compile_:.3f} s | {apply * 1000:.1f} ms |")


if __name__ == "__main__":
    main()
