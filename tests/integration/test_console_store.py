"""The console's users, failed logins and sessions on PostgreSQL, shared by two console processes."""

from __future__ import annotations

import pytest

from infra.store import Store

pytestmark = pytest.mark.integration


def test_failures_and_sessions_are_shared_by_every_console_process(pg_url: str) -> None:
    first, second = Store(pg_url), Store(pg_url)
    try:
        assert first.save_console_user("ana", "admin", "$argon2id$hash-1") is True
        for _ in range(3):
            first.record_login_failure({"user": "ana", "address": "203.0.113.9"}, 900)
        assert second.login_failures("user", "ana", 900) == 3
        assert second.login_failures("address", "203.0.113.9", 900) == 3
        second.clear_login_failures("user", "ana")
        assert first.login_failures("user", "ana", 900) == 0
        assert first.login_failures("address", "203.0.113.9", 900) == 3  # the address keeps its count

        first.open_console_session("h1", "ana", "csrf-1", 3600)
        session = second.console_session("h1")
        assert session is not None and session.user.role == "admin" and session.csrf_token == "csrf-1"
        second.update_console_session_data("h1", {"oauth": {"state": "s", "tenant": "acme"}})
        assert first.console_session("h1").data == {"oauth": {"state": "s", "tenant": "acme"}}
        # a new password (or role) ends the user's sessions on every process
        assert second.save_console_user("ana", "viewer", "$argon2id$hash-2") is False
        assert first.console_session("h1") is None
        first.open_console_session("h2", "ana", "csrf-2", 3600)
        second.close_console_session("h2")
        assert first.console_session("h2") is None
        first.open_console_session("h3", "ana", "csrf-3", -1)  # already expired
        assert second.console_session("h3") is None
    finally:
        first.dispose()
        second.dispose()
