"""Order-fulfilment worker: a small asyncio loop logging with structlog.

structlog's JSON renderer on stdout (one object per line: ``event``,
``level``, ``timestamp`` plus bound key/values; exceptions rendered by
``format_exc_info`` into an ``exception`` string). It polls the real
database (one short connection per round) a fixed number of times, then
exits. One job has a malformed payload and fails with a real
``json.JSONDecodeError``.
"""

import asyncio
import json
import os
import sys

import asyncpg
import structlog

structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(),
    ],
    logger_factory=structlog.PrintLoggerFactory(sys.stdout),
)
log = structlog.get_logger().bind(service="worker")

PAYLOADS = {
    3: '{"sku": "4712", "qty": 2}',
    7: "{'sku': '5100', 'qty': 1}",  # written by a buggy producer: not JSON
}


async def main(rounds: int, interval: float) -> None:
    dsn = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    log.info("worker started", rounds=rounds, interval_s=interval)
    for n in range(1, rounds + 1):
        conn = await asyncpg.connect(dsn, server_settings={"application_name": "shop-worker"})
        try:
            pending = await conn.fetchval("SELECT count(*) FROM orders WHERE status = 'new'")
        finally:
            await conn.close()
        log.info("queue polled", round=n, pending=pending)
        if n in PAYLOADS:
            structlog.contextvars.bind_contextvars(job_id=f"job-{n:04d}")
            try:
                item = json.loads(PAYLOADS[n])
                log.info("job done", sku=item["sku"], qty=item["qty"])
            except ValueError:
                log.exception("job failed")
            finally:
                structlog.contextvars.clear_contextvars()
        await asyncio.sleep(interval)
    log.info("worker stopped")


if __name__ == "__main__":
    asyncio.run(main(int(os.environ.get("WORKER_ROUNDS", "12")), float(os.environ.get("WORKER_INTERVAL", "2"))))
