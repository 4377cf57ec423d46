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

# Tenants kept in the database (`auvo-bling tenants add --database`, the console's "Adicionar
# empresa" without a config file): a deployment serving hundreds of companies does not keep them
# in a file. Their options and credentials are company options (sealed by the vault); `section`
# holds the rest of what a `[tenants.<name>]` section would (JSON, never a secret: the API's
# address, its rate). The TOML sections keep working beside them (migration 0014). `state`:
# enabled, disabled or removed.
tenant_registry = Table(
    "tenant_registry",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("section", Text, nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("added_by", String(200), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("changed_by", String(200), nullable=False),
)

# The web console's local users (`auvo-bling console add-user`): an argon2 hash, never the password.
console_users = Table(
    "console_users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Failed console logins, per user name and per client address ("scope"), so the limit holds for every
# console process; rows older than the window are deleted as new ones arrive.
console_login_failures = Table(
    "console_login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scope", String(16), nullable=False),
    Column("key", String(200), nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_console_login_failures_key", "scope", "key", "at"),
)

# Console sessions kept server-side: the cookie carries a signed random id whose hash keys the row,
# so logging out (or removing a user) ends the session on every console process at once.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_name", String(64), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("data", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", Float, nullable=False),
)

# Company options saved through the console or `auvo-bling options set` (migration 0006): one row
# per tenant and option key; `value` is JSON, or a secret's vault ciphertext (`sealed`).
company_options = Table(
    "company_options",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
    Column("sealed", Integer, nullable=False, default=0),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(200), nullable=False),
)

# Per tenant: the revision of its saved options (one more per save), so a running process sees a
# change by reading one row; and the poll re-read a save asked for.
company_option_revisions = Table(
    "company_option_revisions",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("saved_at", DateTime(timezone=True), nullable=False),
    Column("saved_by", String(200), nullable=False),
    # a save that widened what a poller selects (e.g. "Status das tarefas") asks for one re-read of
    # its lookback from this revision on; `reread_done` is the one the polling leader carried out
    Column("reread_from", Integer, nullable=True),
    Column("reread_done", Integer, nullable=True),
)

# Which revision each running process applied, and when ("host:pid").
company_option_applied = Table(
    "company_option_applied",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("process", String(200), primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)

# Every change a person made (who, when, what, before -> after); secrets only ever as a mask.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("tenant", String(64), nullable=True),
    Column("action", String(100), nullable=False),
    Column("before", Text, nullable=False),
    Column("after", Text, nullable=False),
    Index("ix_audit_log_tenant_at", "tenant", "at"),
)

# What happened to each record, for "Por que não integrou?" (auvo_bling/story): what the pollers saw
# and decided, and what became of each event (handled, retried, dead-lettered). Append-only, one row
# per *new* decision or outcome (a re-read of an unchanged record writes nothing); pruned by age with
# the processed events (infra/store/retention.py; migration 0008).
record_history = Table(
    "record_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False),
    Column("subject", String(32), nullable=False),  # "auvo.task", "auvo.customer", "bling.contato", ...
    Column("entity_id", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(24), nullable=False),  # infra.store.history.Kind
    Column("code", String(64), nullable=True),  # reason code, outcome or error class
    Column("event_id", String(64), nullable=True),
    Column("version", String(64), nullable=True),
    Column("details", Text, nullable=True),  # JSON: flow, bling id, diagnosis, hint (never secrets)
    Index("ix_record_history_subject", "tenant", "subject", "entity_id"),
    Index("ix_record_history_event", "event_id"),
    Index("ix_record_history_at", "at"),
)

# Bling calls per tenant per Bling day (midnight Brasília), counted by every process in the same
# transaction that reserves the call's rate-limit slot (infra/store/daily_budget.py; migration 0004).
bling_daily_calls = Table(
    "bling_daily_calls",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD, the Bling day
    Column("calls", Integer, nullable=False),
)

# IP-wide ceilings (infra/egress.py): hits per window name per epoch second, summed over a sliding
# window by every process and tenant that shares an egress address (migration 0005).
egress_hits = Table(
    "egress_hits",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("second", Integer, primary_key=True),
    Column("hits", Integer, nullable=False),
)

# Which Bling produto sells an Auvo product or service, beyond the id map: `source` "manual" is the
# explicit mapping a person made (`auvo-bling products map`), which wins over every matching rule;
# any other source is the rule that matched a produto of the company's catalogue ("code",
# "external_id", "gtin"), kept beside the id-map link so a pedido's item shows that produto's
# codigo without reading it again (consumers/sales/product_matching.py; migration 0009).
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

# The dead-letter index (infra/store/dead_letters.py; migration 0012): one row per dead letter of a
# consumer, written where the runner dead-letters it and reconciled from the queue (`dlq reindex`,
# `dlq list`), so the console groups 100,000 of them without reading the broker. The DLQ stays the
# truth that replay takes messages from; `message` (the letter's export record) lets the detail page
# show body and headers without a read of the queue, and keeps a parked letter until `parked_until`.
dead_letters = Table(
    "dead_letters",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("consumer", String(100), primary_key=True),
    Column("letter_id", String(100), primary_key=True),  # DeadLetter.id: the event id, mostly
    Column("event_type", String(64), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("error_class", String(64), nullable=False),
    Column("fingerprint", String(24), nullable=False),
    Column("error_message", Text, nullable=False),
    Column("hint", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("replay_count", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # dead, replayed, parked, purged
    Column("parked_until", DateTime(timezone=True), nullable=True),
    Column("message", Text, nullable=True),  # DeadLetter.to_export() as JSON
    Index("ix_dead_letters_groups", "state", "fingerprint", "tenant"),
    Index("ix_dead_letters_last_seen", "state", "last_seen"),
)

# Replays, parks and purges as operations (auvo_bling/failures.py; migration 0012): who asked, what,
# and how far it went, updated while it runs so the console shows its progress.
dlq_operations = Table(
    "dlq_operations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # replay, park, purge, restore
    Column("actor", String(200), nullable=False),
    Column("tenant", String(64), nullable=True),
    Column("selection", Text, nullable=False),  # JSON: the filter or the ids
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False),  # landed (replay), parked, purged
    Column("failed", Integer, nullable=False),  # could not be acted on: still in the DLQ
    Column("failed_again", Integer, nullable=False),  # replayed and dead-lettered again since
    Column("state", String(16), nullable=False),  # running, done, failed
    Column("detail", Text, nullable=True),
    Index("ix_dlq_operations_started", "started_at"),
)

# One row per running `run`/`consume`/`produce` process, upserted every few seconds (its heartbeat)
# and deleted on a clean stop: a row whose beat is older than a few intervals is a process that died
# or hangs (infra/store/heartbeats.py; the console's Operação page; migration 0013).
process_heartbeats = Table(
    "process_heartbeats",
    metadata,
    Column("process", String(200), primary_key=True),  # host:pid
    Column("role", String(16), nullable=False),  # "run", "consume" or "produce"
    Column("threads", Integer, nullable=False),
    Column("tenants", Text, nullable=False),  # JSON list of the tenants it serves
    Column("last_flow", String(64), nullable=True),
    Column("last_event_id", String(64), nullable=True),
    Column("last_event_at", DateTime(timezone=True), nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("beat_at", DateTime(timezone=True), nullable=False),
)

# The charts' history: per tenant, flow and minute, the events handled and their change-to-write
# latency as counts per bucket (additive, so every process adds its own minute into the same row),
# and the tenant's Bling calls of the day at that minute (flow "bling"). Pruned by age
# (infra/store/retention.py, `metrics_history_days`; migration 0013).
flow_minutes = Table(
    "flow_minutes",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("flow", String(64), primary_key=True),
    Column("minute", DateTime(timezone=True), primary_key=True),
    Column("events", Integer, nullable=False),
    Column("latency_buckets", String(200), nullable=False),  # counts per LATENCY_BOUNDS bucket, "1,0,.."
    Column("bling_calls_day", Integer, nullable=True),
    Index("ix_flow_minutes_minute", "minute"),
)
