"""Benchmark runner: grep, the naive Python loop and logscan side by side on each data file.

For every file in the data folder (made by generate.py) it runs, in the same
invocation and on the same warm page cache:

- ``grep``:   ``grep -c PATTERN FILE`` (default pattern ``''``: counts lines, the
              floor cost of reading and splitting lines),
- ``naive``:  ``python benchmarks/naive.py FILE`` (one compiled regex per format),
- ``events``: ``logscan events FILE --format count`` (full normalization),
- ``scan``:   ``logscan scan FILE --format json -o /dev/null`` (end to end),
- ``exhaustive``: the same with ``--exhaustive`` (every record normalized: the path before issue 12),
- ``floor``:  ``python benchmarks/floor.py`` (a bare Polars read plus one regex pass of
              the signature keyword alternation: the least a Polars tool pays),
- ``lnav``:   ``lnav -n -c ';SELECT count(*) FROM all_logs WHERE log_body REGEXP ...'``
              with five signatures' keywords, lnav given a HOME of its own (when installed).

``--mix`` adds one more input, several files read by one command each (default: Loguru
text, PostgreSQL stderr and compose output, issue 12's mix).

Each command runs ``--repeat`` times; the best wall time is kept, and the peak
RSS is the largest ``ru_maxrss`` of the process itself, read with ``os.wait4``
on that child (not RUSAGE_CHILDREN, which accumulates across runs). Linux
charges a child with its parent's memory until ``exec``, so a value at the
runner's own high-water mark (about 15 MiB) is shown as ``≤N``: the tool
used at most that much. Results go
to stdout as a Markdown table (optionally appended to ``--markdown``) and to
``--json``; the exact commands are printed so any row can be reproduced.

    python benchmarks/run.py [--tools grep floor naive events scan lnav] [--repeat 3] [--logscan-cmd CMD]
                             [--files compose.log ...] [--mix loguru.log postgres.log compose.log]
                             [--markdown benchmarks/RESULTS.md] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
FILES = ["uvicorn.log", "gunicorn.log", "loguru.log", "loguru.jsonl", "python.log", "postgres.log", "postgres.csv",
         "postgres.json", "app.json", "docker-json.log", "compose.log"]
MIX = ["loguru.log", "postgres.log", "compose.log"]
TOOLS = ["grep", "floor", "naive", "events", "scan", "exhaustive", "lnav"]
#: Issue 12's targets for scan: its throughput against the floor's, the naive loop's and lnav's on the same input.
TARGET_FLOOR = 0.5
TARGET_NAIVE = {"loguru.log": 1.5, "postgres.log": 2.0, "compose.log": 2.0, "mix": 2.0}
TARGET_LNAV = 3.0
#: lnav's query: five built-in signatures' keywords (deadlock, missing_greenlet, statement_timeout,
#: pool_exhausted, too_many_connections), as one alternation.
LNAV_REGEX = ("deadlock detected|greenlet_spawn has not been called|canceling statement due to statement timeout"
              "|QueuePool limit of size|sorry, too many clients already")
TARGET_RATIO = 2.0  # logscan events / scan throughput vs the naive loop
TARGET_RSS_MIB = 1024  # peak RSS on a >= 2 GB input
BIG_INPUT = 2 * 10**9


@dataclass
class Row:
    file: str
    bytes: int
    lines: int
    tool: str
    command: str
    times_s: list[float]
    best_s: float | None
    mb_per_s: float | None
    lines_per_s: float | None
    peak_rss_mib: float
    rss_floor_mib: float  # the runner's own high-water mark: a peak at or under it means "at most this"
    vs_naive: float | None
    exit_code: int
    output: str


def count_lines(path: Path) -> int:
    """Newline count (plus an unterminated last line); also warms the page cache."""
    n, last = 0, b"\n"
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):  # small reads keep the runner's RSS, the children's floor, low
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (last != b"\n")


def own_hwm_mib() -> float:
    """The runner's own peak RSS, which Linux also charges to each child it spawns."""
    m = re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text())
    return int(m[1]) / 1024 if m else 0.0


def run_once(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int, str, str]:
    """Wall seconds, peak RSS in MiB of that process, exit code, stdout, stderr."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=ROOT,
                                env={**os.environ, **env} if env else None)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = [f.read(1 << 20).decode(errors="replace") for f in (out, err)]  # bounded: keeps the runner small
        return wall, usage.ru_maxrss / 1024, proc.returncode, text[0], text[1]


def measure(label: str, size: int, lines: int, tool: str, cmd: list[str], repeat: int, ok_codes: set[int],
            env: dict[str, str] | None = None) -> Row:
    times: list[float] = []
    rss, code, output, floor = 0.0, 0, "", own_hwm_mib()
    for _ in range(repeat):
        wall, peak, code, out, err = run_once(cmd, env)
        rss = max(rss, peak)
        output = " ".join(out.split())
        if code not in ok_codes:
            last = [line for line in (err or out).splitlines() if re.search(r"\w", line)][-1:]  # skip rich's box borders
            output = f"FAILED (exit {code}): {' '.join(last)[:300]}"
            break
        times.append(wall)
    best = min(times) if code in ok_codes else None
    return Row(label, size, lines, tool, shlex.join(cmd), [round(t, 4) for t in times], best,
               size / 1e6 / best if best else None, lines / best if best else None, round(rss, 1), round(floor, 1), None,
               code, output)


def default_logscan() -> list[str]:
    return ["logscan"] if shutil.which("logscan") else [sys.executable, "-m", "analyzer"]


def commands(tool: str, paths: list[str], logscan: list[str], grep_pattern: str, pattern_file: str = "KEYWORDS") -> list[str]:
    return {
        "grep": ["grep", "-c", grep_pattern, *paths],
        "floor": [sys.executable, "benchmarks/floor.py", "--pattern-file", pattern_file, *paths],
        "naive": [sys.executable, "benchmarks/naive.py", *paths],
        "events": [*logscan, "events", *paths, "--format", "count"],
        "scan": [*logscan, "scan", *paths, "--format", "json", "-o", "/dev/null"],
        "exhaustive": [*logscan, "scan", *paths, "--format", "json", "-o", "/dev/null", "--exhaustive"],
        "lnav": ["lnav", "-n", "-c", f";SELECT count(*) FROM all_logs WHERE log_body REGEXP '{LNAV_REGEX}'", *paths],
    }[tool]


def keyword_pattern(path: Path) -> bool:
    """Write the built-in signatures' keyword alternation (what the floor matches) to `path`; False if logscan's
    package cannot be imported by this Python."""
    code = ("from analyzer.analysis.signatures import load_signatures, rust_escape\n"
            "print('|'.join(rust_escape(k) for k in load_signatures().keywords), end='')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode:
        return False
    path.write_text(done.stdout)
    return True


def machine() -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
    grep = subprocess.run(["grep", "--version"], capture_output=True, text=True, check=False).stdout.splitlines()[0]
    return {"os": platform.platform(), "cpu": cpu, "cores": str(os.cpu_count()),
            "memory": f"{int(mem[1]) / 2**20:.1f} GiB" if mem else "?", "python": platform.python_version(), "grep": grep}


def fmt(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def rss(r: Row) -> str:
    return f"≤{r.rss_floor_mib:.0f}" if r.peak_rss_mib <= r.rss_floor_mib + 1 else f"{r.peak_rss_mib:.0f}"


def markdown(rows: list[Row], meta: dict[str, object]) -> str:
    m = meta["machine"]
    assert isinstance(m, dict)
    out = [f"## logscan benchmarks, {meta['date']}", "",
           f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory']}; {m['os']}; Python {m['python']}; {m['grep']}",
           f"- command: `{meta['argv']}` (from the repo root)",
           (f"- best of {meta['repeat']} runs; MB = 10^6 bytes; peak RSS = the process's own `ru_maxrss` "
            "(≤N: at most the runner's own N MiB, which Linux charges to a child until exec); "
            "× naive = MB/s relative to the naive loop on the same file"), "",
           "| file | MB | lines | tool | best s | MB/s | lines/s | peak RSS MiB | × naive | output |",
           "|---|--:|--:|---|--:|--:|--:|--:|--:|---|"]
    for r in rows:
        out.append(f"| {r.file} | {r.bytes / 1e6:.1f} | {r.lines:,} | {r.tool} | {fmt(r.best_s, '.3f')} | "
                   f"{fmt(r.mb_per_s, '.1f')} | {fmt(r.lines_per_s, ',.0f')} | {rss(r)} | "
                   f"{fmt(r.vs_naive, '.2f')} | {r.output[:70].replace('|', '/')} |")
    out += ["", "Commands (FILE = the data file, run from the repo root):", ""]
    templates = meta["commands"]
    assert isinstance(templates, dict)
    out += [f"- {tool}: `{cmd}`" for tool, cmd in templates.items()]
    checks = targets(rows)
    if checks:
        out += ["", "Targets:", ""] + [f"- {c}" for c in checks]
    return "\n".join(out) + "\n"


def targets(rows: list[Row]) -> list[str]:
    """The README's targets (and issue 12's, for scan) that this run can judge."""
    out = []
    by = {(r.file, r.tool): r for r in rows}
    for r in rows:
        if r.tool != "scan" or not r.mb_per_s:
            continue
        floor, naive, lnav = by.get((r.file, "floor")), by.get((r.file, "naive")), by.get((r.file, "lnav"))
        if floor and floor.mb_per_s:
            ratio = r.mb_per_s / floor.mb_per_s
            out.append(f"{'PASS' if ratio >= TARGET_FLOOR else 'FAIL'} scan on {r.file}: {ratio:.0%} of the floor's "
                       f"throughput (target ≥ {TARGET_FLOOR:.0%})")
        if naive and naive.mb_per_s and r.file in TARGET_NAIVE:
            ratio = r.mb_per_s / naive.mb_per_s
            out.append(f"{'PASS' if ratio >= TARGET_NAIVE[r.file] else 'FAIL'} scan on {r.file}: {ratio:.2f}× naive "
                       f"(issue 12 target ≥ {TARGET_NAIVE[r.file]:g}×)")
        if lnav and lnav.mb_per_s:
            ratio = r.mb_per_s / lnav.mb_per_s
            out.append(f"{'PASS' if ratio >= TARGET_LNAV else 'FAIL'} scan on {r.file}: {ratio:.2f}× lnav "
                       f"(target ≥ {TARGET_LNAV:g}×; lnav output: {lnav.output[:40]})")
    for r in rows:
        if r.tool not in ("events", "scan"):
            continue
        if r.vs_naive is not None and r.tool == "events":
            verdict = "PASS" if r.vs_naive >= TARGET_RATIO else "FAIL"
            out.append(f"{verdict} {r.tool} on {r.file}: {r.vs_naive:.2f}× naive (target ≥ {TARGET_RATIO:g}×)")
        if r.bytes >= BIG_INPUT and r.best_s is not None:
            verdict = "PASS" if r.peak_rss_mib < TARGET_RSS_MIB else "FAIL"
            out.append(f"{verdict} {r.tool} on {r.file} ({r.bytes / 1e9:.1f} GB): peak RSS {rss(r)} MiB "
                       f"(target < {TARGET_RSS_MIB} MiB)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA, help="folder of generated files (default: benchmarks/data)")
    ap.add_argument("--files", nargs="+", metavar="FILE", help="file names in --data, or paths (default: every known file present)")
    ap.add_argument("--tools", nargs="+", choices=TOOLS, default=TOOLS, help="default: all (lnav when installed)")
    ap.add_argument("--mix", nargs="*", metavar="FILE", default=MIX,
                    help=f"files read together as one more input, `mix` (default: {' '.join(MIX)}, those present; none: no mix)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per command; the best time is kept (default: 3)")
    ap.add_argument("--logscan-cmd", help="how to invoke logscan (default: `logscan` on PATH, else `python -m analyzer.commands.app`)")
    ap.add_argument("--grep-pattern", default="", help="pattern for grep -c (default: '' = count every line)")
    ap.add_argument("--markdown", type=Path, help="also append the Markdown report to this file")
    ap.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = ap.parse_args()

    logscan = shlex.split(args.logscan_cmd) if args.logscan_cmd else default_logscan()
    paths = [Path(f) if Path(f).is_file() else args.data / f for f in args.files] if args.files else \
        [args.data / f for f in FILES if (args.data / f).is_file()]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing or not paths:
        sys.exit(f"run.py: no such data file: {', '.join(missing) or args.data}; run benchmarks/generate.py first")

    inputs = [(path.name, [path]) for path in paths]
    mixed = [args.data / f if not Path(f).is_file() else Path(f) for f in args.mix or []]
    mixed = [p for p in mixed if p.is_file()]
    if len(mixed) > 1:
        inputs.append(("mix", mixed))
    tools = [t for t in args.tools if t != "lnav" or shutil.which("lnav")]
    workdir = Path(tempfile.mkdtemp(prefix="logscan-bench-"))
    pattern_file = workdir / "keywords.txt"
    if "floor" in tools and not keyword_pattern(pattern_file):
        print("run.py: logscan's package is not importable here: no floor", file=sys.stderr)
        tools.remove("floor")
    lnav_env = {"HOME": str(workdir / "lnav-home")}  # lnav's own config and state, not the user's
    (workdir / "lnav-home").mkdir()

    rows: list[Row] = []
    for label, group in inputs:
        shown = [os.path.relpath(p.resolve(), ROOT) if p.resolve().is_relative_to(ROOT) else str(p.resolve()) for p in group]
        size, lines = sum(p.stat().st_size for p in group), sum(count_lines(p) for p in group)
        file_rows: list[Row] = []
        for tool in tools:
            ok = {0, 1} if tool == "grep" else {0}  # grep exits 1 when nothing matched
            row = measure(label, size, lines, tool, commands(tool, shown, logscan, args.grep_pattern, str(pattern_file)),
                          args.repeat, ok, lnav_env if tool == "lnav" else None)
            file_rows.append(row)
            print(f"{label:<16} {tool:<7} {fmt(row.best_s, '8.3f')} s {fmt(row.mb_per_s, '8.1f')} MB/s "
                  f"{rss(row):>7} MiB  {row.output[:60]}", file=sys.stderr, flush=True)
        naive = next((r.mb_per_s for r in file_rows if r.tool == "naive"), None)
        for row in file_rows:
            row.vs_naive = round(row.mb_per_s / naive, 2) if naive and row.mb_per_s else None
        rows += file_rows

    meta: dict[str, object] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
        "argv": shlex.join(["python", "benchmarks/run.py", *sys.argv[1:]]), "repeat": args.repeat,
        "commands": {t: shlex.join(commands(t, ["FILE"], logscan, args.grep_pattern)) for t in tools},
        "mix": [p.name for p in mixed] if len(mixed) > 1 else [],
    }
    report = markdown(rows, meta)
    print(report)
    if args.markdown:
        with args.markdown.open("a") as f:
            f.write(report + "\n")
    if args.json:
        args.json.write_text(json.dumps({**meta, "targets": targets(rows), "results": [asdict(r) for r in rows]}, indent=2) + "\n")


if __name__ == "__main__":
    main()
