"""Short scripted SQL sessions with the real ``psql`` client (simple query protocol).

Used for the PostgreSQL phases that run no API: each session provokes, over
TCP on 127.0.0.1 as the password-authenticated ``app`` role, a missing
relation, slow statements, a statement timeout, a deadlock between two psql
processes and "too many clients" by opening more sessions than
``max_connections``. What was done and what each client saw is returned
for the manifest.
"""

from __future__ import annotations

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PSQL = "/usr/lib/postgresql/15/bin/psql"


def _psql(port: int, password: str, sql: str, *, db: str = "shop", user: str = "app",
          appname: str = "psql", timeout: float = 30, psql: str = PSQL) -> subprocess.CompletedProcess:
    env = dict(os.environ, PGPASSWORD=password, PGAPPNAME=appname, PGCONNECT_TIMEOUT="5",
               LC_ALL="C.UTF-8")
    return subprocess.run([psql, "-X", "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", db,
                           "-v", "ON_ERROR_STOP=1", "-c", sql],
                          env=env, capture_output=True, text=True, timeout=timeout)


def run_session(port: int, password: str, *, appname: str, db: str = "shop",
                max_connections: int = 12, psql: str = PSQL) -> dict:
    """Run the fixed error set once; return counts of what happened."""
    done: dict[str, int] = {}

    def q(sql: str, **kw) -> subprocess.CompletedProcess:
        return _psql(port, password, sql, db=db, appname=appname, psql=psql, **kw)

    # missing relation (SQLSTATE 42P01)
    r = q("SELECT id, total_cents FROM order_archive WHERE customer_id = 1")
    done["relation_missing"] = int("does not exist" in r.stderr)

    # slow statements (>= log_min_duration_statement = 500 ms)
    slow = 0
    for secs in (0.6, 0.8):
        r = q(f"SELECT pg_sleep({secs})")
        slow += int(r.returncode == 0)
    done["pg_slow_statement"] = slow

    # statement timeout (57014)
    r = q("SET statement_timeout = '250ms'; SELECT count(*) FROM orders, pg_sleep(2)")
    done["statement_timeout"] = int("statement timeout" in r.stderr)

    # deadlock (40P01) between two psql processes locking two rows in opposite order
    def transfer(a: int, b: int, delay: float) -> subprocess.CompletedProcess:
        time.sleep(delay)
        return q("BEGIN; "
                 f"UPDATE accounts SET balance_cents = balance_cents - 100 WHERE id = {a}; "
                 "SELECT pg_sleep(0.3); "
                 f"UPDATE accounts SET balance_cents = balance_cents + 100 WHERE id = {b}; "
                 "COMMIT;")
    with ThreadPoolExecutor(2) as ex:
        results = list(ex.map(lambda args: transfer(*args), [(1, 2, 0.0), (2, 1, 0.05)]))
    done["deadlock"] = sum("deadlock detected" in r.stderr for r in results)

    # too many clients: more concurrent sessions than max_connections
    n = max_connections + 4
    with ThreadPoolExecutor(n) as ex:
        results = list(ex.map(lambda k: q("SELECT pg_sleep(1.5)", timeout=30), range(n)))
    done["too_many_connections"] = sum("too many clients" in r.stderr for r in results)
    done["sessions_opened"] = n
    # every admitted session's 1.5 s sleep is a slow statement too (log_min_duration_statement = 500 ms)
    done["pg_slow_statement"] += sum(r.returncode == 0 for r in results)
    return done


def run_pgbench(bindir: Path, port: int, password: str, out_base: Path, *, db: str = "shop") -> dict:
    """Initialise and run a short pgbench (the ``plain`` sample: a CLI's output).

    Statement logging is disabled for these sessions (``PGOPTIONS``) so that
    pgbench's own statements do not add slow-statement lines to the server log.
    """
    env = dict(os.environ, PGPASSWORD=password, LC_ALL="C.UTF-8",
               PGOPTIONS="-c log_min_duration_statement=-1")
    base = [str(bindir / "pgbench"), "-h", "127.0.0.1", "-p", str(port), "-U", "app"]
    from capture import run_captured, write_lines
    init = run_captured("pgbench-init", base + ["-i", "-s", "1", db], env=env)
    bench = run_captured("pgbench", base + ["-c", "2", "-j", "1", "-t", "200", "-P", "1", db], env=env)
    lines = init.snapshot() + bench.snapshot()
    write_lines(lines, out_base, merged_only=True)
    return {"init_rc": init.returncode, "run_rc": bench.returncode}
