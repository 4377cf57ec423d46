"""Helpers for the console's tests: a console over a throw-away store, users, signing in."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from auvo_bling.console.app import create_console_app
from auvo_bling.console.passwords import hash_password
from infra.settings import Settings
from infra.store import Store

PASSWORDS = {"ana": "ana-admin-password", "otto": "otto-operator-pw", "vera": "vera-viewer-password"}
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "console"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROLES = {"ana": "admin", "otto": "operator", "vera": "viewer"}


def console_settings(database_url: str, **values: Any) -> Settings:
    return Settings(
        database_url=database_url, amqp_url="memory://", secret_key="console-test-secret-key", **values
    )


def add_users(store: Store) -> None:
    for name, role in ROLES.items():
        store.save_console_user(name, role, hash_password(PASSWORDS[name]))


def client_for(
    settings: Settings, store: Store, config_path: Path | None = None, **kwargs: Any
) -> TestClient:
    return TestClient(create_console_app(settings, store, config_path=config_path), **kwargs)


def login_token(client: TestClient) -> str:
    page = client.get("/login")
    return re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)


def sign_in(client: TestClient, name: str, password: str | None = None) -> Any:
    token = login_token(client)
    return client.post(
        "/login",
        data={
            "name": name,
            "password": PASSWORDS[name] if password is None else password,
            "login_csrf": token,
        },
        follow_redirects=False,
    )


def csrf_of(client: TestClient, path: str = "/companies") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


# --- in the browser -----------------------------------------------------------------------------


def open_page(chromium: Any) -> Any:
    context = chromium.new_context(viewport={"width": 1200, "height": 900}, locale="pt-BR")
    # Reading the clipboard back proves a "Copiar" button copied; a headless window asks first.
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in_browser(page: Any, url: str, name: str) -> None:
    page.goto(f"{url}/companies")
    assert "/login" in page.url
    page.fill('input[name="name"]', name)
    page.fill('input[name="password"]', PASSWORDS[name])
    page.click('form.login button[type="submit"]')
    page.wait_for_load_state()
    assert page.url == f"{url}/companies", page.inner_text("main")
