"""Persisted state keyed by each flow's stable id instead of its queue's name.

Processed events, applied versions, write intents and counters were kept under the work queue's
name ("to-bling.contacts"), so renaming a queue would have made every processed event look new.
They are now kept under the flow id (`WorkQueue.flow`, e.g. "customers.auvo_to_bling"); the
write intents of Bling contatos and Auvo customers under the record they protect ("bling.contato",
"auvo.customer"), which the backfill now shares with the consumers: its own intents
("backfill", "bling-contact:<id>") become the contato writer's; and a job's pedido intents
("<entity>:<id>", noted by the task flow or by the quote flow) are kept under "bling.pedido", so
the two flows see each other's. Data only; no column changes.

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
ORDER_WRITERS = ("to-bling.orders", "to-bling.proposals")  # pedido intents carry "<entity>:<id>"


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


def _merge_intents(old: str, new: str, where: str, entity_id: str = "entity_id") -> None:
    """Move intents under `old` matching `where` to `new` (with `entity_id` rewritten); one per
    record: a row the new name already holds for the same record says the same thing."""
    outer = entity_id.replace("entity_id", "write_intents.entity_id")
    op.execute(
        sa.text(
            f"DELETE FROM write_intents WHERE consumer = :old AND {where} AND EXISTS ("
            " SELECT 1 FROM write_intents w WHERE w.tenant = write_intents.tenant"
            f" AND w.consumer = :new AND w.entity_id = {outer})"
        ).bindparams(old=old, new=new)
    )
    op.execute(
        sa.text(
            f"UPDATE write_intents SET consumer = :new, entity_id = {entity_id}"
            f" WHERE consumer = :old AND {where}"
        ).bindparams(old=old, new=new)
    )


def upgrade() -> None:
    for writer in ORDER_WRITERS:
        _merge_intents(writer, "bling.pedido", "entity_id LIKE '%:%'")
    for old, new in INTENTS.items():
        _merge_intents(old, new, "1 = 1")
    cut = len(BACKFILL_PREFIX) + 1
    backfills = f"entity_id LIKE '{BACKFILL_PREFIX}%'"
    _merge_intents("backfill", "bling.contato", backfills, f"substr(entity_id, {cut})")
    _rename("processed_events", "consumer", FLOWS)
    _rename("applied_versions", "consumer", FLOWS)
    _rename_counters(FLOWS)


def downgrade() -> None:
    """The names go back; the merged intents stay where they are (they live for seconds)."""

    def back(mapping: dict[str, str]) -> dict[str, str]:
        return {new: old for old, new in mapping.items()}

    _rename("processed_events", "consumer", back(FLOWS))
    _rename("applied_versions", "consumer", back(FLOWS))
    _rename("write_intents", "consumer", back(INTENTS))
    _rename_counters(back(FLOWS))
