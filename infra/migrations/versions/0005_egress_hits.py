"""The egress_hits table: per-second hit counts behind the IP-wide sliding-window ceilings.

Bling blocks an IP, not an account: more than 20 token calls in 60 s, 600 requests or 300 errors
in 10 s. Every process and tenant that leaves through one address counts its calls here, one row
per window name and epoch second, so "how many in the last N seconds" is a sum over N + 1 rows
(infra/store/egress_windows.py). Self-contained: only creates its own table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "egress_hits",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("second", sa.Integer, primary_key=True),
        sa.Column("hits", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("egress_hits")
