"""Template mining: logscan's miner (analyzer.miner) against Drain3, grouping accuracy and speed.

Grouping accuracy (GA) on Loghub-2k: a message is correct when the set of messages given its
template is exactly the set of messages with its true EventId; GA = correct / 2,000 per dataset.
Speed: lines/s of both miners on the same lines, in the same run, best of ``--repeat`` (wall
time, and the process's CPU time, which counts every thread: logscan's core and Drain3 run on one,
the few Polars calls around the core may use more; on a shared machine the CPU figure is the
steadier one):

- each dataset's 2,000 lines on their own (a fresh miner each), and the 16,000 Loghub lines (the
  8 datasets in a row, one miner);
- two large sets of ``--big`` lines: the Loghub lines repeated as they are ("copies"), and
  repeated with the digits of each copy replaced by seeded random ones ("varied numbers"; Drain3
  keeps creating clusters on these and slows down as it goes).

Drain3 runs with its defaults (``TemplateMiner()``, ``add_log_message`` per line); logscan's
miner gets the same lines as one Polars Series, in one batch or in ``--batch`` sized batches.
Each timed run builds a new miner and returns an id for every line (logscan: ``template_id`` as
``add`` returns it, final for its batch; Drain3: ``cluster_id``), so it covers tokenizing,
masking, mining and the per-line lookup. Both get one untimed warm-up on 1,000 of the lines.

    python benchmarks/templates.py --loghub /work/shared/data/loghub-2k [--big 1000000] [--repeat 3]
                                   [--batch 100000] [--no-drain-big] [--big-repeat N] [--sweep] [--online] [--cli]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from analyzer.miner import TemplateMiner  # noqa: E402

DATASETS = ["Apache", "BGL", "HDFS", "HealthApp", "Linux", "OpenSSH", "Spark", "Zookeeper"]
TUNE, CHECK = DATASETS[:4], DATASETS[4:]


def grouping_accuracy(predicted: pl.Series, truth: pl.Series) -> float:
    """Fraction of messages whose predicted group is exactly the set with their true EventId."""
    df = pl.DataFrame({"p": predicted.cast(pl.String), "t": truth.cast(pl.String)})
    ok = df.select(
        ((pl.col("t").n_unique().over("p") == 1) & (pl.col("p").n_unique().over("t") == 1)).sum()
    ).item()
    return ok / df.height


def ours(lines: pl.Series, batches: int = 1, **kw: int) -> pl.Series:
    miner = TemplateMiner(**kw)
    size = -(-len(lines) // batches)
    return pl.concat([miner.add(lines.slice(i, size))["template_id"] for i in range(0, len(lines), size)])


def online(lines: pl.Series, truth: pl.Series, batches: int) -> tuple[float, float]:
    """GA of ids as each batch returned them, and of the same ids resolved after the last batch."""
    miner = TemplateMiner()
    size = -(-len(lines) // batches)
    ids = pl.concat([miner.add(lines.slice(i, size))["template_id"] for i in range(0, len(lines), size)])
    return grouping_accuracy(ids, truth), grouping_accuracy(miner.resolve(ids)["template_id"], truth)


def merged(lines: pl.Series, truth: pl.Series, shards: int) -> tuple[float, float]:
    """GA of shard miners' ids resolved by their merge, and of the merge fed every line again."""
    miners = [TemplateMiner() for _ in range(shards)]
    size = -(-len(lines) // shards)
    ids = pl.concat([m.add(lines.slice(i * size, size))["template_id"] for i, m in enumerate(miners)])
    whole = miners[0]
    for m in miners[1:]:
        whole = whole.merge(m)
    resolved = grouping_accuracy(whole.resolve(ids)["template_id"], truth)
    return resolved, grouping_accuracy(whole.add(lines)["template_id"], truth)


def cli_accuracy(lines: pl.Series, truth: pl.Series) -> float:
    """GA of the `template` column `logscan events` prints for `lines` written to a file, one per line."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "content.log"
        path.write_text("".join(line + "\n" for line in lines.to_list()), encoding="utf-8")
        out = subprocess.run([sys.executable, "-m", "analyzer", "events", str(path), "-f", "jsonl", "--log-format", "plain"],
                             capture_output=True, check=True, cwd=Path(__file__).resolve().parent.parent).stdout
    events = pl.read_ndjson(out).select("line_no", "template")
    # a line framing joined to the one before (HealthApp's lines that begin with a space read as a continuation,
    # as an indented line does in any log) has no template of its own: scored as a group of its own, so wrong
    # unless its true group is that one line
    per_line = pl.DataFrame({"line_no": range(1, len(lines) + 1)}).join(events, on="line_no", how="left")
    joined = pl.concat_str(pl.lit("joined line "), pl.col("line_no").cast(pl.String))
    return grouping_accuracy(per_line.select(pl.coalesce("template", joined)).to_series(), truth)


def drain(lines: list[str]) -> pl.Series:
    from drain3 import TemplateMiner as Drain3

    miner = Drain3()
    return pl.Series([miner.add_log_message(line)["cluster_id"] for line in lines])


def best_time(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best wall seconds and best CPU seconds (all threads of this process) of ``repeat`` runs."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu


def load() -> str:
    return "load average %.1f / %.1f / %.1f (1/5/15 min)" % os.getloadavg()


def big_set(lines: pl.Series, n: int, seed: int = 1) -> pl.Series:
    """lines repeated to n; in each copy the digits 0-2, 3-5 and 6-9 each become one seeded
    random digit (up to 1,000 variants of a line: the same events with varied numbers)."""
    copies = -(-n // len(lines))
    df = pl.DataFrame({"m": pl.concat([lines] * copies).head(n)}).with_row_index("i")
    r = pl.col("i").hash(seed)
    digit = lambda k: ((r // 10**k) % 10).cast(pl.String)  # noqa: E731
    m = pl.col("m")
    for k, digits in enumerate(["[0-2]", "[3-5]", "[6-9]"]):  # via placeholders: no cascading
        m = m.str.replace_all(digits, chr(1 + k))
    for k in range(3):
        m = m.str.replace_all(chr(1 + k), digit(k), literal=True)
    return df.select(m)["m"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loghub", type=Path, required=True, help="folder of <Name>_2k.log_structured.csv")
    ap.add_argument("--big", type=int, default=1_000_000, help="lines of the large set (0: skip)")
    ap.add_argument("--batch", type=int, default=100_000, help="batch size of the batched large-set run")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-drain-big", action="store_true", help="skip Drain3 on the large set (slow)")
    ap.add_argument("--big-repeat", type=int, default=None, help="runs per miner on the large sets (default: --repeat)")
    ap.add_argument("--sweep", action="store_true", help="GA for split_max 2..5 on the tune/check halves")
    ap.add_argument("--online", action="store_true", help="GA of small batches (as returned, resolved) and merged shards")
    ap.add_argument("--cli", action="store_true",
                    help="GA of the template column of `logscan events FILE -f jsonl` on each dataset's Content lines")
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)  # drain3 logs every template change at INFO

    data = {n: pl.read_csv(args.loghub / f"{n}_2k.log_structured.csv") for n in DATASETS}
    print(f"# Template mining, {time.strftime('%Y-%m-%d')}")
    print(f"- machine: {platform.platform()}; Python {platform.python_version()}; polars {pl.__version__}")
    print()
    print("| dataset | logscan GA | logscan GA, 4 batches | Drain3 GA |")
    print("|---|--:|--:|--:|")
    means = [0.0, 0.0, 0.0]
    for name, df in data.items():
        truth = df["EventId"]
        row = (
            grouping_accuracy(ours(df["Content"]), truth),
            grouping_accuracy(ours(df["Content"], batches=4), truth),
            grouping_accuracy(drain(df["Content"].to_list()), truth),
        )
        means = [m + v / len(data) for m, v in zip(means, row)]
        print(f"| {name} | {row[0]:.3f} | {row[1]:.3f} | {row[2]:.3f} |")
    print(f"| **mean** | **{means[0]:.4f}** | **{means[1]:.4f}** | **{means[2]:.4f}** |")

    if args.online:
        print("\nOnline and merged: mean GA over the 8 datasets.\n")
        print("| run | ids as returned | ids through resolve() |")
        print("|---|--:|--:|")
        for batches in (4, 20, 100):
            ga = [online(df["Content"], df["EventId"], batches) for df in data.values()]
            print(f"| {batches} batches | {sum(g[0] for g in ga) / 8:.4f} | {sum(g[1] for g in ga) / 8:.4f} |")
        ga = [merged(df["Content"], df["EventId"], 4) for df in data.values()]
        print(f"| 4 shards merged (shard ids) | n/a | {sum(g[0] for g in ga) / 8:.4f} |")
        print(f"| 4 shards merged, then fed all lines again | {sum(g[1] for g in ga) / 8:.4f} | n/a |")

    if args.cli:
        print("\nThrough the CLI: `logscan events FILE -f jsonl --log-format plain`, its template column.\n")
        print("| dataset | GA |")
        print("|---|--:|")
        scores = [cli_accuracy(df["Content"], df["EventId"]) for df in data.values()]
        for name, ga in zip(data, scores):
            print(f"| {name} | {ga:.3f} |")
        print(f"| **mean** | **{sum(scores) / len(scores):.4f}** |")

    if args.sweep:
        print("\nHeld-out check of the one threshold (split_max): mean GA on each half.\n")
        print(f"| split_max | tune {', '.join(TUNE)} | check {', '.join(CHECK)} |")
        print("|--:|--:|--:|")
        for split_max in range(2, 6):
            ga = {n: grouping_accuracy(ours(d["Content"], split_max=split_max), d["EventId"]) for n, d in data.items()}
            print(f"| {split_max} | {sum(ga[n] for n in TUNE) / 4:.4f} | {sum(ga[n] for n in CHECK) / 4:.4f} |")

    print(f"\nSpeed per dataset (2,000 lines each, best of {args.repeat}; {load()}):\n")
    print("| dataset | logscan s | Drain3 s | ratio | logscan CPU s | Drain3 CPU s | CPU ratio |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for name, df in data.items():
        lines, as_list = df["Content"], df["Content"].to_list()
        ours(lines.head(1000)), drain(as_list[:1000])  # warm-up
        (w1, c1), (w2, c2) = best_time(lambda: ours(lines), args.repeat), best_time(lambda: drain(as_list), args.repeat)
        print(f"| {name} | {w1:.4f} | {w2:.4f} | {w2 / w1:.1f}x | {c1:.4f} | {c2:.4f} | {c2 / c1:.1f}x |")

    print(f"\n{load()}\n")
    print("| lines | miner | runs | wall s (best) | lines/s | ratio | CPU s (best) | CPU ratio |")
    print("|---|---|--:|--:|--:|--:|--:|--:|")
    loghub = pl.concat([df["Content"] for df in data.values()])
    sets = [("16k loghub", loghub)]
    if args.big:
        copies = pl.concat([loghub] * -(-args.big // len(loghub))).head(args.big)
        sets.append((f"{args.big:,} copies", copies))
        sets.append((f"{args.big:,} varied numbers", big_set(loghub, args.big)))
    for label, lines in sets:
        as_list = lines.to_list()
        repeat = args.repeat if len(lines) <= 100_000 else (args.big_repeat or args.repeat)
        ours(lines.head(1000)), drain(as_list[:1000])  # warm-up: regex compilation, imports
        runs = {"logscan (1 batch)": lambda: ours(lines)}
        if len(lines) > args.batch:
            batches = -(-len(lines) // args.batch)
            runs[f"logscan ({args.batch:,}-line batches)"] = lambda: ours(lines, batches=batches)
        if not (args.no_drain_big and len(lines) > 100_000):
            runs["Drain3"] = lambda: drain(as_list)
        secs = {name: best_time(run, repeat) for name, run in runs.items()}
        base = secs.get("Drain3")
        for name, (wall, cpu) in secs.items():
            ratio = f"{base[0] / wall:.1f}x" if base else "n/a"
            cpu_ratio = f"{base[1] / cpu:.1f}x" if base else "n/a"
            print(f"| {label} | {name} | {repeat} | {wall:.3f} | {len(lines) / wall:,.0f} | {ratio} | {cpu:.3f} | {cpu_ratio} |")
    print(f"\n{load()}")

if __name__ == "__main__":
    main()
