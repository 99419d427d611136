"""The match stage: real-sample matches, priority resolution, captures, field-only
signatures, and that no user pattern can make a scan hang."""

from __future__ import annotations

import json
import time
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from analyzer.analysis.match import MATCH_SCHEMA, match_events
from analyzer.analysis.signatures import SignatureError, load_signatures
from tests.conftest import ROOT, read_events

BUILTIN = load_signatures()


def matched(events: pl.DataFrame, matches: pl.DataFrame) -> list[tuple[int, str, str]]:
    """(line_no, signature, key) of every match, for readable expectations."""
    lines = events.get_column("line_no")
    return [(lines[row], sig, key) for row, sig, key in matches.select("row", "signature", "key").iter_rows()]


def sig_folder(tmp_path: Path, *tables: str) -> Path:
    folder = tmp_path / "sigs"
    folder.mkdir(exist_ok=True)
    (folder / "test.toml").write_text("\n".join(tables))
    return folder


def table(sig_id: str, pattern: str, extra: str = "") -> str:
    return (
        f'[[signature]]\nid = "{sig_id}"\ntitle = "{sig_id}"\nseverity = "low"\nrole = "cause"\n'
        f"pattern = {json.dumps(pattern, ensure_ascii=False)}\n{extra}"
    )


def test_postgres_sample_matches_exactly_the_injected_problems():
    events, _ = read_events(ROOT / "samples" / "postgres" / "user-db-app.log")
    matches = match_events(events, BUILTIN)
    assert matches.schema == pl.Schema(MATCH_SCHEMA)
    slow_lines = [8, 9, *range(24, 36)]  # 0.6 s, 0.8 s and the twelve 1.5 s sessions
    assert sorted(matched(events, matches)) == sorted(
        [(6, "relation_missing", "order_archive"), (10, "statement_timeout", ""), (12, "deadlock", "")]
        + [(line, "too_many_connections", "") for line in range(20, 24)]
        + [(line, "pg_slow_statement", "") for line in slow_lines]
        + [(36, "pg_shutdown_request", "")]
    )
    deadlock = matches.filter(pl.col("signature") == "deadlock").get_column("captures")[0]
    assert json.loads(deadlock) == {"relation": "accounts"}


def test_catch_all_yields_to_the_specific_signature():
    events, _ = read_events(ROOT / "samples" / "api" / "api-text.log")
    matches = match_events(events, BUILTIN)
    per_row = matches.group_by("row").agg(pl.col("signature"))
    assert per_row.filter(pl.col("signature").list.len() > 1).height == 0
    greenlet = matches.filter(pl.col("signature") == "missing_greenlet")
    assert greenlet.height == 2
    assert all("Exception in ASGI application" in events.get_column("text")[row] for row in greenlet.get_column("row"))
    assert json.loads(greenlet.get_column("captures")[0]) == {"call": "await_"}
    pool = matches.filter(pl.col("signature") == "pool_exhausted")
    assert [json.loads(c) for c in pool.get_column("captures")] == [
        {"pool_size": "2", "max_overflow": "0", "timeout": "0.30", "waited": None}  # psycopg_pool's group: unset
    ] * 3


def test_priority_keeps_the_highest_and_all_ties(tmp_path):
    folder = sig_folder(
        tmp_path,
        table("generic", "failed", "priority = -1\n"),
        table("specific_a", r"job (?P<job>\w+) failed"),
        table("specific_b", r"failed after (?P<tries>\d+) tries", 'key = ["tries"]\n'),
        table("window_rule", "failed", '[signature.window]\nwindow = "5m"\nmin_count = 3\n'),
    )
    sigs = load_signatures([folder], builtin=False)
    log = tmp_path / "worker.log"
    log.write_text(
        "2026-11-23 09:00:00,001 ERROR [worker] job sync failed after 3 tries\n"
        "2026-11-23 09:00:01,001 ERROR [worker] upload failed\n"
    )
    events, _ = read_events(log)
    assert matched(events, match_events(events, sigs)) == [
        (1, "specific_a", ""),
        (1, "specific_b", "3"),
        (1, "window_rule", ""),
        (2, "generic", ""),
        (2, "window_rule", ""),
    ]
    assert sigs["window_rule"].window_seconds == 300.0 and sigs["window_rule"].min_count == 3


def test_field_only_signatures_and_keys_with_missing_captures(tmp_path):
    folder = sig_folder(
        tmp_path,
        '[[signature]]\nid = "teapot"\ntitle = "t"\nseverity = "info"\nrole = "symptom"\n'
        '[signature.when]\nhttp_status = 418\nhttp_method = ["GET", "HEAD"]\n',
        table("user_or_db", r'for (?:user "(?P<user>\w+)"|database "(?P<db>\w+)")', 'key = ["user", "db"]\n'),
    )
    sigs = load_signatures([folder], builtin=False)
    log = tmp_path / "mixed.log"
    log.write_text(
        'INFO:     127.0.0.1:43528 - "GET /tea HTTP/1.1" 418 I\'m a Teapot\n'
        'INFO:     127.0.0.1:43529 - "POST /tea HTTP/1.1" 418 I\'m a Teapot\n'
        'INFO:     127.0.0.1:43530 - "GET /tea HTTP/1.1" 200 OK\n'
        'ERROR:    password authentication failed for database "shop"\n'
    )
    events, _ = read_events(log)
    matches = match_events(events, sigs)
    assert matched(events, matches) == [(1, "teapot", ""), (4, "user_or_db", "|shop")]
    assert json.loads(matches.get_column("captures")[1]) == {"user": None, "db": "shop"}


def test_empty_input_gives_an_empty_match_frame():
    events, _ = read_events(ROOT / "samples" / "alembic" / "upgrade-head.log")
    assert match_events(events.clear(), BUILTIN).schema == pl.Schema(MATCH_SCHEMA)
    assert match_events(events, BUILTIN).height == 0


# --- no user pattern can hang a scan ---------------------------------------------

HOSTILE = pl.DataFrame({"text": ["a" * 5000 + "!", "ab" * 2500, "(" * 3000 + "x", "word " * 1000, ""] * 40})
FRAGMENTS = st.sampled_from(
    ["a", "b", "(", ")", "(?:", "(?P<g>", "*", "+", "?", "{2,}", "{1000}", "|", ".", "\\w", "\\d", "\\s", "\\b",
     "^", "$", "[", "]", "[^a]", "(?=", "(?<=", "\\1", "(?i)", "\\", "-", "!"]
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(FRAGMENTS, min_size=1, max_size=14).map("".join))
@example("(a+)+!")
@example("(a|aa)*b")
@example("(\\w+\\s?)*$")
@example("(?:a*)*(?:a*)*(?:a*)*c")
def test_any_pattern_is_rejected_clearly_or_runs_in_bounded_time(tmp_path, pattern):
    folder = sig_folder(tmp_path, table("user_rule", pattern))
    try:
        sigs = load_signatures([folder], builtin=False)
    except SignatureError as exc:
        [problem] = exc.problems
        assert problem.key == 'signature[1] (id "user_rule").pattern' and problem.message
        return
    start = time.perf_counter()
    match_events(HOSTILE, sigs)
    assert time.perf_counter() - start < 2.0


def test_keywords_are_literal_text(tmp_path):
    keyword = "(pid:1) [x]* a.b|c^$ #&-~{2}\\d"
    folder = sig_folder(
        tmp_path,
        '[[signature]]\nid = "literal"\ntitle = "t"\nseverity = "low"\nrole = "cause"\n'
        f"keywords = [{json.dumps(keyword)}]\n",
    )
    log = tmp_path / "plain.log"
    log.write_text(f"worker {keyword} stopped\npid:1 xxx aXb\n")
    events, _ = read_events(log)
    assert matched(events, match_events(events, load_signatures([folder], builtin=False))) == [(1, "literal", "")]
