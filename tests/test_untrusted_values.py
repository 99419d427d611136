"""Issue 14, item 3: a value a log line holds never ends a run. An out-of-range time or number becomes a
counted unparsed reason, its field is left empty, and the record is kept (analyzer.ingest.bounds)."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.ingest.bounds import EARLIEST, LATEST
from tests.conftest import read_events

OUT_OF_RANGE_EPOCHS = ("1e300", "1e16", "-99999999999999", "253402300800")


def scan_json(cli, *args: str, input: str | bytes | None = None) -> dict:
    result = cli("scan", *args, "--format", "json", input=input)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("stamp", OUT_OF_RANGE_EPOCHS)
def test_issue_reproduction_scan_tail_and_state_keep_the_record_and_say_why(cli, write, tmp_path, stamp):
    line = '{"level":"error","message":"m","timestamp":%s}\n' % stamp
    log = write("app.log", line)
    summary = scan_json(cli, str(log))["summary"]
    assert summary["lines_read"] == summary["records"] == 1
    assert summary["unparsed_reasons"] == {"json: time out of range (1970 to 2199), left empty": 1}
    assert summary["time_range"] == [None, None]

    events = cli("events", str(log), "--format", "jsonl")
    assert events.exit_code == 0
    (record,) = [orjson.loads(x) for x in events.stdout.splitlines()]
    assert record["message"] == "m" and record["ts"] is None and record["level"] == "error"

    tail = cli("tail", "-", "--format", "jsonl", input=line)
    assert tail.exit_code == 0, tail.output
    report = orjson.loads(tail.stdout.splitlines()[-1])["report"]
    assert report["summary"]["unparsed_reasons"] == summary["unparsed_reasons"]

    state = tmp_path / "state"
    for night in (1, 2):  # the nightly job: it must not fail, then or on the next night (one more line each)
        write("app.log", line * night)
        summary = scan_json(cli, "--state", str(state), str(log))["summary"]
        assert summary["records"] == 1 and sum(summary["unparsed_reasons"].values()) == 1


FORMAT_LINES = {
    # format: (line, the reasons it must give)
    "loguru_json": (
        '{"text": "x\\n", "record": {"elapsed": {"repr": "0:00:00", "seconds": 1e300}, "exception": null, '
        '"extra": {}, "level": {"name": "ERROR", "no": 40}, "line": 1e300, "message": "x", "name": "a", '
        '"process": {"id": 1e300, "name": "MainProcess"}, "thread": {"id": -1, "name": "MainThread"}, '
        '"time": {"repr": "2026-01-01", "timestamp": 1e300}}}',
        {"loguru_json: time out of range (1970 to 2199), left empty",
         "loguru_json: pid out of range (a whole number from 0 to 2147483647), left empty"},
    ),
    "postgres_json": (
        '{"timestamp":"9999-12-31 23:59:59.123 -0800","pid":1e300,"error_severity":"ERROR","message":"x",'
        '"session_start":"9999-12-31 23:59:59 UTC","line_num":1e300}',
        {"postgres_json: time out of range (1970 to 2199), left empty",
         "postgres_json: pid out of range (a whole number from 0 to 2147483647), left empty"},
    ),
    "postgres_csv": (
        '9999-12-31 23:59:59.123 -08,"u","d",99999999999999999999999,"h","s",1e300,"idle",'
        '"9999-12-31 23:59:59 UTC","3/1",0,ERROR,42P01,"x",,,,,,,,,"app","client backend",,0',
        {"postgres_csv: time out of range (1970 to 2199), left empty",
         "postgres_csv: pid out of range (a whole number from 0 to 2147483647), left empty"},
    ),
    "postgres": (
        "0001-01-01 00:00:00.123 +08 [99999999999999999999] ERROR:  x",
        {"postgres: time out of range (1970 to 2199), left empty",
         "postgres: pid out of range (a whole number from 0 to 2147483647), left empty"},
    ),
    "json": (
        '{"level":"error","message":"m","timestamp":"9999-12-31T23:59:59-08:00","pid":-1,"status":70000,'
        '"duration_ms":-1e308}',
        {"json: time out of range (1970 to 2199), left empty",
         "json: pid out of range (a whole number from 0 to 2147483647), left empty",
         "json: http_status out of range (a whole number from 100 to 599), left empty",
         "json: duration_ms out of range (0 to 1e10 ms), left empty"},
    ),
    "docker": (
        '{"log":"hello\\n","stream":"stdout","time":"9999-12-31T23:59:59.999999999-08:00"}',
        {"plain: Docker/Compose time out of range (1970 to 2199), left empty"},
    ),
    "compose": (
        "api-1  | 0001-01-01T00:00:00.000000000+08:00 hello",
        {"plain: Docker/Compose time out of range (1970 to 2199), left empty"},
    ),
    "uvicorn": (
        'INFO:     127.0.0.1:1 - "GET / HTTP/1.1" 999',
        {"uvicorn: http_status out of range (a whole number from 100 to 599), left empty"},
    ),
}


@pytest.mark.parametrize("name", FORMAT_LINES)
def test_every_format_that_reads_times_or_numbers(cli, write, name):
    line, reasons = FORMAT_LINES[name]
    log = write(f"{name}.log", f"{line}\n")
    summary = scan_json(cli, str(log))["summary"]
    assert summary["records"] == summary["lines_read"] == 1
    assert set(summary["unparsed_reasons"]) == reasons
    assert summary["unparsed_lines"] == len(reasons)


def test_in_range_values_are_kept_as_they_were(write):
    log = write("ok.log", '{"level":"info","message":"m","timestamp":1732270000.5,"pid":7,"status":503,'
                          '"duration_ms":12.5}\n')
    events, diag = read_events(log)
    row = events.row(0, named=True)
    assert (row["pid"], row["http_status"], row["duration_ms"]) == (7, 503, 12.5)
    assert row["ts"].timestamp() == 1732270000.5 and not diag.unparsed


NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e300, -1e300, 2**63, -(2**63), 2**31, 253402300800, 0.5]),
)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stamp=NUMBERS, pid=NUMBERS, status=NUMBERS, duration=NUMBERS)
def test_any_json_number_gives_a_value_in_range_or_a_reason(write, stamp, pid, status, duration):
    fields = {"timestamp": stamp, "pid": pid, "status": status, "duration_ms": duration}
    log = write("n.log", '{"level":"error","message":"m", %s}\n' % ", ".join(f'"{k}": {v!r}' for k, v in fields.items()))
    events, diag = read_events(log)
    assert events.height == 1 and events.get_column("message").to_list() == ["m"]
    row = events.row(0, named=True)
    empty = {"ts": row["ts"] is None, "pid": row["pid"] is None, "http_status": row["http_status"] is None,
             "duration_ms": row["duration_ms"] is None}
    for field, value in zip(("pid", "http_status", "duration_ms"), (pid, status, duration), strict=True):
        assert empty[field] or (row[field] == value), (field, row[field], value)
    assert row["ts"] is None or EARLIEST <= row["ts"] <= LATEST
    reasons = " ".join(diag.unparsed)
    for field in ("pid", "http_status", "duration_ms"):
        assert (f"json: {field} out of range" in reasons) == empty[field]


@pytest.mark.parametrize("depth", [100, 100_000])
@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deep_nesting_keeps_the_record_and_says_why(cli, write, depth, opener):
    closer = "]" if opener == "[" else "}"
    nest = opener * depth + ("1" if opener != "[" else "") + closer * depth
    log = write("deep.log", '{"level":"error","message":"m","x":%s}\n{"level":"error","message":"n"}\n' % nest)
    summary = scan_json(cli, str(log))["summary"]
    assert summary["lines_read"] == summary["records"] == 2
    if depth > 1000:  # deeper than a JSON decoder goes: the line is read as plain text, and counted
        assert summary["unparsed_reasons"] == {"json: record does not parse as json, kept as plain": 1}
    else:
        assert summary["unparsed_reasons"] == {}
