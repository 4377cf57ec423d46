"""The dead-letter index and the DLQ operations (replay, park, purge) of the console's Falhas page.

Two new tables only; nothing else changes. The index is rebuilt from the queue by `dlq reindex`.

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("letter_id", sa.String(100), primary_key=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("error_class", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(24), nullable=False),
        sa.Column("error_message", sa.Text, nullable=False),
        sa.Column("hint", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replay_count", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("parked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message", sa.Text, nullable=True),
    )
    op.create_index("ix_dead_letters_groups", "dead_letters", ["state", "fingerprint", "tenant"])
    op.create_index("ix_dead_letters_last_seen", "dead_letters", ["state", "last_seen"])
    op.create_table(
        "dlq_operations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=True),
        sa.Column("selection", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("done", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("failed_again", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_index("ix_dlq_operations_started", "dlq_operations", ["started_at"])


def downgrade() -> None:
    op.drop_table("dlq_operations")
    op.drop_table("dead_letters")
