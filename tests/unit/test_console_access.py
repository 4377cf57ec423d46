"""The console's access rules: no route without a session, CSRF on every change, roles, login limits."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Mount, Route

from infra.store import Store
from tests.console_support import (
    PASSWORDS,
    add_users,
    client_for,
    console_settings,
    csrf_of,
    sign_in,
)

PUBLIC = {"/login", "/healthz"}


@pytest.fixture
def store(tmp_path: Path) -> Any:
    store = Store(f"sqlite:///{tmp_path}/console.sqlite3")
    add_users(store)
    yield store
    store.dispose()


@pytest.fixture
def settings(store: Store) -> Any:
    return console_settings(store.url, tenants={"acme": {"enabled": True}})


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "default", path)


def _every_route(app: Any) -> list[tuple[str, str]]:
    out = []
    for route in app.routes:
        if isinstance(route, Route):
            for method in sorted(route.methods or {"GET"}):
                if method != "HEAD":
                    out.append((method, _concrete(route.path)))
        elif isinstance(route, Mount):
            assert route.path == "/static", f"an unexpected mount {route.path}"
    return out


def test_no_route_is_reachable_without_a_session(settings: Any, store: Store) -> None:
    client = client_for(settings, store)
    routes = _every_route(client.app)
    assert len(routes) >= 8, routes
    for method, path in routes:
        if path in PUBLIC:
            continue
        response = client.request(method, path, follow_redirects=False, data={"csrf_token": "x"})
        if method == "GET":
            assert response.status_code == 303, (method, path, response.status_code)
            assert response.headers["location"].startswith("/login?next=")
        else:
            assert response.status_code == 401, (method, path, response.status_code)
    # a forged cookie is no session either
    client.cookies.set("auvo_bling_console", "forged.value")
    assert client.get("/companies", follow_redirects=False).status_code == 303


def test_the_static_files_are_served_without_a_session(settings: Any, store: Store) -> None:
    client = client_for(settings, store)
    assert client.get("/static/console.js").status_code == 200
    assert client.get("/static/console.css").status_code == 200


def test_a_change_without_the_sessions_csrf_token_is_refused(settings: Any, store: Store) -> None:
    client = client_for(settings, store)
    assert sign_in(client, "ana").status_code == 303
    refused = client.post("/companies/acme/pause", data={})
    assert refused.status_code == 403 and "CSRF" in refused.text
    wrong = client.post("/companies/acme/pause", data={"csrf_token": "not-the-token"})
    assert wrong.status_code == 403
    assert store.tenant_pause("acme") is None
    # another session's token does not open this one
    other = client_for(settings, store)
    sign_in(other, "ana")
    assert client.post("/companies/acme/pause", data={"csrf_token": csrf_of(other)}).status_code == 403
    assert store.tenant_pause("acme") is None
    ok = client.post("/companies/acme/pause", data={"csrf_token": csrf_of(client)})
    assert ok.status_code == 200
    assert store.tenant_pause("acme") is not None


@pytest.mark.parametrize("name", ["vera", "otto"])
def test_a_viewer_or_operator_cannot_change_anything_here(settings: Any, store: Store, name: str) -> None:
    client = client_for(settings, store)
    sign_in(client, name)
    token = csrf_of(client)
    operators = ("/falhas",) if name == "otto" else ()  # an operator replays, parks and purges there
    changes = [
        (m, p)
        for m, p in _every_route(client.app)
        if m != "GET" and p not in PUBLIC | {"/logout"} and not p.startswith(operators or ("\0",))
    ]
    assert changes
    if name == "otto":  # the operations pages' actions are the operator's ("Retomar" on Operação)
        operations = [(m, p) for m, p in changes if p.startswith("/operacao/")]
        assert operations == [("POST", "/operacao/default/retomar")]
        changes = [c for c in changes if c not in operations]
    for method, path in changes:
        response = client.request(method, path, data={"csrf_token": token}, follow_redirects=False)
        assert response.status_code == 403, (name, method, path, response.status_code)
    assert store.tenant_pause("default") is None
    assert client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303


def test_the_session_cookie_is_http_only_and_same_site(settings: Any, store: Store) -> None:
    client = client_for(settings, store)
    cookie = sign_in(client, "ana").headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP on localhost
    tls = client_for(settings, store, base_url="https://console.example")
    assert "Secure" in sign_in(tls, "ana").headers["set-cookie"]
    forced = client_for(console_settings(store.url, console={"secure_cookies": True}), store)
    assert "Secure" in sign_in(forced, "ana").headers["set-cookie"]


def test_a_trusted_proxy_says_https_and_an_untrusted_one_does_not(store: Store) -> None:
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    trusted = client_for(console_settings(store.url, console={"trusted_proxies": ["testclient"]}), store)
    trusted.headers.update(https)
    assert "Secure" in sign_in(trusted, "ana").headers["set-cookie"]
    untrusted = client_for(console_settings(store.url), store)  # trusts 127.0.0.1 only
    untrusted.headers.update(https)
    assert "Secure" not in sign_in(untrusted, "ana").headers["set-cookie"]


def test_logout_ends_the_session_for_a_copy_of_its_cookie(settings: Any, store: Store) -> None:
    client = client_for(settings, store)
    sign_in(client, "ana")
    stolen = dict(client.cookies)
    client.post("/logout", data={"csrf_token": csrf_of(client)})
    replay = client_for(settings, store)
    replay.cookies.update(stolen)
    assert replay.get("/companies", follow_redirects=False).status_code == 303


def test_a_login_form_from_elsewhere_is_refused(settings: Any, store: Store) -> None:
    client = client_for(settings, store)
    response = client.post(
        "/login",
        data={"name": "ana", "password": PASSWORDS["ana"], "login_csrf": "x"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "auvo_bling_console=" not in response.headers.get("set-cookie", "")


def test_failed_logins_are_limited_per_user_across_console_processes(settings: Any, store: Store) -> None:
    first = client_for(settings, store)
    for _ in range(settings.console.login_failures_per_user):
        assert sign_in(first, "ana", "wrong-password!").status_code == 401
    # another console process on the same database: the limit holds, even for the right password
    second_store = Store(store.url)
    try:
        second = client_for(settings, second_store)
        refused = sign_in(second, "ana")
        assert refused.status_code == 429
        assert "Muitas tentativas" in refused.text
        # other users are not locked out by ana's failures
        assert sign_in(second, "vera").status_code == 303
    finally:
        second_store.dispose()


def test_failed_logins_are_limited_per_client_address(store: Store) -> None:
    settings = console_settings(store.url, console={"login_failures_per_address": 3})
    client = client_for(settings, store)
    for name in ("nobody-1", "nobody-2", "nobody-3"):  # different names, one address
        assert sign_in(client, "ana", f"wrong password of {name}").status_code == 401
    assert sign_in(client, "vera").status_code == 429


def test_english_from_the_browser_language_and_portuguese_by_default(settings: Any, store: Store) -> None:
    client = client_for(settings, store)
    assert "Entrar" in client.get("/login").text
    assert "Sign in" in client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).text
    pinned = client_for(console_settings(store.url, console={"language": "pt-BR"}), store)
    assert "Entrar" in pinned.get("/login", headers={"Accept-Language": "en"}).text


def test_login_redirects_only_to_a_path_of_the_console(settings: Any, store: Store) -> None:
    client = client_for(settings, store)
    token = client.get("/login?next=//evil.example/x").text
    assert "//evil.example" not in token
    from tests.console_support import login_token

    response = client.post(
        "/login",
        data={
            "name": "ana",
            "password": PASSWORDS["ana"],
            "login_csrf": login_token(client),
            "next": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/companies"


def test_every_answer_forbids_framing_and_referers_and_pages_are_not_cached(
    settings: Any, store: Store
) -> None:
    client = client_for(settings, store)
    for response in (client.get("/login"), client.get("/companies", follow_redirects=False)):
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
    assert "no-store" not in client.get("/static/console.css").headers.get("cache-control", "")


def test_a_websocket_is_closed_at_once(settings: Any, store: Store) -> None:
    from starlette.websockets import WebSocketDisconnect

    client = client_for(settings, store)
    sign_in(client, "ana")
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/companies"):
        pass
    assert closed.value.code == 1008
