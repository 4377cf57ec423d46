"""The Bling authorization-code flow as a person runs it once per account (`auvo-bling authorize`).

A random `state` ties the callback to this run (a callback with another state is refused);
the code is exchanged once and the tokens go straight into the encrypted vault.
"""

from __future__ import annotations

import secrets
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

import httpx

from auvo_bling.wiring import App, _secret
from infra.bling.oauth import authorize_url, exchange_code, missing_scopes
from infra.bling.tokens import PROVIDER
from infra.errors import ApiRejected, ConfigurationError

# Bling's authorization codes expire after about a minute: a longer wait for a token slot would
# only spend the slot on a dead code.
CODE_SLOT_WAIT_S = 30.0


class StateMismatch(ApiRejected):
    default_hint = (
        "the callback did not come from this authorization attempt; run `auvo-bling authorize` again"
    )


def new_state() -> str:
    return secrets.token_urlsafe(24)


def start_url(app: App, state: str) -> str:
    bling = app.settings.bling
    if not bling.client_id:
        raise ConfigurationError("missing setting bling.client_id (AUVO_BLING_BLING__CLIENT_ID)")
    return authorize_url(bling.base_url, bling.client_id, state, bling.redirect_uri)


def code_from_callback(callback_url: str, expected_state: str) -> str:
    """Extract the code from the redirect, refusing a callback of another attempt."""
    query = parse_qs(urlparse(callback_url).query)
    if query.get("state", [""])[0] != expected_state:
        raise StateMismatch("the callback's state does not match this authorization attempt")
    if "error" in query:
        raise ApiRejected(f"Bling refused the authorization: {query['error'][0]}")
    code = query.get("code", [""])[0]
    if not code:
        raise ApiRejected("the callback carries no authorization code")
    return code


def complete(app: App, code: str) -> list[str]:
    """Exchange the code, store the tokens encrypted; returns the required scopes not granted."""
    bling = app.settings.bling
    tokens = exchange_code(
        bling.base_url,
        bling.client_id or "",
        _secret(bling.client_secret),
        code,
        redirect_uri=bling.redirect_uri,
        # a token call like a refresh, under the IP-wide ceiling; the code dies within a minute
        throttle=app.bling_egress.token_throttle(max_wait=CODE_SLOT_WAIT_S),
        timeout=bling.timeout_seconds,
    )
    app.vault.save(PROVIDER, tokens)
    return missing_scopes(tokens.scope)


def wait_for_callback(redirect_uri: str, timeout: float = 300.0) -> str:
    """Serve the redirect URI once on localhost and return the full callback URL."""
    parsed = urlparse(redirect_uri)
    received: dict[str, str] = {}
    done = threading.Event()

    class Callback(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            received["url"] = f"{redirect_uri.split('?')[0]}?{urlparse(self.path).query}"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"auvo-bling: authorization received, you can close this window.")
            done.set()

        def log_message(self, *args: object) -> None:  # keep codes out of stderr
            return

    server = HTTPServer((parsed.hostname or "127.0.0.1", parsed.port or 80), Callback)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        if not done.wait(timeout):
            raise TimeoutError(f"no callback on {redirect_uri} within {timeout:.0f} s")
        return received["url"]
    finally:
        server.shutdown()
        server.server_close()


def authorize_headless(app: App) -> list[str]:
    """Follow the authorize redirect without a browser (the simulator approves by itself)."""
    state = new_state()
    response = httpx.get(start_url(app, state), follow_redirects=False, timeout=10.0)
    location = response.headers.get("location")
    if response.status_code not in (301, 302, 303, 307) or not location:
        raise ApiRejected(f"authorize answered {response.status_code} without a redirect")
    return complete(app, code_from_callback(location, state))
