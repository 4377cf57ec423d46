"""Persisted state keyed by each flow's stable id instead of its queue's name.

Processed events, applied versions, write intents and counters were kept under the work queue's
name ("to-bling.contacts"), so renaming a queue would have made every processed event look new.
They are now kept under the flow id (`WorkQueue.flow`, e.g. "customers.auvo_to_bling"); the
write intents of Bling contatos and Auvo customers under the record they protect ("bling.contato",
"auvo.customer"), which the backfill now shares with the consumers: its own intents
("backfill", "bling-contact:<id>") become the contato writer's. Data only; no column changes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# queue name -> flow id, as infra/bus/topology.py declares them at this revision
FLOWS = {
    "to-bling.contacts": "customers.auvo_to_bling",
    "to-auvo.customers": "customers.bling_to_auvo",
    "to-bling.orders": "sales.task_to_pedido",
    "to-bling.proposals": "sales.quote_to_bling",
    "to-bling.payables": "payables.expense_to_conta",
}
# queue name -> the name write intents are kept under (the record for the customer writers)
INTENTS = {
    **FLOWS,
    "to-bling.contacts": "bling.contato",
    "to-auvo.customers": "auvo.customer",
}
BACKFILL_PREFIX = "bling-contact:"


def _rename(table: str, column: str, mapping: dict[str, str]) -> None:
    for old, new in mapping.items():
        op.execute(
            sa.text(f"UPDATE {table} SET {column} = :new WHERE {column} = :old").bindparams(old=old, new=new)
        )


def _rename_counters(mapping: dict[str, str]) -> None:
    for old, new in mapping.items():
        op.execute(
            sa.text(
                "UPDATE counters SET name = :new || substr(name, :cut) WHERE name LIKE :pattern"
            ).bindparams(new=new, cut=len(old) + 1, pattern=f"{old}.%")
        )


def upgrade() -> None:
    _rename("processed_events", "consumer", FLOWS)
    _rename("applied_versions", "consumer", FLOWS)
    _rename("write_intents", "consumer", INTENTS)
    _rename_counters(FLOWS)
    # the backfill's contato intents become the contato writer's (one per customer: a consumer's
    # intent for the same customer, if any, already says the same thing)
    op.execute(
        sa.text(
            "DELETE FROM write_intents WHERE consumer = 'backfill' AND entity_id LIKE :prefix AND EXISTS ("
            " SELECT 1 FROM write_intents w WHERE w.tenant = write_intents.tenant"
            " AND w.consumer = 'bling.contato' AND w.entity_id = substr(write_intents.entity_id, :cut))"
        ).bindparams(prefix=f"{BACKFILL_PREFIX}%", cut=len(BACKFILL_PREFIX) + 1)
    )
    op.execute(
        sa.text(
            "UPDATE write_intents SET consumer = 'bling.contato', entity_id = substr(entity_id, :cut)"
            " WHERE consumer = 'backfill' AND entity_id LIKE :prefix"
        ).bindparams(prefix=f"{BACKFILL_PREFIX}%", cut=len(BACKFILL_PREFIX) + 1)
    )


def downgrade() -> None:
    def back(mapping: dict[str, str]) -> dict[str, str]:
        return {new: old for old, new in mapping.items()}

    _rename("processed_events", "consumer", back(FLOWS))
    _rename("applied_versions", "consumer", back(FLOWS))
    _rename("write_intents", "consumer", back(INTENTS))
    _rename_counters(back(FLOWS))
