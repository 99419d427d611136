"""Async engines and sessions (SQLAlchemy 2 + asyncpg).

* ``engine``: the main pool used by request handlers.
* ``export_engine``: a deliberately tiny pool (2 connections, no overflow,
  0.3 s ``pool_timeout``) for the CSV export; concurrent exports exhaust it
  and SQLAlchemy raises its real ``QueuePool limit ... reached`` TimeoutError.
* ``sync_engine``: no pooling (``NullPool``); the warehouse sync opens one
  connection per warehouse at once, which runs into ``max_connections``.
"""

import os

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql+asyncpg://app:app@127.0.0.1:5432/shop")
APP_NAME = os.environ.get("APP_NAME", "shop-api")

_connect_args = {"server_settings": {"application_name": APP_NAME}}

engine = create_async_engine(DATABASE_URL, pool_size=5, max_overflow=2, pool_timeout=10,
                             connect_args=_connect_args)
export_engine = create_async_engine(DATABASE_URL, pool_size=2, max_overflow=0, pool_timeout=0.3,
                                    connect_args=_connect_args)
sync_engine = create_async_engine(DATABASE_URL, poolclass=NullPool, connect_args=_connect_args)

SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


async def get_session():
    async with SessionLocal() as session:
        yield session


async def dispose_all() -> None:
    for e in (engine, export_engine, sync_engine):
        await e.dispose()
