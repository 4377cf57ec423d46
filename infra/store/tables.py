"""The store's tables (SQLAlchemy Core); Alembic migrations in infra/migrations/ follow `metadata`."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

id_map = Table(
    "id_map",
    metadata,
    Column("tenant", String(64), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("auvo_id", String(64), nullable=False),
    Column("bling_id", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tenant", "entity", "auvo_id", name="uq_id_map_auvo"),
    UniqueConstraint("tenant", "entity", "bling_id", name="uq_id_map_bling"),
)

processed_events = Table(
    "processed_events",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("consumer", String(64), primary_key=True),
    Column("event_id", String(64), primary_key=True),
    Column("outcome", String(32), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False),
    # pruning deletes by age (infra/store/retention.py; migration 0002)
    Index("ix_processed_events_processed_at", "processed_at"),
)

applied_versions = Table(
    "applied_versions",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("consumer", String(64), primary_key=True),
    Column("entity_id", String(64), primary_key=True),
    Column("version", String(64), nullable=False),
)

cursors = Table(
    "cursors",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", String(128), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

oauth_tokens = Table(
    "oauth_tokens",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("provider", String(32), primary_key=True),
    Column("ciphertext", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

locks = Table(
    "locks",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("owner", String(100), nullable=False),
    Column("expires_at", Float, nullable=False),
)

rate_buckets = Table(
    "rate_buckets",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("theoretical_arrival", Float, nullable=False),
)

fingerprints = Table(
    "fingerprints",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("system", String(16), primary_key=True),
    Column("entity", String(32), primary_key=True),
    Column("entity_id", String(64), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("written_at", DateTime(timezone=True), nullable=False),
)

customer_index = Table(
    "customer_index",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("system", String(16), primary_key=True),
    Column("kind", String(16), primary_key=True),  # "document" or "email"
    Column("key", String(200), primary_key=True),
    Column("entity_id", String(64), primary_key=True),
)

write_intents = Table(
    "write_intents",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("consumer", String(64), primary_key=True),
    Column("entity_id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

counters = Table(
    "counters",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("value", Integer, nullable=False),
)

# When each change stream (e.g. "auvo.customers", "bling.orders") was last heard from, per channel
# ("webhook" or "poll"), so `status` shows whether pushes still arrive and the safety net still runs.
heard = Table(
    "heard",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("stream", String(64), primary_key=True),
    Column("channel", String(16), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
)

# Sales documents a Bling user deleted: the link is gone, and this row stops a later change of the
# Auvo job from silently creating the document again (README: "Webhooks", deletion policy).
deleted_in_bling = Table(
    "deleted_in_bling",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("entity", String(32), primary_key=True),
    Column("auvo_id", String(64), primary_key=True),
    Column("bling_id", String(64), nullable=False),
    Column("noticed_via", String(16), nullable=False),
    Column("deleted_at", DateTime(timezone=True), nullable=False),
)

# A tenant whose account broke (API deactivated, authorization revoked): its consumers and pollers
# stand still until `tenants resume` deletes the row. One row per tenant; the first cause wins.
tenant_pauses = Table(
    "tenant_pauses",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("error_class", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("hint", Text, nullable=False),
    Column("paused_at", DateTime(timezone=True), nullable=False),
)

# Which Bling produto sells an Auvo product or service, beyond the id map: `source` "manual" is the
# explicit mapping a person made (`auvo-bling products map`), which wins over every matching rule;
# any other source is the rule that matched a produto of the company's catalogue ("code",
# "external_id", "gtin"), kept beside the id-map link so a pedido's item shows that produto's
# codigo without reading it again (consumers/sales/product_matching.py; migration 0010).
product_mappings = Table(
    "product_mappings",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("kind", String(16), primary_key=True),  # "product" or "service"
    Column("auvo_id", String(64), primary_key=True),
    Column("bling_id", String(64), nullable=False),
    Column("codigo", String(120), nullable=False),
    Column("source", String(16), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
