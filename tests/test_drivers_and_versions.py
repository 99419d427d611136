"""Other versions and drivers: one root problem keeps one signature id (real lines, tests/real_lines/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from analyzer.commands.app import app
from analyzer.diagnostics import Diagnostics
from analyzer.ingest.pipeline import Pipeline
from analyzer.ingest.sources import resolve

REAL = Path(__file__).parent / "real_lines"


def incidents(*paths: Path) -> dict[tuple[str, str], int]:
    """Occurrences per (signature, service that logged them): one incident may span several services."""
    out = CliRunner().invoke(app, ["scan", *map(str, paths), "--format", "json"])
    return {(i["signature"], c["service"]): c["count"]
            for i in json.loads(out.stdout)["incidents"] for c in i["service_counts"]}


def test_postgres_custom_prefix_fields():
    diag = Diagnostics()
    ev = pl.concat(list(Pipeline(diag).run(resolve([str(REAL / "postgres15_custom_prefix.log")], diag))))
    assert set(ev.get_column("format")) == {"postgres"}
    row = ev.filter(pl.col("message").str.starts_with("sorry, too many clients")).row(0, named=True)
    assert (row["pid"], row["db_user"], row["db_name"], row["logger"], row["level"]) == (29775, "postgres", "shop", "postgres", "critical")
    assert str(row["ts"]) == "2026-12-03 19:02:00+00:00"
    received = ev.filter(pl.col("message").str.starts_with("connection received")).row(0, named=True)
    assert (received["db_user"], received["db_name"], received["logger"]) == (None, None, "postgres")  # `[unknown]`
    slow = ev.filter(pl.col("duration_ms").is_not_null()).row(0, named=True)
    assert slow["duration_ms"] == 1102.506 and slow["http_status"] is None


def test_one_id_per_problem_whatever_the_driver_or_version():
    found = incidents(REAL / "drivers_sync_sqlalchemy.log", REAL / "postgres15_custom_prefix.log")
    assert found[("too_many_connections", "postgres15_custom_prefix")] == 6  # 4 reserved-slots + 2 too-many-clients
    assert found[("too_many_connections", "drivers_sync_sqlalchemy")] == 6
    assert found[("pool_exhausted", "drivers_sync_sqlalchemy")] == 1
    assert found[("relation_missing", "drivers_sync_sqlalchemy")] == 1
    assert found[("pg_admin_terminate", "drivers_sync_sqlalchemy")] == 1
    assert found[("stale_connection", "drivers_sync_sqlalchemy")] == 1
    assert not any(sig == "connection_slots_reserved" for sig, _ in found)


def test_postgres_prefixes_with_fields_glued_to_the_time_or_before_it():
    diag = Diagnostics()
    ev = pl.concat(list(Pipeline(diag).run(resolve([str(REAL / "postgres15_other_prefixes.log")], diag))))
    assert set(ev.get_column("format")) == {"postgres"}
    rows = ev.filter(pl.col("level") == "error").select("ts", "pid", "db_user", "db_name", "message", "line_count").rows()
    assert [(str(ts), pid, user, db, n) for ts, pid, user, db, _, n in rows] == [
        ("2026-12-03 19:39:19+00:00", 16436, "app", "shop", 2),  # %t:%r:%u@%d:[%p]:
        ("2026-12-03 19:39:21.273000+00:00", 16468, None, None, 2),  # [%p] %m %a: the app name has no label
    ]
    assert all(m.startswith('relation "nosuch') for *_, m, _ in rows)


def test_compose_v1_prefixes_around_the_new_layouts(tmp_path):
    # `docker-compose` v1 prefixes (`web_1  | `, reference 8.3) around real lines of the fixtures, interleaved by service
    web = (REAL / "loguru_intercept_422_storm.log").read_text().splitlines()
    db = (REAL / "postgres15_custom_prefix.log").read_text().splitlines()
    lines = []
    for i in range(max(len(web), len(db))):
        if i < len(web):
            lines.append(f"web_1  | {web[i]}")
        if i < len(db):
            lines.append(f"db_1   | {db[i]}")
    log = tmp_path / "compose.log"
    log.write_text("\n".join(lines) + "\n")
    found = incidents(log)
    assert found[("http_422_storm", "web")] == 25
    assert found[("too_many_connections", "db")] == 6


def test_pg8000_errors_keep_their_signatures():
    """pg8000 prints the server's error fields as a dict repr and its own refused-connection text (real lines)."""
    found = incidents(REAL / "drivers_pg8000.log")
    assert found == {("db_connection_refused", "drivers_pg8000"): 1, ("relation_missing", "drivers_pg8000"): 1,
                     ("deadlock", "drivers_pg8000"): 1, ("too_many_connections", "drivers_pg8000"): 1}


def test_psycopg_pools_timeout_is_the_pool_exhausted():
    """psycopg 3's own pool (no SQLAlchemy) says so in its own words: the same problem, the same signature."""
    assert incidents(REAL / "drivers_psycopg_pool.log") == {("pool_exhausted", "drivers_psycopg_pool"): 2}
