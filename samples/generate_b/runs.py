"""The runs of real software for sample set B, and the bounded load that provokes the incidents.

``compose`` phase (PostgreSQL log file ``compose.*``): the worker starts before
the database (connection refused, retried), then PostgreSQL 17 starts, then
``web`` (gunicorn, 2 ``uvicorn_worker.UvicornWorker``, stdout and stderr merged
by ``exec ... 2>&1``) and ``legacy`` (gunicorn sync workers, custom access
format) take the load below; everything is stopped with SIGTERM.

``dev`` phase (``dev.*``): the same API run twice by plain uvicorn on a
developer machine: the text logging style and the Loguru style (the 422 storm).

Every request carries an ``X-Request-ID`` chosen by the driver
(``samples/generate/scenarios.Driver``), so the manifest names the requests
that failed and how; the JSON style answers a 500 with the exception type.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "generate"))

import scenarios  # noqa: E402  (set A's Driver: X-Request-ID, per-request record)
from capture import CapturedProcess  # noqa: E402
from pgctl import PgCluster, Phase, free_port  # noqa: E402

APP_DIR = HERE / "app"
PY = sys.executable
APP_PASSWORD = "ledger-app-pw"
PREFIX = "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h "
MAX_CONNECTIONS = 16
LEGACY_TIMEOUT_S = 2

SCHEMA = """
CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, prefs jsonb NOT NULL);
CREATE TABLE invoices (id int PRIMARY KEY, total_cents int NOT NULL, paid_cents int NOT NULL, currency text NOT NULL);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL, sku text NOT NULL, qty int NOT NULL,
                     created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO accounts VALUES (1, 100000), (2, 100000), (3, 5000);
INSERT INTO customers VALUES (1, 'Ada', '{"theme": "dark", "lang": "en"}'), (2, 'Grace', '{"theme": "light"}'),
                             (3, 'Linus', '{"lang": "fi"}');
INSERT INTO invoices VALUES (1, 12000, 6000, 'EUR'), (2, 5000, 5000, 'USD'), (3, 0, 0, 'EUR'), (4, 9900, 0, 'GBP');
INSERT INTO orders (customer_id, sku, qty) SELECT 1 + i % 3, 'SKU-' || (4700 + i % 7), 1 + i % 4
  FROM generate_series(1, 40) AS i;
"""


def setup(cluster: PgCluster) -> None:
    """Role, database, schema, seed rows (the 'docker-entrypoint-initdb.d' step; not a sample)."""
    cluster.start(Phase("setup", PREFIX, extra={"log_min_duration_statement": -1}))
    cluster.psql(f"CREATE ROLE app LOGIN PASSWORD '{APP_PASSWORD}'")  # not a superuser
    cluster.psql("CREATE DATABASE ledger OWNER app")
    cluster.psql(SCHEMA, db="ledger", user="app")
    cluster.stop()


def env_for(cluster: PgCluster, **extra) -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(APP_DIR),
               DATABASE_URL=cluster.url("app", APP_PASSWORD, "ledger", driver="postgresql+psycopg"))
    env.pop("PYTHONWARNINGS", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def wait_count(p: CapturedProcess, needle: bytes, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(needle in l.data for l in p.snapshot()) >= n:
            return
        if p.proc.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"{p.name}: {n}x {needle!r} not seen:\n"
                       + b"".join(l.data for l in p.snapshot()).decode(errors="replace")[-3000:])


# --- load --------------------------------------------------------------------

NORMAL = [
    ("GET", "/orders/{k}", "/orders/{order_id}", None),
    ("POST", "/orders", "/orders", "order"),
    ("GET", "/customers/{c}/prefs", "/customers/{customer_id}/prefs", None),
    ("GET", "/invoices/{c}/ratio", "/invoices/{invoice_id}/ratio", None),
    ("GET", "/orders/{k}", "/orders/{order_id}", None),
    ("GET", "/health", "/health", None),
]


async def normal(d: scenarios.Driver, n: int, *, start: int = 0, concurrency: int = 1,
                 pause: float = 0.02, scenario: str = "normal") -> list:
    """Ordinary successful traffic over the read and write routes."""
    async def one(k: int):
        method, path, route, body = NORMAL[k % len(NORMAL)]
        path = path.format(k=1 + k % 30, c=1 + k % 2)
        js = {"customer_id": 1 + k % 3, "sku": f"SKU-{4700 + k % 7}", "qty": 1 + k % 3} if body else None
        return await d.send(method, path, route=route, scenario=scenario, json=js)
    out = []
    for base in range(start, start + n, concurrency):
        out += await asyncio.gather(*(one(k) for k in range(base, min(base + concurrency, start + n))))
        await asyncio.sleep(pause)
    return out


async def with_burst(d: scenarios.Driver, coro, k0: int):
    """Run ``coro`` while 12 normal requests run concurrently (log lines of both interleave)."""
    res = await asyncio.gather(coro, normal(d, 12, start=k0, concurrency=12, scenario="normal-burst"))
    return res[0]


async def web_load(d: scenarios.Driver) -> None:
    S = d.send
    await normal(d, 40, concurrency=2)
    for k in range(3):  # validation errors below any storm threshold
        await S("POST", "/orders", route="/orders", scenario="422-few", json={"customer_id": 1, "sku": "X", "qty": 0})
    await S("GET", "/orders/99999", route="/orders/{order_id}", scenario="404")
    for _ in range(3):
        await S("GET", "/reports/daily", route="/reports/daily", scenario="slow")
        await normal(d, 4, start=3)
    k = 100
    for scen, path, route in [
        ("zero-division", "/invoices/3/ratio", "/invoices/{invoice_id}/ratio"),
        ("key-error-currency", "/invoices/4/ratio", "/invoices/{invoice_id}/ratio"),
        ("key-error-prefs", "/customers/3/prefs", "/customers/{customer_id}/prefs"),
        ("undefined-table", "/orders/archive", "/orders/archive"),
    ] * 2:
        await with_burst(d, S("GET", path, route=route, scenario=scen), k)
        k += 12
        await asyncio.sleep(0.1)
    await normal(d, 12, start=200, concurrency=3)
    # six concurrent exports against a pool of 1 (+0 overflow, 0.5 s timeout) per worker
    await asyncio.gather(*(S("GET", "/reports/export", route="/reports/export", scenario="pool")
                           for _ in range(6)))
    await normal(d, 12, start=220, concurrency=3)
    for _ in range(2):  # opposite transfers: each locks its source row, then wants the other's
        await asyncio.gather(
            S("POST", "/accounts/transfer", route="/accounts/transfer", scenario="deadlock",
              json={"src": 1, "dst": 2, "amount": 100}),
            S("POST", "/accounts/transfer", route="/accounts/transfer", scenario="deadlock",
              json={"src": 2, "dst": 1, "amount": 50}))
        await normal(d, 6, start=240)
    for _ in range(2):
        await S("POST", "/warehouses/sync", route="/warehouses/sync", scenario="too-many-connections")
        await asyncio.sleep(0.3)
        await normal(d, 6, start=260)
    await normal(d, 40, start=300, concurrency=2)


async def legacy_load(d: scenarios.Driver) -> None:
    S = d.send
    async def status(n):
        for _ in range(n):
            await S("GET", "/legacy/status", route="/legacy/status", scenario="normal")
            await asyncio.sleep(0.05)
    await status(25)
    await S("GET", "/legacy/report", route="/legacy/report", scenario="slow")
    await status(5)
    await S("GET", "/legacy/export", route="/legacy/export", scenario="worker-timeout")
    await status(5)
    await S("GET", "/legacy/report", route="/legacy/report", scenario="slow")
    await S("GET", "/legacy/nope", route="/legacy/nope", scenario="404")
    await status(15)


async def text_load(d: scenarios.Driver) -> None:
    S = d.send
    await normal(d, 30)
    for _ in range(2):
        await S("GET", "/reports/daily", route="/reports/daily", scenario="slow")
        await normal(d, 5, start=40)
    await S("POST", "/orders", route="/orders", scenario="422-few", json={"customer_id": "abc", "sku": "X", "qty": 1})
    await S("GET", "/invoices/3/ratio", route="/invoices/{invoice_id}/ratio", scenario="zero-division")
    await normal(d, 20, start=60)


async def loguru_load(d: scenarios.Driver) -> None:
    S = d.send
    await normal(d, 100, concurrency=2)
    # a client with an outdated payload schema: customer_id sent as a string, qty missing
    bad = {"customer_id": "C-1042", "sku": "SKU-4701"}
    for base in range(0, 130, 5):
        await asyncio.gather(*(S("POST", "/orders", route="/orders", scenario="422-storm", json=bad)
                               for _ in range(5)))
        await asyncio.sleep(0.05)
    await S("GET", "/customers/3/prefs", route="/customers/{customer_id}/prefs", scenario="key-error-prefs")
    await normal(d, 100, start=50, concurrency=2)


def drive(base_url: str, load) -> list:
    async def go():
        d = scenarios.Driver(base_url, timeout=20)
        try:
            await load(d)
        finally:
            await d.close()
        return d.requests
    return asyncio.run(go())


def drive_many(pairs: list[tuple[str, object]]) -> list[list]:
    async def go():
        drivers = [scenarios.Driver(u, timeout=20) for u, _ in pairs]
        try:
            await asyncio.gather(*(load(d) for d, (_, load) in zip(drivers, pairs)))
        finally:
            for d in drivers:
                await d.close()
        return [d.requests for d in drivers]
    return asyncio.run(go())


# --- phases --------------------------------------------------------------------

def job_plan() -> list[dict]:
    names = ["invoice_sync", "balance_check", "invoice_sync", "rebuild_search_index", "invoice_sync",
             "balance_check", "invoice_sync", "invoice_sync", "rebuild_search_index", "balance_check",
             "invoice_sync", "invoice_sync"]
    return [{"id": f"job-{uuid.uuid4().hex[:12]}", "job": n} for n in names]


def compose_phase(cluster: PgCluster, tmp: Path) -> dict:
    res: dict = {"phase": "compose", "prefix": PREFIX}
    plan = job_plan()
    result_file = tmp / "worker-result.json"
    worker = CapturedProcess("worker", [PY, str(APP_DIR / "jobs_worker.py")], cwd=APP_DIR, env=env_for(
        cluster, JOB_PLAN=json.dumps(plan), JOB_INTERVAL="1.5", RESULT_FILE=result_file,
        WORKER_DSN=cluster.url("app", APP_PASSWORD, "ledger", driver="postgresql"))).start()
    # the database container is still starting: let the worker fail to connect twice first
    wait_count(worker, b"database connect failed", 2, timeout=30)
    cluster.start(Phase("compose", PREFIX, log_connections=True, log_disconnections=True))
    web_port, legacy_port = free_port(), free_port()
    web_cmd = (f"exec {PY} -m gunicorn ledger.main:app -k uvicorn_worker.UvicornWorker -w 2 "
               f"-b 127.0.0.1:{web_port} --timeout 30 --graceful-timeout 5 2>&1")
    web = CapturedProcess("web", ["sh", "-c", web_cmd], cwd=APP_DIR,
                          env=env_for(cluster, LOG_STYLE="json", APP_NAME="ledger-web")).start()
    legacy = CapturedProcess("legacy", [PY, "-m", "gunicorn", "-c", str(APP_DIR / "gunicorn_legacy.conf.py"),
                                        "-b", f"127.0.0.1:{legacy_port}", "legacy_wsgi:app"],
                             cwd=APP_DIR, env=env_for(cluster)).start()
    wait_count(web, b"Application startup complete", 2)
    wait_count(legacy, b"Booting worker", 2)
    res["web_cmd"] = ["sh", "-c", web_cmd.replace(PY, "python")]
    res["web_requests"], res["legacy_requests"] = drive_many(
        [(f"http://127.0.0.1:{web_port}", web_load), (f"http://127.0.0.1:{legacy_port}", legacy_load)])
    deadline = time.monotonic() + 40
    while not result_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    stop_ns = {}
    for p in (web, legacy, worker):
        res[f"{p.name}_rc"] = p.stop(signal.SIGTERM, timeout=30)
        stop_ns[p.name] = p.ended_ns
    res["worker_result"] = json.loads(result_file.read_text()) if result_file.exists() else None
    res["job_plan"] = plan
    res["procs"] = {"web": web, "legacy": legacy, "worker": worker}
    res["ports"] = {"web": web_port, "legacy": legacy_port, "db": cluster.port}
    res["db_lines"] = cluster.stop()
    return res


def dev_phase(cluster: PgCluster) -> dict:
    res: dict = {"phase": "dev", "prefix": PREFIX}
    cluster.start(Phase("dev", PREFIX, log_connections=False))
    for style, load, extra in [("text", text_load, ["--no-access-log"]), ("loguru", loguru_load, [])]:
        port = free_port()
        p = CapturedProcess(f"web-{style}", [PY, "-m", "uvicorn", "ledger.main:app", "--host", "127.0.0.1",
                                             "--port", str(port)] + extra,
                            cwd=APP_DIR, env=env_for(cluster, LOG_STYLE=style, APP_NAME=f"ledger-{style}")).start()
        wait_count(p, b"Application startup complete", 1)
        reqs = drive(f"http://127.0.0.1:{port}", load)
        time.sleep(0.3)
        rc = p.stop(signal.SIGTERM, timeout=20)
        res[style] = {"proc": p, "requests": reqs, "rc": rc, "port": port,
                      "argv": ["uvicorn", "ledger.main:app", "--host", "127.0.0.1", "--port", str(port)] + extra}
    res["db_lines"] = cluster.stop()
    return res
