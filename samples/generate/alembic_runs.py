"""Real ``alembic`` CLI runs: the normal upgrade and three broken situations.

Each run is the real ``python -m alembic`` command with the app's
``alembic.ini`` (default logging layout: ``%(levelname)-5.5s [%(name)s] %(message)s``
on stderr; ``FAILED: ...`` on stdout, exit status 255 on a command error).

* ``upgrade_head``: the migrate service of the compose project, fresh DB.
* ``multiple_heads``: a copy of the app whose version directory got two new
  revisions on the same parent (two developers' branches merged without a
  merge revision), then ``alembic upgrade head``.
* ``missing_revision``: a database whose ``alembic_version`` holds a revision
  this code does not have (a newer image migrated it, an older one is
  deployed), then ``alembic upgrade head``.
* ``not_up_to_date``: a copy with a new, unapplied revision, then
  ``alembic revision --autogenerate`` (which refuses while the DB is behind).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from capture import CapturedProcess, run_captured

APP_DIR = Path(__file__).resolve().parent / "app"

_REVISION_TEMPLATE = '''"""{message}

Revision ID: {rev}
Revises: {down}
Create Date: {date}

"""
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "{table}",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("{table}")
'''

HEAD = "c47d0e5f1a28"
STALE_REVISION = "a9c3e1f27d05"


def _copy_app(tmp: Path) -> Path:
    dst = tmp / "app"
    shutil.copytree(APP_DIR, dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def _add_revision(app: Path, rev: str, down: str, message: str, table: str, date: str) -> None:
    slug = message.replace(" ", "_")
    (app / "migrations" / "versions" / f"{rev}_{slug}.py").write_text(
        _REVISION_TEMPLATE.format(rev=rev, down=down, message=message, table=table, date=date))


def alembic(args: list[str], *, cwd: Path, env: dict, name: str) -> CapturedProcess:
    return run_captured(name, [sys.executable, "-m", "alembic", *args], cwd=cwd, env=env, timeout=120)


def upgrade_head(env: dict) -> CapturedProcess:
    return alembic(["upgrade", "head"], cwd=APP_DIR, env=env, name="migrate")


def multiple_heads(env: dict) -> CapturedProcess:
    with tempfile.TemporaryDirectory(prefix="alembic-heads-") as tmp:
        app = _copy_app(Path(tmp))
        _add_revision(app, "d1e2f3a4b5c6", HEAD, "add coupons", "coupons", "2026-11-16 10:21:09.271003")
        _add_revision(app, "e9f8a7b6c5d4", HEAD, "add invoices", "invoices", "2026-11-16 14:03:55.810442")
        return alembic(["upgrade", "head"], cwd=app, env=env, name="alembic-multiple-heads")


def missing_revision(env: dict) -> CapturedProcess:
    """``env`` must point at a database stamped with :data:`STALE_REVISION`."""
    return alembic(["upgrade", "head"], cwd=APP_DIR, env=env, name="alembic-missing-revision")


def not_up_to_date(env: dict) -> CapturedProcess:
    with tempfile.TemporaryDirectory(prefix="alembic-behind-") as tmp:
        app = _copy_app(Path(tmp))
        _add_revision(app, "f3c2b1a09e87", HEAD, "add coupon codes", "coupon_codes", "2026-11-18 09:12:44.031876")
        return alembic(["revision", "--autogenerate", "-m", "add gift cards"], cwd=app, env=env,
                       name="alembic-not-up-to-date")
