"""The store: per-tenant account state: encrypted OAuth tokens and paused tenants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select

from infra.store.base import StoreBase, utcnow
from infra.store.tables import oauth_tokens, tenant_pauses


@dataclass(frozen=True)
class TenantPause:
    tenant: str
    error_class: str
    reason: str
    hint: str
    paused_at: datetime


def _pause(row: Any) -> TenantPause:
    at = row.paused_at if row.paused_at.tzinfo else row.paused_at.replace(tzinfo=UTC)
    return TenantPause(row.tenant, row.error_class, row.reason, row.hint, at)


class Tenants(StoreBase):
    # --- tokens --------------------------------------------------------------------------------

    def load_token(self, tenant: str, provider: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(oauth_tokens.c.ciphertext).where(
                    oauth_tokens.c.tenant == tenant, oauth_tokens.c.provider == provider
                )
            ).scalar()

    def save_token(self, tenant: str, provider: str, ciphertext: str, expires_at: datetime | None) -> None:
        with self.transaction() as conn:
            self._upsert(
                conn,
                oauth_tokens,
                {
                    "tenant": tenant,
                    "provider": provider,
                    "ciphertext": ciphertext,
                    "expires_at": expires_at,
                    "updated_at": utcnow(),
                },
                ["tenant", "provider"],
            )

    # --- paused tenants -------------------------------------------------------------------------

    def pause_tenant(self, tenant: str, error_class: str, reason: str, hint: str) -> bool:
        """Pause `tenant`; False when it already was (the first cause is kept: it is the root one)."""
        with self.transaction() as conn:
            inserted = conn.execute(
                self._insert(tenant_pauses)
                .values(tenant=tenant, error_class=error_class, reason=reason, hint=hint, paused_at=utcnow())
                .on_conflict_do_nothing(index_elements=["tenant"])
                .returning(tenant_pauses.c.tenant)
            ).first()
        return inserted is not None

    def resume_tenant(self, tenant: str, *, only: tuple[str, ...] | None = None) -> TenantPause | None:
        """Lift the pause; returns what it was (None when the tenant was not paused).

        `only`: lift it only if its cause is one of these error classes (a pause that ends by itself
        must never lift one a person has to fix)."""
        condition = tenant_pauses.c.tenant == tenant
        if only is not None:
            condition = condition & tenant_pauses.c.error_class.in_(only)
        with self.transaction() as conn:
            row = conn.execute(delete(tenant_pauses).where(condition).returning(*tenant_pauses.c)).first()
        return _pause(row) if row is not None else None

    def tenant_pauses(self) -> dict[str, TenantPause]:
        """Every paused tenant, in one read (see `options_revisions`)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(tenant_pauses)).all()
        return {row.tenant: _pause(row) for row in rows}

    def tenant_pause(self, tenant: str) -> TenantPause | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(tenant_pauses).where(tenant_pauses.c.tenant == tenant)).first()
        return _pause(row) if row is not None else None
