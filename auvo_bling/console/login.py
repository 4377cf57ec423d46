"""Signing in and out, with failed attempts counted in the store per user name and per client
address, so the limit holds across console processes and a restart."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from auvo_bling.console.passwords import verify_password
from infra.settings import ConsoleSettings
from infra.store import Store
from infra.store.console_access import ConsoleUser

log = structlog.get_logger("console")


@dataclass
class LoginOutcome:
    user: ConsoleUser | None
    throttled: bool = False


@dataclass
class LoginLimiter:
    store: Store
    settings: ConsoleSettings

    def _keys(self, name: str, address: str) -> dict[str, str]:
        return {"user": name.lower(), "address": address}

    def throttled(self, name: str, address: str) -> bool:
        window = self.settings.login_window_seconds
        return (
            self.store.login_failures("user", name.lower(), window) >= self.settings.login_failures_per_user
            or self.store.login_failures("address", address, window)
            >= self.settings.login_failures_per_address
        )

    def attempt(self, name: str, password: str, address: str) -> LoginOutcome:
        """Check the password unless the limit is reached (then not even the right password opens)."""
        if self.throttled(name, address):
            log.warning("console login refused: too many failures", user=name, address=address)
            return LoginOutcome(None, throttled=True)
        user = self.store.console_user(name)
        if verify_password(user.password_hash if user else None, password) and user is not None:
            self.store.clear_login_failures("user", name.lower())
            log.info("console login", user=name, address=address)
            return LoginOutcome(user)
        self.store.record_login_failure(self._keys(name, address), self.settings.login_window_seconds)
        log.warning("console login failed", user=name, address=address)
        return LoginOutcome(None)
