"""Screen, then parse (analyzer.ingest.screen): the screened scan reports exactly what `--exhaustive` reports.

The differential test runs `scan --format json` both ways on every sample file, on each sample folder and on
generated benchmark data (production and stress mixes), and compares the whole report: incidents, counts,
request IDs, times, traces and the summary. The rest checks the screen itself: derived from the signature
set (a user's signature widens it by itself), and what it keeps.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from conftest import ROOT, json_report

from analyzer.analysis.engine import Analysis
from analyzer.analysis.signatures import load_signatures
from analyzer.diagnostics import Diagnostics
from analyzer.ingest.pipeline import Pipeline
from analyzer.ingest.screen import Screen
from analyzer.ingest.sources import resolve
from analyzer.report.model import build_report
from analyzer.report.summary import summary_dict

SAMPLE_FILES = sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "samples").rglob("*")
    if p.is_file() and p.suffix not in {".md", ".py", ".toml"} and p.name not in {"manifest.json", "config.v2.json"}
    and "generate" not in p.parts
) + sorted(  # real lines of other servers, drivers and logging setups (tests/real_lines/README.md)
    str(p.relative_to(ROOT)) for p in (ROOT / "tests/real_lines").iterdir() if p.suffix in {".log", ".jsonl"}
)


def _same(cli, *paths: str) -> dict:
    screened = json_report(cli, *paths)
    assert screened == json_report(cli, *paths, "--exhaustive")
    return screened


@pytest.mark.parametrize("path", SAMPLE_FILES)
def test_each_sample_file_reports_the_same_screened(cli, path, monkeypatch):
    monkeypatch.chdir(ROOT)
    _same(cli, path)


@pytest.mark.parametrize("folder", ["samples/", "samples/deploy-b/"])
def test_each_sample_folder_reports_the_same_screened(cli, folder, monkeypatch):
    monkeypatch.chdir(ROOT)
    report = _same(cli, folder)
    assert report["incidents"] and report["summary"]["records"]


@pytest.fixture(scope="module")
def bench_data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bench")
    for mix in ("production", "stress"):
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--size", "1500KB", "--mix", mix,
                        "--out", str(out / mix), "--only", "compose", "loguru", "postgres", "uvicorn"],
                       check=True, capture_output=True)
    return out


@pytest.mark.parametrize("mix", ["production", "stress"])
def test_generated_benchmark_data_reports_the_same_screened(cli, bench_data, mix):
    folder = bench_data / mix
    for path in sorted(folder.iterdir()):
        _same(cli, str(path))
    _same(cli, str(folder))


def _middle_third(cli, *paths: str) -> tuple[str, str]:
    """--since/--until times a third and two thirds into the records' time range."""
    first, last = (datetime.fromisoformat(t) for t in json_report(cli, *paths)["summary"]["time_range"])
    third = (last - first) / 3
    return (first + third).isoformat(), (first + 2 * third).isoformat()


@pytest.mark.parametrize("mix", ["production", "stress"])
def test_a_time_window_reports_the_same_screened(cli, bench_data, mix):
    """--since/--until no longer turn the screen off: the analysis applies the window to what the screen kept,
    and the tally counts every record in it; the reports are still exactly the exhaustive ones."""
    folder = str(bench_data / mix)
    since, until = _middle_third(cli, folder)
    for window in (("--since", since), ("--until", until), ("--since", since, "--until", until)):
        report = _same(cli, folder, *window)
        assert report["summary"]["records"]  # the summary still counts every record read
    assert json_report(cli, folder, "--since", since) != json_report(cli, folder)


def test_a_time_window_on_the_samples_reports_the_same_screened(cli, monkeypatch):
    """From the middle incident's start on: some of the samples' incidents in, some out."""
    monkeypatch.chdir(ROOT)
    starts = sorted(i["first_seen"] for i in json_report(cli, "samples/")["incidents"] if i["first_seen"])
    since = starts[len(starts) // 2]
    windowed = _same(cli, "samples/", "--since", since)
    assert 0 < len(windowed["incidents"]) < len(starts)


def test_the_tally_counts_every_record_in_the_window_while_the_screen_drops_most(bench_data):
    paths = [str(bench_data / "production" / "compose.log")]
    every = pl.concat(list(Pipeline(Diagnostics()).run(resolve(paths, Diagnostics()))), how="diagonal_relaxed")
    ts = every.get_column("ts").drop_nulls().sort()
    since, until = ts[len(ts) // 3], ts[2 * len(ts) // 3]
    diag = Diagnostics()
    screened = Pipeline(diag, screen=Screen(load_signatures()), period=(since, until))
    yielded = sum(batch.height for batch in screened.run(resolve(paths, diag)))
    assert screened.tally.in_period == every.filter((pl.col("ts") >= since) & (pl.col("ts") < until)).height
    assert screened.tally.records == every.height
    assert yielded < every.height * 0.15


def test_a_window_that_hides_everything_says_so_the_same_screened(cli, monkeypatch):
    """The "hid all N records (they span ...)" message counts every record read, screened or not."""
    monkeypatch.chdir(ROOT)
    screened = cli("scan", "samples/", "--since", "2031-01-01", "--format", "json")
    exhaustive = cli("scan", "samples/", "--since", "2031-01-01", "--format", "json", "--exhaustive")
    records = json.loads(screened.stdout)["summary"]["records"]
    assert f"--since 2031-01-01 hid all {records:,} records (they span 2026-11-23 10:43:06" in screened.stderr
    assert screened.stderr == exhaustive.stderr


def _in_process(paths: list[str], screened: bool, chunk_bytes: int) -> dict:
    """What `scan --format json` builds, read in small chunks (many batches: requests cut by batch edges)."""
    sigs = load_signatures()
    diag = Diagnostics()
    pipeline = Pipeline(diag, chunk_bytes=chunk_bytes, screen=Screen(sigs) if screened else None)
    analysis = Analysis(sigs)
    for batch in pipeline.run(resolve(paths, diag)):
        analysis.add(batch)
    report = build_report(summary_dict(diag, pipeline.tally), analysis.incidents(), analysis.traces)
    return json.loads(json.dumps(report, default=str))


@pytest.mark.parametrize("mix", ["production", "stress"])
def test_many_small_batches_report_the_same_screened(bench_data, mix):
    paths = [str(bench_data / mix / "compose.log")]
    screened = _in_process(paths, True, 1 << 18)
    exhaustive = _in_process(paths, False, 1 << 18)
    screened.pop("generated_at", None)
    exhaustive.pop("generated_at", None)
    assert screened == exhaustive


@pytest.mark.parametrize("chunk_bytes", [512, 2048])
def test_trace_id_requests_cut_by_batch_edges_report_the_same_screened(chunk_bytes):
    # the real OpenTelemetry logs (tests/real_lines/README.md): every record names a trace ID or the zero one,
    # and each request's lines fall in different batches
    paths = [str(ROOT / "tests/real_lines" / name) for name in ("otel_logging_format.log", "otel_python_json_logger.jsonl")]
    screened = _in_process(paths, True, chunk_bytes)
    exhaustive = _in_process(paths, False, chunk_bytes)
    screened.pop("generated_at", None)
    exhaustive.pop("generated_at", None)
    assert screened["incidents"] and screened == exhaustive


def test_the_screen_keeps_few_production_records(bench_data):
    diag = Diagnostics()
    paths = [str(bench_data / "production" / "compose.log")]
    kept = sum(b.height for b in Pipeline(diag, screen=Screen(load_signatures())).run(resolve(paths, diag)))
    total = sum(b.height for b in Pipeline(Diagnostics()).run(resolve(paths, Diagnostics())))
    assert kept < total * 0.15


SIG = """
[[signature]]
id = "{id}"
title = "t"
severity = "high"
role = "cause"
{body}
"""


def _screen(tmp_path: Path, body: str) -> Screen:
    folder = tmp_path / "sigs"
    folder.mkdir(exist_ok=True)
    (folder / "mine.toml").write_text(SIG.format(id="mine", body=body))
    return Screen(load_signatures([folder], builtin=False))


def _records(*heads: str) -> pl.DataFrame:
    return pl.DataFrame({"fmt": pl.Series([0] * len(heads), dtype=pl.Int8), "head": list(heads), "text": list(heads)})




def test_a_users_keyword_widens_the_screen_by_itself(tmp_path):
    from analyzer.ingest.formats import FORMATS

    formats = (FORMATS[-1],)
    line = "2026-11-23 10:00:00.000 | INFO     | app:f:1 - flux capacitor overheated"
    assert not Screen(load_signatures()).keep(_records(line), formats).any()
    assert _screen(tmp_path, 'keywords = ["flux capacitor"]').keep(_records(line), formats).all()


def test_levels_statuses_tracebacks_and_slow_durations_are_candidates(tmp_path):
    from analyzer.ingest.formats import FORMATS

    formats = (FORMATS[-1],)
    screen = _screen(tmp_path, 'keywords = ["never-written"]\n[signature.when]\nlevel = "error"')
    slow = _screen(tmp_path, '[signature.when]\nduration_ms = { gte = 1000 }')
    kept = [
        "x | WARNING  | app:f:1 - careful",
        '127.0.0.1:1 - "GET /x HTTP/1.1" 503',
        "GET /orders 422 3ms",
        "request finished status=500",
        "Traceback (most recent call last):",
    ]
    dropped = ["x | INFO     | app:f:1 - fine", '127.0.0.1:1 - "GET /x HTTP/1.1" 200', "GET /orders 201 3ms", "took 999ms"]
    assert screen.keep(_records(*kept), formats).all()
    assert not screen.keep(_records(*dropped), formats).any()
    assert slow.min_duration == 1000
    assert slow.keep(_records("took=1.5s", "duration_ms=1000"), formats).all()
    assert not slow.keep(_records("took=999ms", "elapsed_ms=12"), formats).any()


def test_a_signature_the_screen_cannot_see_turns_it_off(tmp_path):
    from analyzer.ingest.formats import FORMATS

    screen = _screen(tmp_path, '[signature.when]\nlogger = "app.audit"')
    assert not screen.enabled
    assert screen.keep(_records("anything at all"), (FORMATS[-1],)).all()


def test_the_records_of_a_candidates_request_are_kept_in_later_batches_too():
    from analyzer.ingest.formats import FORMATS

    screen = Screen(load_signatures())
    formats = (FORMATS[-1],)
    first = screen.keep(_records("x | ERROR | app:f:1 - boom | req_id=abc123", "x | INFO | app:f:1 - hi | req_id=zzz999"), formats)
    assert first.to_list() == [True, False]
    assert screen.keep(_records("x | INFO | app:f:1 - done | req_id=abc123"), formats).all()


_KEPT_FOR_ITS_DURATION = [  # a request, its timed end (kept: a duration and a path), a record it logs afterwards
    "2026-11-23 10:00:00.000 | INFO     | app.middleware:log_requests:29 - --> GET /api/orders/1 | req_id=aaa111bbb",
    "2026-11-23 10:00:00.010 | INFO     | app.orders:get:12 - loading order 1 | req_id=aaa111bbb",
    "2026-11-23 10:00:00.019 | INFO     | app.middleware:log_requests:41 - request finished path=/api/orders/1 "
    "status=200 duration_ms=9.0 | req_id=aaa111bbb",
    "2026-11-23 10:00:01.000 | INFO     | app.audit:log:7 - order 1 viewed | req_id=aaa111bbb",
    "2026-11-23 10:00:01.100 | INFO     | app.orders:get:12 - loading order 2 | req_id=ccc222ddd",
]


@pytest.mark.parametrize("chunk_bytes", [1 << 20, 500, 400, 300, 200])
def test_a_kept_records_request_reaches_the_analysis_whole_however_batches_cut_it(tmp_path, chunk_bytes):
    """The timed end is kept (a duration and a path) and brings its request's dropped records back; the
    record the request logs after it, in a later batch, reaches the analysis too, in line order."""
    path = tmp_path / "app.log"
    path.write_text("\n".join(_KEPT_FOR_ITS_DURATION) + "\n")
    rows = {}
    for screened in (True, False):
        diag = Diagnostics()
        pipeline = Pipeline(diag, chunk_bytes=chunk_bytes, screen=Screen(load_signatures()) if screened else None)
        events = pl.concat(list(pipeline.run(resolve([str(path)], diag))), how="diagonal_relaxed")
        rows[screened] = events.filter(pl.col("request_id") == "aaa111bbb").get_column("line_no").to_list()
    assert rows[True] == rows[False] == [1, 2, 3, 4]


def test_a_keywordless_pattern_signature_adds_its_pattern(tmp_path):
    from analyzer.ingest.formats import FORMATS

    screen = _screen(tmp_path, 'pattern = "(?P<what>zork|grue) (?P<verb>happened)"')
    assert screen.enabled and screen.patterns
    kept = screen.keep(_records("a grue happened", "all quiet"), (FORMATS[-1],))
    assert kept.to_list() == [True, False]
