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

from sqlalchemy import delete, func, or_, select, update

from infra.store.base import StoreBase, utcnow
from infra.store.tables import (
    audit_log,
    company_option_applied,
    company_option_revisions,
    company_options,
    cursors,
)

AUDIT_MASK = "••••"
ACTOR_LENGTH = 200  # the columns' sizes (tables.py): a longer name is cut, never refused
ACTION_LENGTH = 100
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
        *,
        reread: bool = False,
    ) -> OptionsRevision:
        """Write (or with None delete) option rows, bump the tenant's revision and write the audit
        row, all in one transaction: a change is never saved without its audit entry. `reread`: the
        change widened what a poller selects, so the polling leader re-reads (see claim_reread)."""
        now = utcnow()
        actor = actor[:ACTOR_LENGTH]
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
            # one atomic increment (the row is locked by the upsert): two saves at once get two
            # revisions, so a process that applied the first still sees the second
            table = company_option_revisions
            stmt = self._insert(table).values(tenant=tenant, revision=1, saved_at=now, saved_by=actor)
            stmt = stmt.on_conflict_do_update(
                index_elements=["tenant"],
                set_={"revision": table.c.revision + 1, "saved_at": now, "saved_by": actor},
            ).returning(table.c.revision)
            revision = int(conn.execute(stmt).scalar_one())
            if reread:
                conn.execute(update(table).where(table.c.tenant == tenant).values(reread_from=revision))
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

    def options_revisions(self) -> dict[str, int]:
        """Every tenant's saved revision, in one read (a process serving hundreds of companies
        looks at them all at once instead of one read per company)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(company_option_revisions.c.tenant, company_option_revisions.c.revision)
            ).all()
        return {row.tenant: row.revision for row in rows}

    def claim_reread(self, tenant: str, upto_revision: int, cursor_names: Iterable[str]) -> int | None:
        """Carry out a pending re-read once for all processes: forget `cursor_names`, so the next pass
        reads the whole lookback. Only a poller built from a revision at or after the request may
        claim it (an older one would read with the old selection and move the cursor on again).
        Returns the revision whose request was carried out, None when there was nothing to do."""
        table = company_option_revisions
        with self.transaction() as conn:
            claimed = conn.execute(
                update(table)
                .where(
                    table.c.tenant == tenant,
                    table.c.reread_from.is_not(None),
                    table.c.reread_from <= upto_revision,
                    or_(table.c.reread_done.is_(None), table.c.reread_done < table.c.reread_from),
                )
                .values(reread_done=table.c.reread_from)
                .returning(table.c.reread_from)
            ).scalar()
            if claimed is None:
                return None
            names = list(cursor_names)
            if names:
                conn.execute(delete(cursors).where(cursors.c.tenant == tenant, cursors.c.name.in_(names)))
        return int(claimed)

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
        actor = actor[:ACTOR_LENGTH]
        action = action[:ACTION_LENGTH]
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
