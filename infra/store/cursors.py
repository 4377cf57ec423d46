"""The store: poll cursors, and when each change stream was last heard from (webhook or poll)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from infra.store.base import StoreBase, utcnow
from infra.store.tables import cursors, heard


class Cursors(StoreBase):
    # --- cursors -------------------------------------------------------------------------------

    def cursor(self, tenant: str, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(cursors.c.value).where(cursors.c.tenant == tenant, cursors.c.name == name)
            ).scalar()

    def set_cursor(self, tenant: str, name: str, value: str) -> None:
        with self.transaction() as conn:
            self._upsert(
                conn,
                cursors,
                {"tenant": tenant, "name": name, "value": value, "updated_at": utcnow()},
                ["tenant", "name"],
            )

    def all_cursors(self, tenant: str) -> dict[str, tuple[str, datetime]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(cursors.c.name, cursors.c.value, cursors.c.updated_at).where(
                    cursors.c.tenant == tenant
                )
            ).all()
        return {r.name: (r.value, r.updated_at) for r in rows}

    # --- last heard from (webhook / poll), for status ---------------------------------------------

    def note_heard(self, tenant: str, stream: str, channel: str) -> None:
        with self.transaction() as conn:
            self._upsert(
                conn,
                heard,
                {"tenant": tenant, "stream": stream, "channel": channel, "at": utcnow()},
                ["tenant", "stream", "channel"],
            )

    def heard_by(self, channel: str) -> dict[tuple[str, str], datetime]:
        """When each tenant's stream was last heard from by `channel`, every tenant in one read."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(heard.c.tenant, heard.c.stream, heard.c.at).where(heard.c.channel == channel)
            ).all()
        return {(r.tenant, r.stream): r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC) for r in rows}

    def last_heard(self, tenant: str) -> dict[str, dict[str, datetime]]:
        """Per stream, per channel: when it was last heard from."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(heard.c.stream, heard.c.channel, heard.c.at).where(heard.c.tenant == tenant)
            ).all()
        out: dict[str, dict[str, datetime]] = {}
        for row in rows:
            at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
            out.setdefault(row.stream, {})[row.channel] = at
        return out
