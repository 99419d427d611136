"""The runs of real software, one function per PostgreSQL phase.

Each phase (re)starts the PostgreSQL cluster with its own ``log_line_prefix``
and runs real programs against it, capturing their output:

``main``      ``'%m [%p] '`` (PostgreSQL's default, as in the official Docker
              image): the compose project: ``migrate`` (alembic upgrade),
              ``worker`` (structlog), ``notifier`` (python-json-logger),
              ``api`` (uvicorn + Loguru text) under the full load, a second
              uvicorn on the same port, then the api is SIGKILLed (exit 137).
``debian``    ``'%m [%p] %q%u@%d '`` (Debian's pg_createcluster default),
              connection logging on: the broken alembic runs, a psql
              session with errors, pgbench.
``pgbadger``  ``'%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h '``, connections
              and disconnections logged: the api with Loguru ``serialize=True``.
``bracket``   ``'%m [%p] %q[user=%u,db=%d,app=%a] '``: gunicorn with uvicorn
              workers (worker timeout), a psql session with errors.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

import alembic_runs
import psql_sessions
import scenarios
from capture import CapturedProcess, run_captured
from pgctl import PgCluster, Phase, free_port

APP_DIR = Path(__file__).resolve().parent / "app"
APP_PASSWORD = "app-secret-pw"
PY = sys.executable

PREFIX_DEFAULT = "%m [%p] "
PREFIX_DEBIAN = "%m [%p] %q%u@%d "
PREFIX_PGBADGER = "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h "
PREFIX_BRACKET = "%m [%p] %q[user=%u,db=%d,app=%a] "


def app_env(cluster: PgCluster, db: str = "shop", **extra) -> dict:
    import os
    env = dict(os.environ, PYTHONUNBUFFERED="1", DATABASE_URL=cluster.url("app", APP_PASSWORD, db),
               PYTHONPATH=str(APP_DIR))
    env.pop("PYTHONWARNINGS", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def uvicorn_argv(port: int) -> list[str]:
    return [PY, "-m", "uvicorn", "shop.main:app", "--host", "127.0.0.1", "--port", str(port)]


def setup(cluster: PgCluster) -> None:
    """Roles and databases (not part of any sample: the 'docker-entrypoint' step)."""
    cluster.start(Phase("setup", PREFIX_DEFAULT, extra={"log_min_duration_statement": -1}))
    cluster.psql(f"CREATE ROLE app LOGIN SUPERUSER PASSWORD '{APP_PASSWORD}'")
    cluster.psql("CREATE DATABASE shop OWNER app")
    cluster.psql("CREATE DATABASE shop_staging OWNER app")
    cluster.stop()


def main_phase(cluster: PgCluster) -> dict:
    cluster.start(Phase("main", PREFIX_DEFAULT))
    res: dict = {"phase": "main", "prefix": PREFIX_DEFAULT}
    res["db_started_ns"] = cluster.tailer.snapshot()[0].ts_ns if cluster.tailer.snapshot() else time.time_ns()
    env = app_env(cluster)

    time.sleep(0.5)
    res["migrate"] = alembic_runs.upgrade_head(env)

    res["worker"] = CapturedProcess("worker", [PY, "-m", "shop.worker"], cwd=APP_DIR,
                                    env=dict(env, WORKER_ROUNDS="12", WORKER_INTERVAL="2.5")).start()
    time.sleep(0.3)
    port = free_port()
    api = CapturedProcess("api", uvicorn_argv(port), cwd=APP_DIR, env=dict(env, LOG_FORMAT="text")).start()
    res["api"] = api
    api.wait_for(b"Uvicorn running")
    res["api_port"] = port
    res["notifier"] = CapturedProcess("notifier", [PY, "-m", "shop.notifier"], cwd=APP_DIR,
                                      env=dict(env, NOTIFIER_INTERVAL="3")).start()

    driver = scenarios.Driver(f"http://127.0.0.1:{port}")

    async def load():
        try:
            return await scenarios.main_api_load(driver)
        finally:
            await driver.close()

    res["scenarios"] = asyncio.run(load())
    res["requests"] = driver.requests

    # a second uvicorn on the same port: address already in use
    res["dup"] = run_captured("api-dup", uvicorn_argv(port), cwd=APP_DIR,
                              env=dict(env, LOG_FORMAT="text"), timeout=60)
    time.sleep(0.5)
    for p in (res["worker"], res["notifier"]):
        p.wait(timeout=60)
    # the api container is killed with SIGKILL (what the kernel OOM killer sends): exit 137
    api.send_signal(signal.SIGKILL)
    api.wait(timeout=30)
    time.sleep(0.5)
    res["db_lines"] = cluster.stop()
    res["db_ended_ns"] = time.time_ns()
    res["csv"] = cluster.log_path("csv", "main")
    res["json"] = cluster.log_path("json", "main")
    res["log"] = cluster.log_path("log", "main")
    return res


def debian_phase(cluster: PgCluster, out_tmp: Path) -> dict:
    cluster.start(Phase("debian", PREFIX_DEBIAN, log_connections=True))
    res: dict = {"phase": "debian", "prefix": PREFIX_DEBIAN}
    env = app_env(cluster)
    # alembic: multiple heads, then a database stamped with an unknown revision, then "not up to date"
    res["alembic_multiple_heads"] = alembic_runs.multiple_heads(env)
    staging = app_env(cluster, db="shop_staging")
    res["staging_upgrade"] = alembic_runs.upgrade_head(staging)
    cluster.psql(f"UPDATE alembic_version SET version_num = '{alembic_runs.STALE_REVISION}'",
                 db="shop_staging")
    res["alembic_missing_revision"] = alembic_runs.missing_revision(staging)
    res["alembic_not_up_to_date"] = alembic_runs.not_up_to_date(env)
    res["psql"] = psql_sessions.run_session(cluster.port, APP_PASSWORD, appname="psql",
                                            max_connections=cluster.max_connections)
    res["pgbench"] = psql_sessions.run_pgbench(cluster.bindir, cluster.port, APP_PASSWORD, out_tmp / "pgbench")
    res["pgbench_log"] = out_tmp / "pgbench.log"
    res["db_lines"] = cluster.stop()
    res["log"] = cluster.log_path("log", "debian")
    return res


def pgbadger_phase(cluster: PgCluster) -> dict:
    cluster.start(Phase("pgbadger", PREFIX_PGBADGER, log_connections=True, log_disconnections=True))
    res: dict = {"phase": "pgbadger", "prefix": PREFIX_PGBADGER}
    env = app_env(cluster, LOG_FORMAT="json")
    port = free_port()
    api = CapturedProcess("api-json", uvicorn_argv(port), cwd=APP_DIR, env=env).start()
    api.wait_for(b"Uvicorn running")
    driver = scenarios.Driver(f"http://127.0.0.1:{port}")

    async def load():
        try:
            return await scenarios.json_api_load(driver)
        finally:
            await driver.close()

    res["scenarios"] = asyncio.run(load())
    res["requests"] = driver.requests
    res["api"] = api
    api.stop(signal.SIGTERM, timeout=30)
    res["db_lines"] = cluster.stop()
    res["log"] = cluster.log_path("log", "pgbadger")
    return res


def bracket_phase(cluster: PgCluster) -> dict:
    cluster.start(Phase("bracket", PREFIX_BRACKET))
    res: dict = {"phase": "bracket", "prefix": PREFIX_BRACKET}
    env = app_env(cluster, LOG_FORMAT="text", APP_NAME="shop-gunicorn")
    port = free_port()
    g = CapturedProcess("gunicorn", [PY, "-m", "gunicorn", "shop.main:app", "-k", "uvicorn.workers.UvicornWorker",
                                     "-w", "2", "-b", f"127.0.0.1:{port}", "--timeout", "3",
                                     "--graceful-timeout", "5", "--access-logfile", "-"],
                        cwd=APP_DIR, env=env).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if sum(b"Application startup complete" in l.data for l in g.snapshot()) >= 2:
            break
        time.sleep(0.1)
    driver = scenarios.Driver(f"http://127.0.0.1:{port}")

    async def load():
        try:
            return await scenarios.gunicorn_load(driver)
        finally:
            await driver.close()

    res["scenarios"] = asyncio.run(load())
    res["requests"] = driver.requests
    time.sleep(1.0)
    res["gunicorn_rc"] = g.stop(signal.SIGTERM, timeout=40)
    res["gunicorn"] = g
    res["psql"] = psql_sessions.run_session(cluster.port, APP_PASSWORD, appname="nightly-report",
                                            max_connections=cluster.max_connections)
    res["db_lines"] = cluster.stop()
    res["log"] = cluster.log_path("log", "bracket")
    return res


def pg13_phase(base: Path, cache: Path) -> dict:
    """Optional: a PostgreSQL 13 cluster (24-column csvlog) with one psql session."""
    import pg13
    native = pg13.fetch_pg13(cache)
    cluster = PgCluster(base, bindir=native / "bin", jsonlog=False)
    cluster.init("pg13-superuser-pw")
    cluster.start(Phase("setup", PREFIX_DEFAULT, extra={"log_min_duration_statement": -1}))
    cluster.psql(f"CREATE ROLE app LOGIN SUPERUSER PASSWORD '{APP_PASSWORD}'")
    cluster.psql("CREATE DATABASE shop OWNER app")
    cluster.psql("CREATE TABLE orders (id serial PRIMARY KEY, status text, total_cents int);"
                 "CREATE TABLE accounts (id int PRIMARY KEY, balance_cents int);"
                 "INSERT INTO orders (status, total_cents) VALUES ('paid', 1299), ('new', 349);"
                 "INSERT INTO accounts VALUES (1, 100000), (2, 100000);", db="shop")
    cluster.stop()
    cluster.start(Phase("pg13", PREFIX_DEFAULT))
    res = {"phase": "pg13", "version": cluster.version()}
    res["psql"] = psql_sessions.run_session(cluster.port, APP_PASSWORD, appname="psql",
                                            max_connections=cluster.max_connections)
    res["db_lines"] = cluster.stop()
    res["csv"] = cluster.log_path("csv", "pg13")
    res["log"] = cluster.log_path("log", "pg13")
    return res
