"""Start-up time of the `logscan` command line: best-of-N wall time of commands that do (almost) no work,
against `python -c pass` (the interpreter's own floor), in the same run.

    python benchmarks/startup.py                 # best of 15, every command below
    python benchmarks/startup.py --repeat 30 --phases --importtime
    python benchmarks/startup.py --compare /tmp/main   # and the same commands from another tree, interleaved

Each command runs as the installed `logscan` script would (`python -m analyzer`, the same entry point) in
a fresh process; the figure is the best of N, since on a shared machine only the noise varies. Issue 12's
target is 0.15 s for `--version` and for `scan` of an empty input (a file, with `-f json`, or stdin). Reference lines time typer; typer with
the pydantic it coerces options with (logscan converts plainly valid values without it:
analyzer.commands.coercion); a bare typer command; rich; Polars, each alone. `--phases` times, in one process, the phases of a scan of an empty file (each phase's
best over N processes). `--importtime` also prints the ten slowest top-level imports (cumulative, `python -X
importtime`) of one run of each logscan command.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 0.15
#: The commands issue 12's target is for: `--version`, and a scan of an empty input in each form.
TARGETED = ("logscan --version", "logscan scan empty.log", "logscan scan empty.log -f json", "logscan scan - < /dev/null")


#: A typer app whose one command has scan's kinds of parameters (20 options: text, numbers, choices; 5 flags)
#: and does nothing: the floor of any typer command run, coercion of every option included.
_TYPER_FLOOR = """
import inspect
from enum import Enum
from typing import Annotated
import typer
Choice = Enum("Choice", {"a": "a", "b": "b"}, type=str)
def command(**options):
    pass
command.__signature__ = inspect.Signature(
    [inspect.Parameter(f"o{i}", inspect.Parameter.KEYWORD_ONLY, default=None,
                       annotation=Annotated[(str, int, Choice)[i % 3] | None, typer.Option()]) for i in range(20)]
    + [inspect.Parameter(f"f{i}", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=bool) for i in range(5)])
app = typer.Typer()
app.callback()(lambda: None)
app.command("scan")(command)
app(["scan"])
"""

#: References, each alone: typer, typer with the pydantic it builds every non-flag option's coercion with
#: (typer 0.29; logscan's commands avoid it for plainly valid values), a do-nothing typer command, rich's
#: console, Polars.
REFERENCES = {
    "import typer": "import typer",
    "import typer + pydantic": "import typer._adapters",
    "typer command of 20 options + 5 flags, doing nothing": _TYPER_FLOOR,
    "import rich.console": "import rich.console",
    "import polars": "import polars",
}


def commands(empty: str) -> dict[str, list[str]]:
    """Name -> argv: the interpreter floor, the reference imports, then logscan's commands."""
    cli = [sys.executable, "-m", "analyzer"]
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        **{name: [sys.executable, "-c", code] for name, code in REFERENCES.items()},
        "logscan --version": [*cli, "--version"],
        "logscan scan empty.log": [*cli, "scan", empty],
        "logscan scan empty.log -f json": [*cli, "scan", empty, "-f", "json"],
        "logscan scan - < /dev/null": [*cli, "scan", "-"],
        "logscan --help": [*cli, "--help"],
    }


#: One process, timing where a scan of an empty file spends its time, phase by phase (run with the empty
#: file as argv[1]; prints one `phase seconds` line each).
_PHASES = """
import contextlib, io, sys, time
marks = [("start", time.perf_counter())]
def mark(name):
    marks.append((name, time.perf_counter()))
import analyzer.cli
mark("the logscan group (typer)")
import analyzer.commands.app
mark("scan's modules (rich, config, sources, report model; no stage, no Polars)")
from analyzer.config import for_run
from analyzer.run import Run
Run.build(for_run(None, {}))
mark("config + signature catalogue (Run.build)")
with contextlib.redirect_stdout(io.StringIO()):
    try:
        analyzer.cli.app(["scan", sys.argv[1]])
    except SystemExit:
        pass
mark("scan of the empty file, all imported (Run.build again)")
for (_, before), (name, after) in zip(marks, marks[1:]):
    print(f"{name}\t{after - before:.4f}")
"""


def phases(empty: str, repeat: int, cwd: str) -> dict[str, float]:
    """The best time of each phase of `_PHASES` over `repeat` fresh processes."""
    best: dict[str, float] = {}
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", _PHASES, empty], capture_output=True, text=True, cwd=cwd,
                             check=True).stdout
        for line in out.splitlines():
            name, seconds = line.rsplit("\t", 1)
            best[name] = min(best.get(name, float("inf")), float(seconds))
    return best


def best_of(argv: list[str], repeat: int, cwd: str, trees: list[str | None]) -> list[float]:
    """The shortest wall time of `repeat` runs of `argv` in `cwd` with each of `trees` first on the import path
    (None: the installed logscan), runs interleaved (stdout and stderr discarded, stdin empty)."""
    best = [float("inf")] * len(trees)
    for _ in range(repeat):
        for i, tree in enumerate(trees):
            env = {**os.environ, "PYTHONPATH": tree} if tree else None
            start = time.perf_counter()
            subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           cwd=cwd, env=env, check=False)
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def slowest_imports(argv: list[str], cwd: str, top: int = 10) -> list[tuple[int, str]]:
    """The `top` slowest top-level imports (cumulative microseconds) of one run of `argv`."""
    run = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, cwd=cwd, check=False)
    rows = []
    for line in run.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|", 2)
        if cumulative.strip().isdigit() and not name[1:].startswith(" "):  # top level: no indentation
            rows.append((int(cumulative.strip()), name.strip()))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs per command (best one counts)")
    parser.add_argument("--importtime", action="store_true", help="also list the slowest imports of each command")
    parser.add_argument("--phases", action="store_true", help="also time the phases of a scan of an empty file")
    parser.add_argument("--compare", metavar="TREE", help="also time logscan's commands from this source tree (e.g. "
                        "`git archive main | tar -x -C /tmp/main`), interleaved with the installed one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        empty = str(Path(tmp, "empty.log"))
        Path(empty).touch()
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, best of {args.repeat}")
        trees: list[str | None] = [None, str(Path(args.compare).resolve())] if args.compare else [None]
        results = {name: best_of(argv, args.repeat, tmp, trees if name.startswith("logscan") else [None])
                   for name, argv in commands(empty).items()}
        floor = results["python -c pass"][0]
        print(f"| command | best wall time | minus the floor | target |{' from --compare |' if args.compare else ''}")
        print(f"|---|--:|--:|---|{'--:|' if args.compare else ''}")
        for name, (seconds, *other) in results.items():
            target = ("≤ 0.15 s: " + ("met" if seconds <= TARGET_SECONDS else "**missed**")
                      if name in TARGETED else "")
            compared = f" {other[0]:.3f} s |" if other else (" |" if args.compare else "")
            print(f"| `{name}` | {seconds:.3f} s | {seconds - floor:.3f} s | {target} |{compared}")
        if args.phases:
            print("\n| phase of `scan empty.log` (in one process) | best |\n|---|--:|")
            for name, seconds in phases(empty, args.repeat, tmp).items():
                print(f"| {name} | {seconds:.3f} s |")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.importtime:
            for name, argv in commands(empty).items():
                if name == "python -c pass":
                    continue
                print(f"\n{name}: slowest top-level imports (ms, cumulative)")
                for micros, module in slowest_imports(argv, tmp):
                    print(f"  {micros / 1000:7.1f}  {module}")


if __name__ == "__main__":
    main()
