"""The store: per-tenant company options (with a revision counter), what each process applied,
and the audit log of every change a person made.

The options rows hold JSON values or, for secrets, the vault's ciphertext; this mixin never sees a
plain secret. The audit log masks secrets itself as well, so no caller can leak one by mistake.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select

from infra.store.base import StoreBase, utcnow
from infra.store.tables import audit_log, company_option_applied, company_option_revisions, company_options

AUDIT_MASK = "••••"
# keys whose values are secrets whatever the caller says (client_secret, api_token, password...)
_SECRET_KEY = re.compile(r"(secret|token|password)", re.IGNORECASE)


@dataclass(frozen=True)
class StoredOption:
    key: str
    value: str  # JSON text, or the vault's ciphertext when `sealed`
    sealed: bool
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class OptionsRevision:
    revision: int
    saved_at: datetime | None
    saved_by: str | None


@dataclass(frozen=True)
class ProcessApplied:
    process: str
    revision: int
    applied_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    tenant: str | None
    action: str
    before: dict[str, Any]
    after: dict[str, Any]


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def mask_secrets(values: Mapping[str, Any], secret_keys: Iterable[str] = ()) -> dict[str, Any]:
    """The values with every secret replaced by the mask (None stays None: "not set" is no secret)."""
    secrets = set(secret_keys)
    return {
        key: (AUDIT_MASK if value is not None else None)
        if key in secrets or _SECRET_KEY.search(key.rsplit(".", 1)[-1])
        else value
        for key, value in values.items()
    }


class CompanyOptions(StoreBase):
    # --- options ---------------------------------------------------------------------------------

    def load_options(self, tenant: str) -> dict[str, StoredOption]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(company_options).where(company_options.c.tenant == tenant)).all()
        return {
            r.key: StoredOption(r.key, r.value, bool(r.sealed), _aware(r.updated_at), r.updated_by)
            for r in rows
        }

    def save_option_rows(
        self,
        tenant: str,
        values: Mapping[str, tuple[str, bool] | None],
        actor: str,
        audit: tuple[str, dict[str, Any], dict[str, Any], Iterable[str]] | None = None,
    ) -> OptionsRevision:
        """Write (or with None delete) option rows, bump the tenant's revision and write the audit
        row, all in one transaction: a change is never saved without its audit entry."""
        now = utcnow()
        with self.transaction() as conn:
            for key, stored in values.items():
                if stored is None:
                    conn.execute(
                        delete(company_options).where(
                            company_options.c.tenant == tenant, company_options.c.key == key
                        )
                    )
                    continue
                value, sealed = stored
                self._upsert(
                    conn,
                    company_options,
                    {
                        "tenant": tenant,
                        "key": key,
                        "value": value,
                        "sealed": int(sealed),
                        "updated_at": now,
                        "updated_by": actor,
                    },
                    ["tenant", "key"],
                )
            current = conn.execute(
                select(company_option_revisions.c.revision).where(company_option_revisions.c.tenant == tenant)
            ).scalar()
            revision = (current or 0) + 1
            self._upsert(
                conn,
                company_option_revisions,
                {"tenant": tenant, "revision": revision, "saved_at": now, "saved_by": actor},
                ["tenant"],
            )
            if audit is not None:
                action, before, after, secret_keys = audit
                self._audit(conn, actor, tenant, action, before, after, secret_keys, now)
        return OptionsRevision(revision, now, actor)

    def options_revision(self, tenant: str) -> OptionsRevision:
        """The tenant's saved revision (0: nothing was ever saved)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(company_option_revisions).where(company_option_revisions.c.tenant == tenant)
            ).first()
        if row is None:
            return OptionsRevision(0, None, None)
        return OptionsRevision(row.revision, _aware(row.saved_at), row.saved_by)

    def note_options_applied(self, tenant: str, process: str, revision: int) -> None:
        with self.transaction() as conn:
            self._upsert(
                conn,
                company_option_applied,
                {"tenant": tenant, "process": process, "revision": revision, "applied_at": utcnow()},
                ["tenant", "process"],
            )

    def options_applications(self, tenant: str) -> list[ProcessApplied]:
        """What each process applied, the most recent first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(company_option_applied)
                .where(company_option_applied.c.tenant == tenant)
                .order_by(company_option_applied.c.applied_at.desc())
            ).all()
        return [ProcessApplied(r.process, r.revision, _aware(r.applied_at)) for r in rows]

    # --- audit log -------------------------------------------------------------------------------

    def record_audit(
        self,
        actor: str,
        tenant: str | None,
        action: str,
        before: Mapping[str, Any],
        after: Mapping[str, Any],
        *,
        secret_keys: Iterable[str] = (),
    ) -> None:
        """One audit row; values under a secret-looking key (or in `secret_keys`) become the mask."""
        with self.transaction() as conn:
            self._audit(conn, actor, tenant, action, before, after, secret_keys, utcnow())

    def _audit(
        self,
        conn: Any,
        actor: str,
        tenant: str | None,
        action: str,
        before: Mapping[str, Any],
        after: Mapping[str, Any],
        secret_keys: Iterable[str],
        at: datetime,
    ) -> None:
        secrets = set(secret_keys)
        conn.execute(
            audit_log.insert().values(
                at=at,
                actor=actor,
                tenant=tenant,
                action=action,
                before=json.dumps(mask_secrets(before, secrets), ensure_ascii=False, default=str),
                after=json.dumps(mask_secrets(after, secrets), ensure_ascii=False, default=str),
            )
        )

    def audit_entries(self, tenant: str | None = None, limit: int = 50, offset: int = 0) -> list[AuditEntry]:
        """The newest first; `tenant` None = every tenant's (and the deployment-wide ones)."""
        query = select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
        if tenant is not None:
            query = query.where(audit_log.c.tenant == tenant)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit).offset(offset)).all()
        return [
            AuditEntry(
                r.id, _aware(r.at), r.actor, r.tenant, r.action, json.loads(r.before), json.loads(r.after)
            )
            for r in rows
        ]

    def audit_count(self, tenant: str | None = None) -> int:
        query = select(func.count()).select_from(audit_log)
        if tenant is not None:
            query = query.where(audit_log.c.tenant == tenant)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)
