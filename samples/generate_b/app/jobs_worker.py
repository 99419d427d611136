"""The ledger's background worker: structlog with ``LogfmtRenderer`` (key=value lines).

Connects with psycopg 3 (retrying while the database is not up), then runs the
job plan it is given (``JOB_PLAN``: a JSON list of ``{"id", "job"}``) one job
every ``JOB_INTERVAL`` seconds, and idles until SIGTERM. ``rebuild_search_index``
runs under ``statement_timeout = 300ms`` and takes longer. What each job did is
also written to ``RESULT_FILE`` (JSON) for the generator.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from datetime import datetime, timezone

import psycopg
import structlog

structlog.configure(
    processors=[
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        structlog.processors.LogfmtRenderer(key_order=["timestamp", "level", "event"], drop_missing=True),
    ],
    logger_factory=structlog.PrintLoggerFactory(sys.stdout),
)
log = structlog.get_logger().bind(service="worker")

stopping = False


def _stop(*_):
    global stopping
    stopping = True


signal.signal(signal.SIGTERM, _stop)

JOBS = {
    "invoice_sync": "SELECT count(*) FROM invoices",
    "balance_check": "SELECT sum(balance) FROM accounts",
    "rebuild_search_index": "SELECT count(*) FROM orders, pg_sleep(1.0)",
}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def connect(conninfo: str, refused: list):
    attempt = 0
    while not stopping:
        attempt += 1
        try:
            conn = psycopg.connect(conninfo, application_name="ledger-worker", connect_timeout=3,
                                   autocommit=True)
            log.info("database connected", attempt=attempt)
            return conn, attempt
        except psycopg.OperationalError as exc:
            refused.append(now())
            log.error("database connect failed", attempt=attempt, error=str(exc))
            time.sleep(0.5)
    raise SystemExit(0)


def main() -> None:
    plan = json.loads(os.environ["JOB_PLAN"])
    interval = float(os.environ.get("JOB_INTERVAL", "1.0"))
    results = {"connect_attempts": 0, "refused_at": [], "jobs": []}
    log.info("worker starting", jobs=len(plan))
    conn, results["connect_attempts"] = connect(os.environ["WORKER_DSN"], results["refused_at"])
    for item in plan:
        if stopping:
            break
        job, jid = item["job"], item["id"]
        t0, started = time.perf_counter(), now()
        try:
            with conn.cursor() as cur:
                if job == "rebuild_search_index":
                    cur.execute("SET statement_timeout = '300ms'")
                cur.execute(JOBS[job])
                cur.fetchall()
                cur.execute("RESET statement_timeout")
            ms = round((time.perf_counter() - t0) * 1000, 1)
            log.info("job done", job=job, job_id=jid, duration_ms=ms)
            results["jobs"].append({"id": jid, "job": job, "ok": True, "started_at": started, "ended_at": now()})
        except psycopg.Error as exc:
            ms = round((time.perf_counter() - t0) * 1000, 1)
            log.exception("job failed", job=job, job_id=jid, duration_ms=ms)
            results["jobs"].append({"id": jid, "job": job, "ok": False, "started_at": started, "ended_at": now(),
                                    "error": f"{type(exc).__module__}.{type(exc).__qualname__}"})
            conn.execute("RESET statement_timeout")
        time.sleep(interval)
    with open(os.environ["RESULT_FILE"], "w") as fh:
        json.dump(results, fh)
    while not stopping:
        time.sleep(0.2)
    log.info("worker stopped")
    conn.close()


if __name__ == "__main__":
    main()
