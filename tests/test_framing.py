"""Framing rules on real shapes: Docker json-file, compose prefixes, multi-line records."""

from __future__ import annotations

import json

import pytest

from tests.conftest import read_events

UVICORN_TRACEBACK = [
    "ERROR:    Exception in ASGI application",
    "Traceback (most recent call last):",
    '  File ".../uvicorn/protocols/http/h11_impl.py", line 411, in run_asgi',
    "    result = await app(  # type: ignore[func-returns-value]",
    "             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
    '  File "/tmp/uv/app.py", line 21, in boom',
    '    raise RuntimeError("kaboom")',
    "RuntimeError: kaboom",
]

CHAINED = [
    "ERROR:    Exception in ASGI application",
    "Traceback (most recent call last):",
    '  File "x.py", line 1, in f',
    "asyncpg.exceptions.UndefinedTableError: relation \"nosuch\" does not exist",
    "",
    "The above exception was the direct cause of the following exception:",
    "",
    "Traceback (most recent call last):",
    '  File "y.py", line 2, in g',
    "sqlalchemy.exc.ProgrammingError: (sqlalchemy.dialects.postgresql.asyncpg.ProgrammingError) <class 'asyncpg.exceptions.UndefinedTableError'>: relation \"nosuch\" does not exist",
    "[SQL: SELECT * FROM nosuch]",
    "(Background on this error at: https://sqlalche.me/e/20/f405)",
]

LOGURU_DIAGNOSE = [
    "2026-11-23 09:08:12.539 | ERROR    | __main__:catcher:9 - caught",
    "Traceback (most recent call last):",
    "",
    '  File "/tmp/lg/lg2.py", line 11, in <module>',
    "    main()",
    "    └ <function main at 0x7f4cf6ede8e0>",
    "",
    '> File "/tmp/lg/lg2.py", line 7, in catcher',
    "    inner()",
    "    └ <function inner at 0x7f4cf7bb84a0>",
    "",
    "ValueError: bad",
]

PG_DEADLOCK = [
    "2026-11-23 09:01:04.890 UTC [6888] ERROR:  deadlock detected",
    "2026-11-23 09:01:04.890 UTC [6888] DETAIL:  Process 6888 waits for ShareLock on transaction 730; blocked by process 6887.",
    "\tProcess 6887 waits for ShareLock on transaction 731; blocked by process 6888.",
    "\tProcess 6888: UPDATE t SET v='c2' WHERE id=1",
    "2026-11-23 09:01:04.890 UTC [6888] HINT:  See server log for query details.",
    "2026-11-23 09:01:04.890 UTC [6888] CONTEXT:  while updating tuple (0,1) in relation \"t\"",
    "2026-11-23 09:01:04.890 UTC [6888] STATEMENT:  UPDATE t SET v='c2' WHERE id=1",
]


def lines(*blocks: list[str]) -> str:
    return "\n".join(line for block in blocks for line in block) + "\n"


@pytest.mark.parametrize("chunk", [None, 64, 200])
def test_tracebacks_and_pg_records_join(write, chunk):
    text = lines(
        ["INFO:     Started server process [1]"], UVICORN_TRACEBACK,
        ['INFO:     127.0.0.1:1 - "GET /boom HTTP/1.1" 500 Internal Server Error'], CHAINED, LOGURU_DIAGNOSE,
        ["a plain line after"], PG_DEADLOCK, ["2026-11-23 09:01:05.000 UTC [6889] LOG:  checkpoint starting: wal"],
    )
    events, diag = read_events(write("app.log", text), chunk_bytes=chunk)
    rows = events.to_dicts()
    assert [r["line_count"] for r in rows] == [1, len(UVICORN_TRACEBACK), 1, len(CHAINED), len(LOGURU_DIAGNOSE), 1, len(PG_DEADLOCK), 1]
    assert [r["exc_type"] for r in rows][:5] == [None, "RuntimeError", None, "sqlalchemy.exc.ProgrammingError", "ValueError"]
    assert rows[6]["text"].endswith("STATEMENT:  UPDATE t SET v='c2' WHERE id=1")
    assert diag.lines_read == text.count("\n") == sum(r["line_count"] for r in rows) + diag.blank_lines


def test_bare_traceback_after_unrelated_line_is_its_own_record(write):
    text = lines(["INFO:     Application startup complete."], ["Traceback (most recent call last):", '  File "x", line 1', "KeyError: 'x'"])
    events, _ = read_events(write("a.log", text))
    assert events.get_column("line_count").to_list() == [1, 3]
    assert events.get_column("exc_type").to_list() == [None, "KeyError"]


def docker_entry(log: str, stream: str = "stdout", time: str = "2024-01-01T00:00:00.123456789Z") -> str:
    return json.dumps({"log": log, "stream": stream, "time": time}, separators=(",", ":"))


def test_docker_json_file_unwrapped_and_partials_rejoined(write):
    long_line = "2026-11-23 09:08:01.530 | INFO     | app:h:1 - " + "x" * 40000
    pieces = [long_line[i : i + 16384] for i in range(0, len(long_line), 16384)]
    entries = [docker_entry("INFO:     Started server process [1]\n", "stderr", "2024-01-01T00:00:00Z")]
    entries += [docker_entry(p + ("\n" if i == len(pieces) - 1 else ""), "stdout", "2024-01-01T00:00:01.5Z") for i, p in enumerate(pieces)]
    entries += [docker_entry(line + "\n", "stderr", "2024-01-01T00:00:02.1Z") for line in UVICORN_TRACEBACK]
    events, diag = read_events(write("c-json.log", "\n".join(entries) + "\n"), chunk_bytes=20000)
    rows = events.to_dicts()
    assert len(rows) == 3
    assert rows[0]["stream"] == "stderr" and str(rows[0]["ts"]) == "2024-01-01 00:00:00+00:00"
    assert rows[1]["message"].endswith("x" * 100) and len(rows[1]["text"]) == len(long_line)
    assert rows[1]["line_count"] == len(pieces) and rows[1]["format"] == "loguru"
    assert rows[2]["exc_type"] == "RuntimeError" and rows[2]["line_count"] == len(UVICORN_TRACEBACK)
    assert diag.lines_read == len(entries)


def test_invalid_docker_entry_is_kept_as_text_and_counted(write):
    text = docker_entry("INFO:     ok\n") + "\n" + '{"log":"trunc' + "\n" + docker_entry("INFO:     two\n") + "\n"
    events, diag = read_events(write("c-json.log", text))
    assert events.height == 3
    assert diag.sources[str(next(iter(diag.sources)))].bad_envelope_lines == 1


COMPOSE = [
    "Attaching to api-1, db-1",
    "db-1   | 2026-11-23 09:01:04.890 UTC [6888] ERROR:  deadlock detected",
    "api-1  | ERROR:    Exception in ASGI application",
    "api-1  | Traceback (most recent call last):",
    "db-1   | 2026-11-23 09:01:04.890 UTC [6888] DETAIL:  Process 6888 waits for ShareLock on transaction 730; blocked by process 6887.",
    '  api-1  |   File "/tmp/uv/app.py", line 21, in boom'.strip(),
    "db-1   | \tProcess 6887 waits for ShareLock on transaction 731; blocked by process 6888.",
    "api-1  |     raise RuntimeError(\"kaboom\")",
    "api-1  | RuntimeError: kaboom",
    "migrate-1  | INFO  [alembic.runtime.migration] Will assume transactional DDL.",
    "api-1      | INFO:     127.0.0.1:1 - \"GET /boom HTTP/1.1\" 500 Internal Server Error",
    "\r\x1b[Kapi-1 exited with code 137",
]


@pytest.mark.parametrize(
    ("rename", "expected_services"),
    [
        (lambda line: line, {"api", "db", "migrate"}),
        (lambda line: line.replace("-1 ", "_1 ").replace("-1,", "_1,").replace("api-1 exited", "api_1 exited"), {"api", "db", "migrate"}),
        (lambda line: line.replace("api-1", "shop-api-1").replace("db-1", "shop-db-1").replace("migrate-1", "shop-migrate-1"), {"api", "db", "migrate"}),
        (lambda line: f"\x1b[36m{line[:11]}\x1b[0m{line[11:]}" if "|" in line else line, {"api", "db", "migrate"}),
    ],
    ids=["v2.23", "v1", "v2.0-project", "ansi"],
)
def test_compose_split_per_service_and_traceback_joined_across_interleaving(write, cli, rename, expected_services):
    text = "\n".join(rename(line) for line in COMPOSE) + "\n"
    events, diag = read_events(write("compose.log", text))
    by_service = {}
    for row in events.to_dicts():
        by_service.setdefault(row["service"], []).append(row)
    assert set(by_service) - {"compose"} == expected_services
    api = by_service["api"]
    assert [r["format"] for r in api] == ["uvicorn", "uvicorn", "compose"]
    assert api[0]["line_count"] == 5 and api[0]["exc_type"] == "RuntimeError"
    assert "api" in api[2]["text"] and "137" in api[2]["text"]
    db = by_service["db"]
    assert len(db) == 1 and db[0]["line_count"] == 3 and db[0]["format"] == "postgres"
    assert diag.lines_read == len(COMPOSE)
    # the same bytes on stdin give the same events
    result = cli("events", "-", "--format", "count", input=text)
    assert result.exit_code == 0 and f"lines read {len(COMPOSE)}" in result.output


def test_compose_timestamps_after_prefix(write):
    text = "api-1  | 2024-01-01T00:00:00.123456789Z INFO:     127.0.0.1:1 - \"GET / HTTP/1.1\" 200 OK\n"
    events, _ = read_events(write("compose.log", text))
    row = events.row(0, named=True)
    assert row["http_status"] == 200 and str(row["ts"]) == "2024-01-01 00:00:00.123456+00:00"
    assert row["ts_inferred"] is False


def test_csvlog_multiline_records(write):
    text = (
        '2026-11-23 09:02:45.770 UTC,"postgres","postgres",8694,"[local]",6b040135.21f6,4,"UPDATE",2026-11-23 09:02:45 UTC,7/2,745,ERROR,40P01,"deadlock detected","Process 8694 waits for ShareLock on transaction 744; blocked by process 8693.\n'
        'Process 8693 waits for ShareLock on transaction 745; blocked by process 8694.","See server log for query details.",,,"while updating tuple (0,1) in relation ""t""","UPDATE t SET v=\'c2\' WHERE id=1",,,"","client backend",,0\n'
        "2026-11-23 09:02:45.102 UTC,,,8678,,6b040135.21e6,4,,2026-11-23 09:02:45 UTC,,0,LOG,00000,\"database system is ready to accept connections\",,,,,,,,,\"\",\"postmaster\",,0\n"
    )
    events, diag = read_events(write("pg.csv", text), chunk_bytes=100)
    rows = events.to_dicts()
    assert [r["format"] for r in rows] == ["postgres_csv", "postgres_csv"]
    assert rows[0]["sqlstate"] == "40P01" and rows[0]["line_count"] == 2
    assert '\tProcess 8693 waits' in rows[0]["text"] and 'relation "t"' in rows[0]["text"]
    assert diag.lines_read == 3
