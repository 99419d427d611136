"""Tail latency benchmark: how fast `logscan tail` announces a new problem in a busy log.

Why: the acceptance target for `logscan tail` is about a live service, not a
file on disk: "records appended at a steady 20,000 lines/s for 60 s while tail
follows; p99 time from a known-problem line's write to its `opened` event
≤ 150 ms, no line dropped, RSS flat (start and end reported)". This script
measures exactly that, end to end, with tail as a separate process:

- ``logscan tail FILE --format jsonl`` is started on an empty log file (so
  "from the end" is also "everything") and the benchmark waits until tail has
  the file open;
- a writer appends ``docker compose logs`` lines at ``--rate`` lines/s in small
  batches every ``--batch-ms``, paced against the monotonic clock (the achieved
  rate is measured and reported). The lines are generate.py's own compose
  templates (normal regime: uvicorn + Loguru api lines, PostgreSQL stderr,
  worker, with their everyday noise of slow statements and occasional errors),
  or with ``--background quiet`` only access/request lines and PostgreSQL
  connection lines, which are evidence of nothing;
- at random moments (exponential gaps, mean ``--inject-every``) it writes a
  known problem that must open a NEW incident: a PostgreSQL ``ERROR:  relation
  "latprobe_N" does not exist`` + ``STATEMENT`` record from the db service,
  with a distinct table name each time (``relation_missing`` keys incidents by
  the table). The write time is ``time.monotonic()`` right after the batch
  holding it was written and flushed;
- a reader thread timestamps every JSON line of tail's stdout on arrival and
  matches ``opened`` events to injections by ``incident["key"]`` (the table):
  latency = arrival - write time;
- after ``--seconds`` of writing, the benchmark waits until tail has read the
  whole file (its file offset, /proc/PID/fdinfo: a tail that falls behind
  shows up as a backlog, not as lost lines), then ``--drain`` seconds, then
  sends SIGINT; the final ``report`` event's ``summary.lines_read`` must equal
  the lines written, and every injection must have been opened exactly once;
- every second tail's RSS (VmRSS from /proc/PID/status) and its backlog (bytes
  written but not yet read) are sampled: RSS start (after ``--warmup`` seconds
  of writing), end (last sample while writing) and max.

The result is a Markdown block (stdout; ``--markdown FILE`` appends it) with
PASS/FAIL per target. Percentiles are nearest-rank. Stdlib only; run from any
folder, tail runs from the repo root.

    python benchmarks/tail_latency.py [--seconds 60] [--rate 20000] [--tail-args "--tick 50ms"]
                                      [--background compose|quiet] [--logscan-cmd CMD] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate as gen  # benchmarks/ is not a package: its modules by path
from run import ROOT, default_logscan, machine

TARGET_P99_MS = 150.0
RSS_FLAT_FRACTION = 0.10  # "flat": the end sample at most 10 % above the start sample
PROBE = "latprobe_"  # table-name prefix of the injected problems
SLOTS = ("d", "t", "ms", "us", "rid", "port", "sx", "ns", "el", "els", "ep")


# --------------------------------------------------------------------------- the lines


def background_pool(kind: str, seed: int) -> tuple[list[str], list[float], list[int]]:
    """generate.py templates (str.format, slots in braces), cumulative weights, and each one's line count."""
    r = random.Random(seed)
    if kind == "compose":
        kinds = gen.compose_kinds(None)
    else:  # quiet: no evidence at all, so incidents() only ever sees the probes
        pg = {f.__name__: f for _, f in gen.pg_kinds()}

        def api(r: random.Random) -> str:
            return gen.compose("api-1", gen.lines_text(gen.api_request_lines(r, gen.request(r, status=200))))

        def db(r: random.Random) -> str:
            events = pg[r.choice(("connect", "disconnect"))](r)
            return gen.compose("db-1", "\n".join(map(gen.pg_stderr, events)))

        kinds = [(85.0, api), (15.0, db)]
    pool, cum = gen.build_pool(r, gen.Regime(1.0, kinds))
    return pool, cum, [tpl.count("\n") + 1 for tpl in pool]


def probe_record(n: int, r: random.Random, prefix: str = PROBE) -> tuple[str, str]:
    """(table, template) of one injected problem: a db-1 relation error with its statement (two lines)."""
    table = f"{prefix}{n:05d}"
    ev = gen.PgEvent(r.randint(60, 32000), "ERROR", f'relation "{table}" does not exist', "42P01", cursor=15,
                     statement=f"SELECT * FROM {table} WHERE id = $1", ps="SELECT")
    return table, gen.template(gen.compose("db-1", gen.pg_stderr(ev)))


class Slots:
    """Per-line slot values: the real wall-clock time of the batch, unique request IDs and ports."""

    def __init__(self, seed: int) -> None:
        self.n = 0
        self.seed = seed
        self.vals = dict.fromkeys(SLOTS, "0")

    def stamp(self, now: float) -> None:
        sec, frac = divmod(now, 1.0)
        tm = time.gmtime(sec)
        us = f"{int(frac * 1e6):06d}"
        self.vals |= {"d": time.strftime("%Y-%m-%d", tm), "t": time.strftime("%H:%M:%S", tm), "us": us, "ms": us[:3],
                      "sx": f"{int(sec):x}", "ns": f".{us}"}

    def fill(self, tpl: str) -> str:
        self.n += 1
        self.vals["rid"] = f"{(self.n * gen.RID_MUL + self.seed) & (2**128 - 1):032x}"
        self.vals["port"] = str(32768 + self.n * 7919 % 28000)
        return tpl.format_map(self.vals)


# --------------------------------------------------------------------------- the tail process


@dataclass
class TailOutput:
    """What the reader thread saw on tail's stdout."""

    opened: dict[str, list[float]] = field(default_factory=dict)  # probe table -> arrival times of its `opened`
    events: dict[str, int] = field(default_factory=dict)  # event name -> count
    other_opened: list[str] = field(default_factory=list)  # signatures of non-probe incidents opened
    report: dict[str, Any] | None = None
    bad_lines: int = 0


def read_tail(stream: IO[bytes], out: TailOutput) -> None:
    """Timestamp each line of tail's stdout on arrival; keep only what the verdicts need."""
    for raw in iter(stream.readline, b""):
        arrived = time.monotonic()
        try:
            obj = json.loads(raw)
        except ValueError:
            out.bad_lines += 1
            continue
        event = obj.get("event", "?")
        out.events[event] = out.events.get(event, 0) + 1
        if event == "report":
            out.report = obj.get("report")
        elif event == "opened":
            inc = obj["incident"]
            key = inc.get("key") or ""
            if inc.get("signature") == "relation_missing" and key.startswith(PROBE):
                out.opened.setdefault(key, []).append(arrived)
            else:
                out.other_opened.append(inc.get("signature") or "?")


def rss_mib(pid: int) -> float | None:
    try:
        m = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return None
    return int(m[1]) / 1024 if m else None


def open_fd(pid: int, path: Path) -> int | None:
    """The descriptor under which process `pid` has `path` open now, if it has."""
    target = str(path.resolve())
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return int(fd)
            except OSError:
                continue  # closed under us
    except OSError:
        pass  # the process is gone
    return None


def read_pos(pid: int, path: Path) -> int | None:
    """How far process `pid` has read `path` (the file offset of its descriptor, from /proc/PID/fdinfo).

    Looked up by the link each time: a descriptor number is reused once closed.
    """
    fd = open_fd(pid, path)
    try:
        m = re.search(r"pos:\s+(\d+)", Path(f"/proc/{pid}/fdinfo/{fd}").read_text()) if fd is not None else None
    except OSError:
        return None
    return int(m[1]) if m else None


@dataclass
class Sample:
    at: float  # seconds since writing began
    rss_mib: float
    behind: int  # bytes written that tail has not read yet


def sample(pid: int, log: Path, t0: list[float], samples: list[Sample], stop: threading.Event) -> None:
    """Every second: tail's VmRSS and how far behind the writer its reading is; nothing before writing began."""
    while not stop.wait(1.0):
        value, pos = rss_mib(pid), read_pos(pid, log)
        if value is not None and pos is not None and t0:
            samples.append(Sample(time.monotonic() - t0[0], value, log.stat().st_size - pos))


def wait_open(pid: int, path: Path, timeout: float) -> bool:
    """Until process `pid` keeps `path` open (the same descriptor 0.3 s apart: not a passing look at the file)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fd = open_fd(pid, path)
        if fd is not None:
            time.sleep(0.3)
            if open_fd(pid, path) == fd:
                return True
        time.sleep(0.05)
    return False


def wait_caught_up(pid: int, path: Path, size: int, timeout: float) -> float | None:
    """Seconds until tail has read all `size` bytes of `path` (None: not within `timeout`)."""
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        pos = read_pos(pid, path)
        if pos is not None and pos >= size:
            return time.monotonic() - t
        time.sleep(0.02)
    return None


# --------------------------------------------------------------------------- the run


@dataclass
class Result:
    seconds: float
    lines: int
    bytes: int
    batches: int
    late_batches: int  # batches written more than one interval behind schedule
    injected: dict[str, float]  # table -> write time (monotonic)
    t0: float
    t_end: float


def write_log(path: Path, args: argparse.Namespace, t0_box: list[float]) -> Result:
    """Append background lines at a steady rate, with probes at random moments."""
    pool, cum, counts = background_pool(args.background, args.seed)
    r = random.Random(args.seed)
    slots = Slots(args.seed)
    interval = args.batch_ms / 1000
    injected: dict[str, float] = {}
    lines = size = batches = late = 0
    with path.open("ab") as f:
        t0 = time.monotonic()
        t0_box.append(t0)
        next_probe = t0 + args.first_probe + r.expovariate(1 / args.inject_every)
        k = 0
        while True:
            k += 1
            due = t0 + k * interval
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            elif now - due > interval:
                late += 1
            now = time.monotonic()
            if now - t0 >= args.seconds:
                break
            want = int(args.rate * (now - t0)) - lines
            slots.stamp(time.time())
            chunks: list[str] = []
            probe: str | None = None
            if now >= next_probe:
                probe, tpl = probe_record(len(injected), r)
                chunks.append(slots.fill(tpl))
                want -= 2
                next_probe = now + r.expovariate(1 / args.inject_every)
            written = 2 if probe else 0
            while want > 0:
                i = r.choices(range(len(pool)), cum_weights=cum)[0]
                chunks.append(slots.fill(pool[i]))
                want -= counts[i]
                written += counts[i]
            if not chunks:
                continue
            if probe and len(chunks) > 1:  # the probe somewhere inside the batch, not always first
                j = r.randrange(len(chunks))
                chunks[0], chunks[j] = chunks[j], chunks[0]
            data = ("\n".join(chunks) + "\n").encode()
            f.write(data)
            f.flush()
            if probe:
                injected[probe] = time.monotonic()
            lines += written
            size += len(data)
            batches += 1
    t_end = time.monotonic()
    return Result(t_end - t0, lines, size, batches, late, injected, t0, t_end)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="how long to write (default: 60)")
    ap.add_argument("--rate", type=int, default=20_000, help="lines per second (default: 20000)")
    ap.add_argument("--batch-ms", type=float, default=5.0, help="one write every this many ms (default: 5)")
    ap.add_argument("--inject-every", type=float, default=0.5, help="mean seconds between probes (default: 0.5)")
    ap.add_argument("--first-probe", type=float, default=2.0,
                    help="no probe in the first N seconds, while tail starts its change watcher (default: 2)")
    ap.add_argument("--drain", type=float, default=3.0,
                    help="quiet seconds after tail has read everything, before SIGINT (default: 3)")
    ap.add_argument("--catch-up", type=float, default=300.0,
                    help="at most this long to wait, after writing, for tail to read everything (default: 300 s)")
    ap.add_argument("--warmup", type=float, default=5.0, help="RSS 'start' = first sample after this (default: 5 s)")
    ap.add_argument("--background", choices=("compose", "quiet"), default="compose",
                    help="compose: generate.py's normal compose traffic (default); quiet: lines that are evidence of nothing")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tail-args", default="", help='extra arguments for logscan tail, e.g. "--tick 50ms"')
    ap.add_argument("--logscan-cmd", help="how to invoke logscan (default: `logscan` on PATH, else `python -m analyzer.commands.app`)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (log file, tail's stderr)")
    ap.add_argument("--markdown", type=Path, help="also append the Markdown result to this file")
    args = ap.parse_args()

    logscan = shlex.split(args.logscan_cmd) if args.logscan_cmd else default_logscan()
    tmp = Path(tempfile.mkdtemp(prefix="logscan-tail-latency-"))
    log = tmp / "compose.log"
    log.touch()
    cmd = [*logscan, "tail", str(log), "--format", "jsonl", *shlex.split(args.tail_args)]
    shown_cmd = shlex.join([*logscan, "tail", "FILE", "--format", "jsonl", *shlex.split(args.tail_args)])
    err_path = tmp / "tail.stderr"
    with err_path.open("wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, cwd=ROOT)
    assert proc.stdout is not None
    out = TailOutput()
    reader = threading.Thread(target=read_tail, args=(proc.stdout, out), daemon=True)
    reader.start()
    t0_box: list[float] = []
    samples: list[Sample] = []
    stop = threading.Event()
    if not wait_open(proc.pid, log, 60.0):
        proc.kill()
        sys.exit(f"tail_latency.py: tail never opened {log}; its stderr: {err_path.read_text()[-2000:]}")
    threading.Thread(target=sample, args=(proc.pid, log, t0_box, samples, stop), daemon=True).start()
    print(f"tail (pid {proc.pid}) is following {log}; writing {args.rate:,} lines/s for {args.seconds:g} s",
          file=sys.stderr, flush=True)

    res = write_log(log, args, t0_box)
    writing = list(samples)
    rss_end = writing[-1].rss_mib if writing else None
    print(f"wrote {res.lines:,} lines in {res.seconds:.1f} s; waiting for tail to read them all", file=sys.stderr, flush=True)
    catch_up = wait_caught_up(proc.pid, log, res.bytes, args.catch_up)
    time.sleep(args.drain)  # held records (--hold) and the last tick
    stop.set()
    t_sigint = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        code: int | str = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = "killed after 60 s"
    reader.join(timeout=10)
    exit_s = time.monotonic() - t_sigint
    if code != 0:  # say why, before the temporary folder goes
        print(f"tail exited {code}; its stderr ends:\n{err_path.read_text(errors='replace')[-3000:]}", file=sys.stderr)

    # ----------------------------------------------------------------- verdicts
    lat = [(out.opened[k][0] - w) * 1000 for k, w in res.injected.items() if k in out.opened]
    missing = [k for k in res.injected if k not in out.opened]
    twice = [k for k, v in out.opened.items() if len(v) > 1]
    unknown = [k for k in out.opened if k not in res.injected]
    summary = (out.report or {}).get("summary", {})
    lines_read = summary.get("lines_read")
    start = next((x.rss_mib for x in writing if x.at >= args.warmup), None)
    peak = max((x.rss_mib for x in samples), default=None)
    bpl = res.bytes / max(res.lines, 1)  # bytes per line, to show the backlog in lines
    behind = max((x.behind for x in writing), default=0)
    p = {q: percentile(lat, q) for q in (50, 95, 99, 100)} if lat else {}

    third = max(1, len(writing) // 3)
    checks: list[str] = []
    if p:
        checks.append(f"{'PASS' if p[99] <= TARGET_P99_MS else 'FAIL'} latency p99 {p[99]:.0f} ms (target ≤ {TARGET_P99_MS:g} ms)")
    else:
        checks.append("FAIL latency: no probe was opened")
    once = not missing and not twice and not unknown
    checks.append(f"{'PASS' if once else 'FAIL'} every probe opened exactly once: {len(out.opened) - len(unknown)}/"
                  f"{len(res.injected)} opened, {len(missing)} never, {len(twice)} more than once")
    checks.append(f"{'PASS' if lines_read == res.lines else 'FAIL'} no line dropped: lines_read {lines_read} "
                  f"vs {res.lines:,} written")
    if start is not None and rss_end is not None:
        # two samples alone can land on a trough and a crest: the means of the first and last thirds must agree too
        first, last = _mean(writing[:third]), _mean(writing[-third:])
        flat = rss_end <= start * (1 + RSS_FLAT_FRACTION) and last <= first * (1 + RSS_FLAT_FRACTION)
        checks.append(f"{'PASS' if flat else 'FAIL'} RSS flat: {start:.0f} MiB at {args.warmup:g} s → {rss_end:.0f} MiB at "
                      f"the end ({(rss_end / start - 1) * 100:+.0f} %), mean of the first third {first:.0f} → last third "
                      f"{last:.0f} MiB ({(last / first - 1) * 100:+.0f} %); target ≤ +{RSS_FLAT_FRACTION:.0%} for both")
    else:
        checks.append("FAIL RSS: not enough samples")

    m = machine()
    curve = ", ".join(f"{x.at:.0f}s {x.rss_mib:.0f}" for x in samples[:: max(1, len(samples) // 12)])
    lag = ", ".join(f"{x.at:.0f}s {x.behind / bpl / 1000:.0f}k" for x in samples[:: max(1, len(samples) // 12)])
    caught = "never (SIGINT anyway)" if catch_up is None else f"{catch_up:.1f} s after the last write"
    md = [f"## logscan tail latency, {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}", "",
          f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory']}; {m['os']}; Python {m['python']}",
          f"- command: `{shlex.join(['python', 'benchmarks/tail_latency.py', *sys.argv[1:]])}` (from the repo root)",
          f"- tail: `{shown_cmd}`, started on an empty file; background `{args.background}`, seed {args.seed}", "",
          "| measure | value |", "|---|--:|",
          f"| written | {res.lines:,} lines, {res.bytes / 1e6:.1f} MB in {res.seconds:.2f} s |",
          (f"| achieved rate | {res.lines / res.seconds:,.0f} lines/s (target {args.rate:,}); {res.batches:,} writes, "
           f"{res.late_batches} more than {args.batch_ms:g} ms late |"),
          f"| probes injected / opened | {len(res.injected)} / {len(out.opened)} |"]
    if p:
        md.append(f"| latency write → `opened` p50 / p95 / p99 / max | {p[50]:.0f} / {p[95]:.0f} / {p[99]:.0f} / {p[100]:.0f} ms |")
        md.append(f"| latency min / mean | {min(lat):.0f} / {sum(lat) / len(lat):.0f} ms |")
    md += [f"| lines written / tail's lines_read | {res.lines:,} / {_num(lines_read)} |",
           f"| records / unparsed lines (tail's summary) | {_num(summary.get('records'))} / {_num(summary.get('unparsed_lines'))} |",
           f"| tail RSS start ({args.warmup:g} s) / end / max | {start or 0:.0f} / {rss_end or 0:.0f} / {peak or 0:.0f} MiB |",
           f"| tail RSS, first third → last third mean | {_mean(writing[:third]):.0f} → {_mean(writing[-third:]):.0f} MiB |",
           f"| tail's reading behind the writer, max while writing | {behind / bpl:,.0f} lines ({behind / 1e6:.1f} MB) |",
           f"| tail had read everything | {caught} |",
           (f"| tail events | {', '.join(f'{k} {v:,}' for k, v in sorted(out.events.items()))}; other incidents opened: "
            f"{len(out.other_opened)} |"),
           f"| SIGINT → exit | {exit_s:.1f} s, exit {code} |", "",
           f"RSS (s MiB): {curve}", "", f"Lines not yet read by tail (s lines): {lag}", ""]
    if out.bad_lines:
        md += [f"{out.bad_lines} lines of tail's stdout were not JSON.", ""]
    md += ["Targets:", "", *[f"- {c}" for c in checks]]
    report = "\n".join(md) + "\n"
    print(report)
    if args.markdown:
        with args.markdown.open("a") as fh:
            fh.write("\n" + report)
    errors = err_path.read_text(errors="replace").strip()
    if errors:
        print(f"tail's stderr (last 1,500 chars):\n{errors[-1500:]}", file=sys.stderr)
    if args.keep:
        print(f"kept {tmp}", file=sys.stderr)
    else:
        log.unlink()
        err_path.unlink()
        tmp.rmdir()


def _num(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else "–"


def _mean(samples: list[Sample]) -> float:
    return sum(x.rss_mib for x in samples) / len(samples) if samples else 0.0


if __name__ == "__main__":
    main()
