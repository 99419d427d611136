"""psycopg 3's own pool (psycopg_pool), sync and async, without SQLAlchemy: PoolTimeout when max_size=1 is taken.

Usage: python psycopg_pool_run.py > drivers_psycopg_pool.log 2>&1, with PostgreSQL on 127.0.0.1:5498 (trust).
"""
import asyncio, logging, sys
from psycopg_pool import ConnectionPool, AsyncConnectionPool
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stdout)
log = logging.getLogger("app")
dsn = "host=127.0.0.1 port=5498 user=postgres dbname=postgres"
with ConnectionPool(dsn, min_size=1, max_size=1, timeout=0.3) as pool:
    with pool.connection():
        try:
            with pool.connection():
                pass
        except Exception:
            log.exception("request failed")
async def main():
    async with AsyncConnectionPool(dsn, min_size=1, max_size=1, timeout=0.3) as pool:
        async with pool.connection():
            try:
                async with pool.connection():
                    pass
            except Exception:
                log.exception("request failed")
asyncio.run(main())
