"""Lines that really continue the record before them are joined to it, not left as `plain`
records; lines that only look similar are not."""

from __future__ import annotations

import pytest

from tests.conftest import read_events

SQLALCHEMY = [
    "ERROR:    Exception in ASGI application",
    "Traceback (most recent call last):",
    '  File "app.py", line 3, in handler',
    "sqlalchemy.exc.DBAPIError: (sqlalchemy.dialects.postgresql.asyncpg.Error) <class 'asyncpg.exceptions.QueryCanceledError'>: canceling statement due to statement timeout",
    "[SQL: SELECT users.id, users.email, users.name ",
    "FROM users ",
    "WHERE users.id = $1::INTEGER]",
    "[parameters: (54577,)]",
    "(Background on this error at: https://sqlalche.me/e/20/dbapi)",
]
HTTPX = [
    "2026-11-23 00:00:14,300 [ERROR] app.worker: Job 663471 failed",
    "Traceback (most recent call last):",
    '  File "/usr/local/lib/python3.11/site-packages/httpx/_models.py", line 761, in raise_for_status',
    "httpx.HTTPStatusError: Server error '503 Service Unavailable' for url 'https://api.sendgrid.com/v3/mail/send'",
    "For more information check: https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/503",
]
POOL = [
    ("2026-11-23 00:00:16,125 [INFO] sqlalchemy.pool.impl.QueuePool: Invalidate connection <connection object at 0x7f0e; "
     "dsn: 'dbname=app host=db', closed: 2> (reason: OperationalError:server closed the connection unexpectedly"),
    "\tThis probably means the server terminated abnormally",
    "\tbefore or while processing the request.",
    ")",
]
NEXT = ["2026-11-23 00:00:17,000 [INFO] app.worker: Processing job 1 sync"]


@pytest.mark.parametrize(("block", "exc_type"), [(SQLALCHEMY, "sqlalchemy.exc.DBAPIError"), (HTTPX, "httpx.HTTPStatusError"), (POOL, None)])
@pytest.mark.parametrize("chunk", [None, 97])
def test_continuation_lines_join_their_record(write, block, exc_type, chunk):
    events, diag = read_events(write("a.log", "\n".join(block + NEXT) + "\n"), chunk_bytes=chunk)
    assert events.get_column("line_count").to_list() == [len(block), 1]
    assert "plain" not in events.get_column("format").to_list()
    assert events.get_column("exc_type").to_list()[0] == exc_type
    assert diag.lines_read == len(block) + 1


def test_unclosed_sql_bracket_does_not_swallow_the_next_record(write):
    lines = ["[SQL: SELECT 1", *NEXT, "free text after it"]
    events, _ = read_events(write("a.log", "\n".join(lines) + "\n"))
    assert events.get_column("line_count").to_list() == [1, 1, 1]


def text_of(*lines: str) -> str:
    return "".join(line + "\n" for line in lines)


def test_sql_lines_join_only_in_their_own_stream(write):
    text = text_of(
        "api-1  | ERROR:    Exception in ASGI application",
        "api-1  | [SQL: SELECT 1 ",
        "db-1   | some db line",
        "api-1  | FROM t]",
    )
    events, _ = read_events(write("compose.log", text))
    by_service = {row["service"]: row for row in events.to_dicts()}
    assert by_service["api"]["line_count"] == 3 and by_service["db"]["line_count"] == 1


def test_postgres_entrypoint_line_is_a_postgres_record(write):
    text = text_of(
        "db-1   | ",
        "db-1   | PostgreSQL Database directory appears to contain a database; Skipping initialization",
        "db-1   | ",
        "db-1   | 2026-11-23 00:01:30.720 UTC [1] LOG:  starting PostgreSQL 16.4",
    )
    events, diag = read_events(write("compose.log", text))
    rows = events.to_dicts()
    assert [r["format"] for r in rows] == ["postgres", "postgres"]
    assert rows[0]["logger"] == "docker-entrypoint.sh" and rows[0]["level"] is None
    assert rows[0]["message"].startswith("PostgreSQL Database directory") and rows[1]["logger"] == "postgres"
    assert not diag.unparsed and diag.lines_read == 4
