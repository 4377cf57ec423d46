"""The schema as `Store.create_schema` (metadata.create_all) made it up to commit 439e3a3.

Every database made before migrations existed has exactly these tables and no `alembic_version`;
`infra.schema` stamps such a database with this revision instead of running it, so the history
starts where the deployed databases are. Written out by hand (not imported from `infra.store`) so
that later edits of the metadata can never change what this revision creates.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "id_map",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("auvo_id", sa.String(64), nullable=False),
        sa.Column("bling_id", sa.String(64), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.UniqueConstraint("tenant", "entity", "auvo_id", name="uq_id_map_auvo"),
        sa.UniqueConstraint("tenant", "entity", "bling_id", name="uq_id_map_bling"),
    )
    op.create_table(
        "processed_events",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("consumer", sa.String(64), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("processed_at", TZ, nullable=False),
    )
    op.create_table(
        "applied_versions",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("consumer", sa.String(64), primary_key=True),
        sa.Column("entity_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.String(64), nullable=False),
    )
    op.create_table(
        "cursors",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(128), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "oauth_tokens",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("provider", sa.String(32), primary_key=True),
        sa.Column("ciphertext", sa.Text, nullable=False),
        sa.Column("expires_at", TZ, nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "locks",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_table(
        "rate_buckets",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("theoretical_arrival", sa.Float, nullable=False),
    )
    op.create_table(
        "fingerprints",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("system", sa.String(16), primary_key=True),
        sa.Column("entity", sa.String(32), primary_key=True),
        sa.Column("entity_id", sa.String(64), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("written_at", TZ, nullable=False),
    )
    op.create_table(
        "customer_index",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("system", sa.String(16), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("entity_id", sa.String(64), primary_key=True),
    )
    op.create_table(
        "write_intents",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("consumer", sa.String(64), primary_key=True),
        sa.Column("entity_id", sa.String(64), primary_key=True),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "counters",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("value", sa.Integer, nullable=False),
    )
    op.create_table(
        "heard",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("stream", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("at", TZ, nullable=False),
    )
    op.create_table(
        "deleted_in_bling",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("entity", sa.String(32), primary_key=True),
        sa.Column("auvo_id", sa.String(64), primary_key=True),
        sa.Column("bling_id", sa.String(64), nullable=False),
        sa.Column("noticed_via", sa.String(16), nullable=False),
        sa.Column("deleted_at", TZ, nullable=False),
    )
    op.create_table(
        "tenant_pauses",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("error_class", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("hint", sa.Text, nullable=False),
        sa.Column("paused_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for name in (
        "tenant_pauses",
        "deleted_in_bling",
        "heard",
        "counters",
        "write_intents",
        "customer_index",
        "fingerprints",
        "rate_buckets",
        "locks",
        "oauth_tokens",
        "cursors",
        "applied_versions",
        "processed_events",
        "id_map",
    ):
        op.drop_table(name)
