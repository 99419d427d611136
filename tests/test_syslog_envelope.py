"""Services run by systemd: journald's and syslog's `<time> <host> <identifier>[<pid>]: line` envelope.

tests/real_lines/journald_{short,short-precise,short-iso}.log are real `journalctl` output
(make/journald_run.sh): a uvicorn app under `systemd-cat` and PostgreSQL 15 with
`log_destination = 'syslog'`, whose lines carry `syslog_sequence_numbers` (`[6-2] `).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl
import pytest
from conftest import ROOT

from analyzer.ingest.framing.envelope import _year_less_times, detect

REAL = ROOT / "tests/real_lines"
MODES = ["short", "short-precise", "short-iso"]


def events(cli, path) -> list[dict]:
    result = cli("events", str(path), "--format", "jsonl")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("mode", MODES)
def test_journalctl_output_reads_as_the_services_own_logs(cli, plain_env, mode):
    rows = events(cli, REAL / f"journald_{mode}.log")
    assert {row["service"] for row in rows} == {"uvicorn", "postgres"}
    assert {row["format"] for row in rows} == {"uvicorn", "postgres"}
    assert all(row["ts"] for row in rows)  # uvicorn prints no time: the journal's
    statement = next(row for row in rows if "missing_table" in row["message"])
    assert statement["text"].endswith("where id = 1") and "[6-" not in statement["text"]
    assert statement["stream"] == f"pid {statement['pid']:.0f}"

    report = json.loads(cli("scan", str(REAL / f"journald_{mode}.log"), "--format", "json").stdout)
    found = sorted((i["signature"], i["count"], tuple(i["services"])) for i in report["incidents"])
    assert found == [("relation_missing", 1, ("postgres",)), ("relation_missing", 1, ("postgres",)),
                     ("unhandled_asgi_exception", 3, ("uvicorn",))]


def test_the_three_modes_tell_the_same_records(cli, plain_env):
    def records(mode: str) -> list[tuple]:
        return [(r["service"], r["format"], r["level"], r["message"], r["line_count"])
                for r in events(cli, REAL / f"journald_{mode}.log")]

    assert records("short") == records("short-precise") == records("short-iso")


def test_two_processes_tracebacks_interleaved_in_the_journal_stay_apart(cli, plain_env, write):
    a = ["ERROR:    Exception in ASGI application", "Traceback (most recent call last):",
         '  File "/srv/app/orders.py", line 3, in create', "KeyError: 'sku'"]
    b = ["ERROR:    Exception in ASGI application", "Traceback (most recent call last):",
         '  File "/srv/app/users.py", line 9, in show', "ZeroDivisionError: division by zero"]
    lines = [f"Dec  4 00:57:18 web1 gunicorn[{pid}]: {text}" for pair in zip(a, b, strict=True)
             for pid, text in zip((101, 102), pair, strict=True)]
    report = json.loads(cli("scan", str(write("app.log", "\n".join(lines) + "\n")), "--format", "json").stdout)
    assert sorted(i["title"] for i in report["incidents"]) == ["KeyError: 'sku'", "ZeroDivisionError: division by zero"]


@pytest.mark.parametrize(("stamp", "now", "expected"), [
    ("Dec  4 00:57:18", datetime(2026, 12, 4, 1, 0, tzinfo=UTC), datetime(2026, 12, 4, 0, 57, 18, tzinfo=UTC)),
    ("Dec 31 23:59:59", datetime(2027, 1, 1, 0, 5, tzinfo=UTC), datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ("Jan  1 00:00:01.250000", datetime(2026, 12, 31, 23, 0, tzinfo=UTC),  # the host's clock a little ahead
     datetime(2027, 1, 1, 0, 0, 1, 250000, tzinfo=UTC)),
    ("Jan  3 00:00:00", datetime(2026, 12, 31, 23, 0, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC)),
])
def test_a_time_without_a_year_takes_the_latest_year_at_most_a_day_ahead(stamp, now, expected):
    assert _year_less_times(pl.Series([stamp]), now).to_list() == [expected]


def test_syslog_lines_are_told_from_docker_timestamps():
    assert detect(["2026-12-04T00:57:14+0000 vm postgres[23365]: [6-1] LOG:  x"] * 3) == "syslog"
    assert detect(["2026-12-04T00:57:14.630435Z INFO:     Started server process [1]"] * 3) == "docker_ts"
