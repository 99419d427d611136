"""seed demo data

Revision ID: c47d0e5f1a28
Revises: 8b1e4d2c9a65
Create Date: 2026-11-10 08:02:51.904377

"""
from alembic import op

revision = "c47d0e5f1a28"
down_revision = "8b1e4d2c9a65"
branch_labels = None
depends_on = None


SEED = [
    """INSERT INTO customers (id, name, email) VALUES
        (1, 'Ada Lovelace', 'ada@example.com'),
        (2, 'Grace Hopper', 'grace@example.com'),
        (3, 'Edsger Dijkstra', 'edsger@example.com')""",
    """INSERT INTO products (id, sku, name, price_cents, stock) VALUES
        (1, '4711', 'Eau de Cologne', 1299, 3),
        (2, '4712', 'Soap bar', 349, 40),
        (3, '5100', 'Towel', 1599, 12),
        (4, '5101', 'Bath robe', 4999, 5)""",
    """INSERT INTO orders (customer_id, status, total_cents) VALUES
        (1, 'paid', 1299), (1, 'shipped', 698), (2, 'new', 4999), (3, 'paid', 1599)""",
    """INSERT INTO accounts (id, owner, balance_cents) VALUES
        (1, 'Ada Lovelace', 100000), (2, 'Grace Hopper', 100000)""",
    """SELECT setval('customers_id_seq', 3)""",
    """SELECT setval('products_id_seq', 4)""",
    """SELECT setval('accounts_id_seq', 2)""",
]


def upgrade() -> None:
    for statement in SEED:
        op.execute(statement)


def downgrade() -> None:
    for table in ("accounts", "orders", "products", "customers"):
        op.execute(f"DELETE FROM {table}")
