"""Console sessions: a signed random id in an HttpOnly cookie, the session itself in the store.

Why server-side: logging out, a new password or a removed user end the session on every console
process at once, which a self-contained signed cookie cannot do. The cookie is signed (itsdangerous)
so a forged or truncated id is refused before the store is asked; the store keeps only its hash.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous import BadSignature, Signer
from starlette.requests import Request
from starlette.responses import Response

from infra.errors import ConfigurationError
from infra.settings import ConsoleSettings
from infra.store import Store
from infra.store.console_access import ConsoleSession

COOKIE = "auvo_bling_console"
LOGIN_COOKIE = "auvo_bling_console_login"  # the login form's CSRF token, before there is a session


@dataclass
class SessionKeeper:
    store: Store
    settings: ConsoleSettings
    signer: Signer

    @classmethod
    def from_secret(cls, store: Store, settings: ConsoleSettings, secret_key: str | None) -> SessionKeeper:
        if not secret_key:
            raise ConfigurationError(
                "the console signs its session cookies with secret_key: set AUVO_BLING_SECRET_KEY"
            )
        # a key of its own, derived: the token vault's Fernet key is never used for anything else
        key = hashlib.sha256(b"auvo-bling console session\0" + secret_key.encode()).digest()
        return cls(store, settings, Signer(key, salt="auvo-bling-console"))

    @property
    def ttl_seconds(self) -> float:
        return self.settings.session_hours * 3600.0

    def secure(self, request: Request) -> bool:
        """Secure cookies by setting, or when the request came over HTTPS (uvicorn applies
        X-Forwarded-Proto only from the trusted proxies)."""
        return self.settings.secure_cookies or request.url.scheme == "https"

    def open(self, request: Request, response: Response, user: str) -> None:
        sid = secrets.token_urlsafe(32)
        self.store.open_console_session(_hash(sid), user, secrets.token_urlsafe(32), self.ttl_seconds)
        response.set_cookie(
            COOKIE,
            self.signer.sign(sid).decode("ascii"),
            max_age=int(self.ttl_seconds),
            httponly=True,
            samesite="lax",  # Lax, not Strict: the return from Bling's authorize page must carry it
            secure=self.secure(request),
            path="/",
        )

    def load(self, request: Request) -> ConsoleSession | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            sid = self.signer.unsign(raw).decode("ascii")
        except (BadSignature, UnicodeDecodeError):
            return None
        return self.store.console_session(_hash(sid))

    def close(self, session: ConsoleSession | None, response: Response) -> None:
        if session is not None:
            self.store.close_console_session(session.id_hash)
        response.delete_cookie(COOKIE, path="/")

    # --- the login form's token (double submit: cookie and field must match) -----------------------

    def login_page(self, request: Request, render: Callable[[str], Response]) -> Response:
        """`render(token)` draws the login form; the cookie carries the token's signed twin.

        A token the browser already holds is reused: a second login page (another tab, or the
        favicon's redirect here) must not invalidate the form of the first.
        """
        token = self._login_cookie_token(request) or secrets.token_urlsafe(24)
        response = render(token)
        response.set_cookie(
            LOGIN_COOKIE,
            self.signer.sign(token).decode("ascii"),
            max_age=3600,
            httponly=True,
            samesite="strict",
            secure=self.secure(request),
            path="/login",
        )
        return response

    def _login_cookie_token(self, request: Request) -> str | None:
        raw = request.cookies.get(LOGIN_COOKIE, "")
        try:
            return self.signer.unsign(raw).decode("ascii") if raw else None
        except (BadSignature, UnicodeDecodeError):
            return None

    def login_token_ok(self, request: Request, submitted: str) -> bool:
        expected = self._login_cookie_token(request)
        return bool(expected and submitted) and secrets.compare_digest(expected or "", submitted)


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("ascii")).hexdigest()
