"""Each format is detected and parsed on the exact lines the real software prints
(shared/reference/log-formats-and-messages.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import read_events

CASES = [
    # (line, format, level, extra expectations)
    ('INFO:     127.0.0.1:43540 - "POST /items HTTP/1.1" 422 Unprocessable Entity', "uvicorn", "info",
     {"http_method": "POST", "http_path": "/items", "http_status": 422, "logger": "uvicorn.access"}),
    ('INFO:     127.0.0.1:43552 - "GET /items/abc?x=1 HTTP/1.1" 422 Unprocessable Content', "uvicorn", "info",
     {"http_path": "/items/abc", "http_status": 422}),
    ('INFO:     127.0.0.1:1 - "GET /x HTTP/1.1" 499 ', "uvicorn", "info", {"http_status": 499}),
    ("ERROR:    [Errno 98] error while attempting to bind on address ('127.0.0.1', 8711): address already in use",
     "uvicorn", "error", {"logger": "uvicorn.error"}),
    ("INFO:     Started server process [7566]", "uvicorn", "info", {"pid": 7566}),
    ('127.0.0.1:34886 - "GET /boom?q=1 HTTP/1.1" 500', "uvicorn", "info", {"http_status": 500, "http_path": "/boom"}),
    ("[2026-11-23 09:03:34 +0000] [9321] [CRITICAL] WORKER TIMEOUT (pid:9322)", "gunicorn", "critical",
     {"pid": 9321, "ts": datetime(2026, 11, 23, 9, 3, 34, tzinfo=UTC), "message": "WORKER TIMEOUT (pid:9322)"}),
    ("2026-11-23 09:08:01.530 | WARNING  | __main__:<module>:18 - Pool usage high: 95%", "loguru", "warning",
     {"logger": "__main__", "message": "Pool usage high: 95%", "ts": datetime(2026, 11, 23, 9, 8, 1, 530000, tzinfo=UTC)}),
    ("2026-11-23 09:08:01.536 | SUCCESS  | __main__:<module>:27 - Done | req_id=7f3a", "loguru", "info", {"request_id": "7f3a"}),
    ("2026-11-23 09:08:01.536 | INFO     | app.mw:dispatch:40 - request finished method=GET path=/slow status=200 duration_ms=1520.4 | {'request_id': 'r-9'}",
     "loguru", "info", {"request_id": "r-9", "http_method": "GET", "http_path": "/slow", "http_status": 200, "duration_ms": 1520.4}),
    ("2026-11-23 09:12:20.877 UTC [16454] postgres@postgres ERROR:  relation \"nosuch\" does not exist at character 15",
     "postgres", "error", {"pid": 16454, "db_user": "postgres", "db_name": "postgres", "message": 'relation "nosuch" does not exist at character 15'}),
    ("2026-11-23 09:12:20.867 UTC [16454] [unknown]@[unknown] LOG:  connection received: host=[local]", "postgres", "info",
     {"db_user": None}),
    ("2026-11-23 09:12:20 CET [7]: [3-1] user=app,db=shop,app=api,client=10.0.0.5 FATAL:  sorry, too many clients already",
     "postgres", "critical", {"pid": 7, "db_user": "app", "db_name": "shop", "logger": "api", "ts": datetime(2026, 11, 23, 8, 12, 20, tzinfo=UTC)}),
    ("2026-11-23 09:12:20.100 UTC [8] [user=app,db=shop,app=api] LOG:  duration: 1502.331 ms  statement: SELECT pg_sleep(1.5)",
     "postgres", "info", {"duration_ms": 1502.331, "db_user": "app"}),
    ("2026-11-23 09:02:48.516 UTC,\"postgres\",\"postgres\",8747,\"[local]\",6b040138.222b,2,\"initializing\",2026-11-23 09:02:48 UTC,,0,FATAL,53300,\"sorry, too many clients already\",,,,,,,,,\"\",\"client backend\",,0",
     "postgres_csv", "critical", {"sqlstate": "53300", "pid": 8747, "message": "sorry, too many clients already"}),
    ('{"timestamp":"2026-11-23 09:02:48.440 UTC","user":"app","dbname":"postgres","pid":8731,"error_severity":"FATAL","state_code":"28P01","message":"password authentication failed for user \\"app\\"","backend_type":"client backend","query_id":0}',
     "postgres_json", "critical", {"sqlstate": "28P01", "db_user": "app", "pid": 8731}),
    ("INFO  [alembic.runtime.migration] Running upgrade  -> aaa111, create users", "python", "info", {"logger": "alembic.runtime.migration"}),
    ("ERROR [alembic.util.messaging] Can't locate revision identified by 'deadbeef'", "python", "error", {"logger": "alembic.util.messaging"}),
    ("FAILED: Target database is not up to date.", "python", "error", {"logger": "alembic"}),
    ("2026-11-23 09:08:01,530 [INFO] app.db: connected", "python", "info", {"logger": "app.db", "message": "connected"}),
    ("2026-11-23 09:08:01,530 - app.worker - ERROR - job 7 failed", "python", "error", {"logger": "app.worker", "message": "job 7 failed"}),
    ("ERROR:asyncio:Task was destroyed but it is pending!", "python", "error", {"logger": "asyncio"}),
    ('{"asctime": "2026-11-23 09:00:00,123", "levelname": "WARNING", "name": "worker", "message": "slow job", "request_id": "q-9"}',
     "json", "warning", {"request_id": "q-9", "logger": "worker", "ts": datetime(2026, 11, 23, 9, 0, 0, 123000, tzinfo=UTC)}),
    ('{"event": "user login", "level": "info", "timestamp": "2026-11-23T09:00:00.5Z", "logger": "auth", "correlation_id": "c-1"}',
     "json", "info", {"message": "user login", "request_id": "c-1"}),
    ("just some words from a script", "plain", None, {"ts": None}),
]


@pytest.mark.parametrize(("line", "fmt", "level", "fields"), CASES, ids=[c[1] + str(i) for i, c in enumerate(CASES)])
def test_line_is_detected_and_parsed(write, line, fmt, level, fields):
    events, diag = read_events(write("one.log", line + "\n"))
    assert events.height == 1
    row = events.row(0, named=True)
    assert row["format"] == fmt
    assert row["level"] == level
    for key, value in fields.items():
        assert row[key] == value, key
    assert diag.lines_read == 1


def test_loguru_json_record(write):
    line = ('{"text": "2026-11-23 09:08:04.796 | ERROR    | app:h:20 - boom\\nTraceback (most recent call last):\\n  File \\"x\\", line 1\\nZeroDivisionError: division by zero\\n", '
            '"record": {"elapsed": {"repr": "0:00:00.017564", "seconds": 0.017564}, "exception": {"type": "ZeroDivisionError", "value": "division by zero", "traceback": true}, '
            '"extra": {"request_id": "req-123"}, "file": {"name": "lg.py", "path": "/tmp/lg/lg.py"}, "function": "h", "level": {"icon": "❌", "name": "ERROR", "no": 40}, '
            '"line": 20, "message": "boom", "module": "lg", "name": "app", "process": {"id": 12880, "name": "MainProcess"}, '
            '"thread": {"id": 1, "name": "MainThread"}, "time": {"repr": "2026-11-23 09:08:04.796340+00:00", "timestamp": 1795424884.79634}}}')
    events, _ = read_events(write("a.jsonl", line + "\n"))
    row = events.row(0, named=True)
    assert (row["format"], row["level"], row["request_id"], row["exc_type"], row["pid"]) == (
        "loguru_json", "error", "req-123", "ZeroDivisionError", 12880)
    assert "Traceback (most recent call last):" in row["text"]
    assert row["ts"] == datetime(2026, 11, 23, 9, 8, 4, 796340, tzinfo=UTC)


def test_forced_format_keeps_other_records_as_plain(write):
    path = write("x.log", "INFO:     Started server process [1]\nsomething else\n")
    events, diag = read_events(path, fmt="uvicorn")
    assert events.get_column("format").to_list() == ["uvicorn", "plain"]
    assert diag.lines_read == 2


def test_uvicorn_access_line_takes_time_of_previous_record(write):
    text = ("2026-11-23 09:08:01.530 | INFO     | app:h:1 - start\n"
            'INFO:     127.0.0.1:1 - "GET / HTTP/1.1" 200 OK\n')
    events, _ = read_events(write("a.log", text))
    rows = events.to_dicts()
    assert rows[1]["ts"] == rows[0]["ts"] and rows[1]["ts_inferred"] is True
    assert rows[0]["ts_inferred"] is False


def test_no_time_anywhere_stays_null(write):
    events, _ = read_events(write("a.log", 'INFO:     127.0.0.1:1 - "GET / HTTP/1.1" 200 OK\n'))
    assert events.get_column("ts").to_list() == [None]


def test_the_format_registry_is_every_module_that_declares_one_in_rank_order():
    """Adding a format is adding its module: the registry, --log-format's choices and the events' format
    values all come from the modules of analyzer.ingest.formats that define FORMAT."""
    import importlib
    import pkgutil

    import analyzer.ingest.formats as package
    from analyzer.commands.options import LogFormat
    from analyzer.events import FORMAT_NAMES
    from analyzer.ingest.formats import DATABASE_FORMATS, FORMATS
    from analyzer.ingest.formats.base import Format

    declared = {m.name for m in pkgutil.iter_modules(package.__path__)
                if isinstance(getattr(importlib.import_module(f"{package.__name__}.{m.name}"), "FORMAT", None), Format)}
    assert {f.name for f in FORMATS} == declared
    assert [f.rank for f in FORMATS] == sorted(f.rank for f in FORMATS) and FORMATS[-1].name == "plain"
    assert [f.name for f in FORMATS].index("loguru_json") < [f.name for f in FORMATS].index("json")
    assert {member.value for member in LogFormat} == declared
    assert set(FORMAT_NAMES) == declared | {"compose"}
    assert set(DATABASE_FORMATS) == {"postgres", "postgres_csv", "postgres_json"}


def _pattern_texts(value: object) -> list[str]:
    """The strings a module-level value holds (a pattern, a table of patterns, a Format's patterns)."""
    from analyzer.ingest.formats.base import Format

    if isinstance(value, str):
        return [value]
    if isinstance(value, Format):
        return [p for p in (value.header, value.aux, value.aux_words) if p]
    if isinstance(value, (tuple, list)):
        return [text for item in value for text in _pattern_texts(item)]
    return []


def test_patterns_the_ingest_stage_hands_to_polars_write_digits_as_ascii():
    """Polars compiles every pattern again each batch (its cache holds 32 per thread, a batch uses more): the
    Unicode `\\d` class triples the compile of the header and time patterns, for digits no logger prints."""
    import importlib
    import pkgutil

    import analyzer.ingest

    unicode_digits = []
    for info in pkgutil.walk_packages(analyzer.ingest.__path__, "analyzer.ingest."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if not name.startswith("__"):
                unicode_digits += [f"{info.name}.{name}" for text in _pattern_texts(value) if "\\d" in text]
    assert unicode_digits == []
