"""Synchronous SQLAlchemy 2.0 with psycopg 3 (``postgresql+psycopg://``)."""

from __future__ import annotations

import os

from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

DATABASE_URL = os.environ["DATABASE_URL"]  # postgresql+psycopg://app:...@127.0.0.1:PORT/ledger
APP_NAME = os.environ.get("APP_NAME", "ledger-web")

engine = create_engine(DATABASE_URL, pool_size=3, max_overflow=0, pool_timeout=5,
                       connect_args={"application_name": APP_NAME})
# the CSV export has its own small pool so a burst of exports cannot starve the API
export_engine = create_engine(DATABASE_URL, pool_size=1, max_overflow=0, pool_timeout=0.5,
                              connect_args={"application_name": APP_NAME + "-export"})
Session = sessionmaker(engine)


def raw_conninfo() -> str:
    """libpq URL for direct psycopg connections (no SQLAlchemy pool)."""
    return DATABASE_URL.replace("postgresql+psycopg://", "postgresql://")
