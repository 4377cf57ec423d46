"""An index on processed_events.processed_at, so pruning by age does not scan the whole table.

`auvo-bling db prune` and the producer leader's background pruning delete the processed-event
rows older than `retention_days` in small batches; without this index every batch would read
the table in full (millions of rows on a busy deployment). Batch mode on SQLite.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("processed_events") as batch:
        batch.create_index("ix_processed_events_processed_at", ["processed_at"])


def downgrade() -> None:
    with op.batch_alter_table("processed_events") as batch:
        batch.drop_index("ix_processed_events_processed_at")
