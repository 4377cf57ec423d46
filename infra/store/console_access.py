"""The store: the web console's users, failed logins and sessions (shared by every console process)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update

from infra.store.base import StoreBase, utcnow
from infra.store.tables import console_login_failures, console_sessions, console_users


@dataclass(frozen=True)
class ConsoleUser:
    name: str
    role: str
    password_hash: str


@dataclass(frozen=True)
class ConsoleSession:
    """A signed-in browser: who, its CSRF token, and small per-session data (the OAuth state)."""

    id_hash: str
    user: ConsoleUser
    csrf_token: str
    data: dict[str, Any]
    expires_at: float


class ConsoleAccess(StoreBase):
    # --- users ---------------------------------------------------------------------------------

    def save_console_user(self, name: str, role: str, password_hash: str) -> bool:
        """Create or replace a user; True when it is new."""
        now = utcnow()
        with self.transaction() as conn:
            existed = conn.execute(select(console_users.c.name).where(console_users.c.name == name)).first()
            self._upsert(
                conn,
                console_users,
                {
                    "name": name,
                    "role": role,
                    "password_hash": password_hash,
                    "created_at": now,
                    "updated_at": now,
                },
                ["name"],
            )
            if existed is not None:  # a new password or role ends the user's open sessions
                conn.execute(delete(console_sessions).where(console_sessions.c.user_name == name))
        return existed is None

    def console_user(self, name: str) -> ConsoleUser | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(console_users).where(console_users.c.name == name)).first()
        return ConsoleUser(row.name, row.role, row.password_hash) if row is not None else None

    def console_users_list(self) -> list[ConsoleUser]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(console_users).order_by(console_users.c.name)).all()
        return [ConsoleUser(r.name, r.role, r.password_hash) for r in rows]

    # --- failed logins ---------------------------------------------------------------------------

    def record_login_failure(self, keys: dict[str, str], window_seconds: float) -> None:
        """Note one failure under each (scope -> key), dropping failures older than the window."""
        now = time.time()
        with self.transaction() as conn:
            conn.execute(
                delete(console_login_failures).where(console_login_failures.c.at < now - window_seconds)
            )
            for scope, key in keys.items():
                conn.execute(console_login_failures.insert().values(scope=scope, key=key, at=now))

    def login_failures(self, scope: str, key: str, window_seconds: float) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).where(
                        console_login_failures.c.scope == scope,
                        console_login_failures.c.key == key,
                        console_login_failures.c.at >= time.time() - window_seconds,
                    )
                ).scalar_one()
            )

    def clear_login_failures(self, scope: str, key: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                delete(console_login_failures).where(
                    console_login_failures.c.scope == scope, console_login_failures.c.key == key
                )
            )

    # --- sessions --------------------------------------------------------------------------------

    def open_console_session(self, id_hash: str, user: str, csrf_token: str, ttl_seconds: float) -> None:
        now = time.time()
        with self.transaction() as conn:
            conn.execute(delete(console_sessions).where(console_sessions.c.expires_at < now))
            conn.execute(
                console_sessions.insert().values(
                    id_hash=id_hash,
                    user_name=user,
                    csrf_token=csrf_token,
                    data="{}",
                    created_at=utcnow(),
                    expires_at=now + ttl_seconds,
                )
            )

    def console_session(self, id_hash: str) -> ConsoleSession | None:
        """The live session with that id and its user (None once expired, closed or the user is gone)."""
        query = (
            select(console_sessions, console_users.c.role, console_users.c.password_hash)
            .join(console_users, console_users.c.name == console_sessions.c.user_name)
            .where(console_sessions.c.id_hash == id_hash, console_sessions.c.expires_at >= time.time())
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        user = ConsoleUser(row.user_name, row.role, row.password_hash)
        return ConsoleSession(row.id_hash, user, row.csrf_token, json.loads(row.data), row.expires_at)

    def update_console_session_data(self, id_hash: str, data: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                update(console_sessions)
                .where(console_sessions.c.id_hash == id_hash)
                .values(data=json.dumps(data))
            )

    def close_console_session(self, id_hash: str) -> None:
        with self.transaction() as conn:
            conn.execute(delete(console_sessions).where(console_sessions.c.id_hash == id_hash))
