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

    def note_passes(
        self,
        heard_rows: list[tuple[str, str, str, datetime]],
        cursor_rows: list[tuple[str, str, str]],
    ) -> None:
        """Many poll passes' notes in one transaction: (tenant, stream, channel, at) heard and
        (tenant, name, value) cursors (the pollers' schedules). A process polling a thousand
        companies wrote two transactions per pass for these before."""
        if not heard_rows and not cursor_rows:
            return
        now = utcnow()
        with self.transaction() as conn:
            if heard_rows:
                stmt = self._insert(heard)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["tenant", "stream", "channel"], set_={"at": stmt.excluded.at}
                    ),
                    [
                        {"tenant": t, "stream": s, "channel": c, "at": at}
                        for t, s, c, at in sorted(heard_rows)
                    ],
                )
            if cursor_rows:
                stmt = self._insert(cursors)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["tenant", "name"],
                        set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
                    ),
                    [
                        {"tenant": t, "name": n, "value": v, "updated_at": now}
                        for t, n, v in sorted(cursor_rows)
                    ],
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
