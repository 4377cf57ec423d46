"""The record history behind "Por que não integrou?": what the pollers saw and decided per record,
and what became of each event (handled, retried, dead-lettered).

Its own table only (append-only, pruned by age like processed_events), so it chains after any
other revision without touching their tables.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_history",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("event_id", sa.String(64), nullable=True),
        sa.Column("version", sa.String(64), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
    )
    op.create_index("ix_record_history_subject", "record_history", ["tenant", "subject", "entity_id"])
    op.create_index("ix_record_history_event", "record_history", ["event_id"])
    op.create_index("ix_record_history_at", "record_history", ["at"])


def downgrade() -> None:
    op.drop_table("record_history")
