"""The store: the tenants kept in the database (the TOML sections' counterpart for many companies).

A row names the tenant and its state; everything else about it (credentials, the guide's options)
is its company options, so a tenant added here is set up exactly like one from the file. A removed
tenant keeps its row (state `removed`): its events still in the queues and their retries are
handled when they come (drained), nothing new is polled, and its name cannot be taken by another
company while its id map and tokens are still here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update

from infra.store.base import StoreBase, utcnow
from infra.store.tables import tenant_registry

TENANT_STATES = ("enabled", "disabled", "removed")
ACTOR_LENGTH = 200


@dataclass(frozen=True)
class RegisteredTenant:
    tenant: str
    state: str
    section: dict[str, Any]  # its `[tenants.<name>]` values other than the company options
    added_at: datetime
    added_by: str
    changed_at: datetime
    changed_by: str

    @property
    def served(self) -> bool:
        return self.state == "enabled"


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class TenantRegistry(StoreBase):
    def registered_tenants(self) -> list[RegisteredTenant]:
        """Every tenant the database holds, removed ones included, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(tenant_registry).order_by(tenant_registry.c.tenant)).all()
        return [
            RegisteredTenant(
                r.tenant,
                r.state,
                json.loads(r.section),
                _aware(r.added_at),
                r.added_by,
                _aware(r.changed_at),
                r.changed_by,
            )
            for r in rows
        ]

    def register_tenant(
        self, tenant: str, actor: str, *, state: str = "enabled", section: dict[str, Any] | None = None
    ) -> bool:
        """Add the tenant; False when the name is already taken (a removed tenant's too)."""
        if state not in TENANT_STATES[:2]:
            raise ValueError(f"a tenant is added enabled or disabled, not {state!r}")
        now, who = utcnow(), actor[:ACTOR_LENGTH]
        with self.transaction() as conn:
            inserted = conn.execute(
                self._insert(tenant_registry)
                .values(
                    tenant=tenant,
                    state=state,
                    section=json.dumps(section or {}, sort_keys=True),
                    added_at=now,
                    added_by=who,
                    changed_at=now,
                    changed_by=who,
                )
                .on_conflict_do_nothing(index_elements=["tenant"])
                .returning(tenant_registry.c.tenant)
            ).first()
        return inserted is not None

    def set_tenant_state(self, tenant: str, state: str, actor: str) -> str | None:
        """Move the tenant to `state`; returns the state it was in (None: no such tenant here)."""
        if state not in TENANT_STATES:
            raise ValueError(f"unknown tenant state {state!r}; known: {', '.join(TENANT_STATES)}")
        with self.transaction() as conn:
            was = conn.execute(
                select(tenant_registry.c.state).where(tenant_registry.c.tenant == tenant).with_for_update()
            ).scalar()
            if was is not None and was != state:
                conn.execute(
                    update(tenant_registry)
                    .where(tenant_registry.c.tenant == tenant)
                    .values(state=state, changed_at=utcnow(), changed_by=actor[:ACTOR_LENGTH])
                )
        return was

    def unregister_tenant(self, tenant: str) -> None:
        """Take back an add that could not be finished (its options were refused): the row only."""
        with self.transaction() as conn:
            conn.execute(delete(tenant_registry).where(tenant_registry.c.tenant == tenant))
