"""Process heartbeats and the per-minute flow history (the console's Operação page).

Two new tables only: `process_heartbeats` (one row per running process, removed on clean stop) and
`flow_minutes` (events, latency buckets and Bling calls per tenant, flow and minute; pruned by age).

Revision ID: 0013
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "process_heartbeats",
        sa.Column("process", sa.String(200), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("threads", sa.Integer, nullable=False),
        sa.Column("tenants", sa.Text, nullable=False),
        sa.Column("last_flow", sa.String(64), nullable=True),
        sa.Column("last_event_id", sa.String(64), nullable=True),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "flow_minutes",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("flow", sa.String(64), primary_key=True),
        sa.Column("minute", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("events", sa.Integer, nullable=False),
        sa.Column("latency_buckets", sa.String(200), nullable=False),
        sa.Column("bling_calls_day", sa.Integer, nullable=True),
    )
    op.create_index("ix_flow_minutes_minute", "flow_minutes", ["minute"])


def downgrade() -> None:
    op.drop_index("ix_flow_minutes_minute", table_name="flow_minutes")
    op.drop_table("flow_minutes")
    op.drop_table("process_heartbeats")
