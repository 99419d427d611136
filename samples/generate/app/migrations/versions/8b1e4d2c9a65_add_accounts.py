"""add accounts

Revision ID: 8b1e4d2c9a65
Revises: 3f2a9c1d7b40
Create Date: 2026-11-09 15:40:27.552911

"""
import sqlalchemy as sa
from alembic import op

revision = "8b1e4d2c9a65"
down_revision = "3f2a9c1d7b40"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("balance_cents", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("accounts")
