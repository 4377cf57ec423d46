"""The product mappings: which Bling produto of the company's catalogue sells an Auvo item.

A person's explicit mapping (`auvo-bling products map`, source "manual") wins over every matching
rule; a produto matched by a rule (code, externalId, GTIN) keeps its codigo and rule here beside
the id-map link. A new table only; nothing else changes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "product_mappings",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("auvo_id", sa.String(64), primary_key=True),
        sa.Column("bling_id", sa.String(64), nullable=False),
        sa.Column("codigo", sa.String(120), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("product_mappings")
