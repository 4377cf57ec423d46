"""The console's setup steps and options against the simulators, through HTTP (no browser):
"Testar conexão" tells a deactivated Auvo API from wrong credentials, "Autorizar" runs Bling's OAuth
flow and ends on the console with the scopes, and secrets never come back in a page or the audit log."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from infra.bling.tokens import PROVIDER
from infra.store import Store
from tests.console_support import add_users, client_for, console_settings, csrf_of, sign_in
from tests.support import Simulators

CALLBACK = "http://testserver/oauth/callback"
CLIENT_ID = "console-client-id"
SECRET = "Distinctive-Client-Secret-7d1f"  # distinctive values, searched for in every page
AUVO_TOKEN_MARK = "Distinctive-Auvo-Token-93ab"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path}/console.sqlite3")
    add_users(store)
    yield store
    store.dispose()


@pytest.fixture
def setup(sims: Simulators, store: Store) -> Any:
    sims.bling.register_app(CLIENT_ID, SECRET, CALLBACK)
    sims.auvo.api_token = AUVO_TOKEN_MARK
    settings = console_settings(
        store.url,
        tenants={"acme": {"auvo": {"base_url": sims.auvo_url}, "bling": {"base_url": sims.bling_url}}},
    )
    client = client_for(settings, store)
    assert sign_in(client, "ana").status_code == 303
    return client


def _post(client: Any, path: str, data: dict[str, str]) -> Any:
    return client.post(path, data={"csrf_token": csrf_of(client, "/companies/acme/setup"), **data})


def test_the_setup_page_shows_the_redirect_link_and_the_five_scope_groups(setup: Any) -> None:
    page = setup.get("/companies/acme/setup")
    assert page.status_code == 200
    assert f'id="redirect-link">{CALLBACK}</code>' in page.text
    for group in (
        "Clientes e Fornecedores",
        "Contas a Pagar",
        "Pedidos de Venda",
        "Produtos",
        "Propostas Comerciais",
    ):
        assert f"{group} e seus subitens" in page.text
    assert 'data-copy="redirect-link"' in page.text


def test_test_connection_tells_a_deactivated_api_from_wrong_credentials(setup: Any, sims: Simulators) -> None:
    saved = _post(
        setup,
        "/companies/acme/setup/auvo",
        {"auvo.api_key": sims.auvo.api_key, "auvo.api_token": AUVO_TOKEN_MARK},
    )
    assert saved.status_code == 200 and "Opções salvas" in saved.text
    ok = _post(setup, "/companies/acme/setup/auvo/test", {})
    assert ok.status_code == 200 and "Conexão com o Auvo funcionando" in ok.text
    wrong = _post(setup, "/companies/acme/setup/auvo/test", {"auvo.api_token": "not-the-token"})
    assert wrong.status_code == 422
    assert (
        "Chave (API key) ou token do Auvo incorretos" in wrong.text
        and "API do Auvo desativada" not in wrong.text
    )
    sims.auvo.api_deactivated = True
    off = _post(setup, "/companies/acme/setup/auvo/test", {})
    assert off.status_code == 422
    assert "API do Auvo desativada" in off.text and "ATIVADA" in off.text
    assert "incorretos" not in off.text


def test_authorize_runs_the_oauth_flow_and_ends_with_the_scopes(
    setup: Any, sims: Simulators, store: Store
) -> None:
    _post(setup, "/companies/acme/setup/bling", {"bling.client_id": CLIENT_ID, "bling.client_secret": SECRET})
    start = _post(setup, "/companies/acme/authorize", {})
    assert start.status_code == 200 or start.is_redirect
    # TestClient does not follow to another host: the authorize URL is in the redirect we got
    redirect = start.history[0].headers["location"] if start.history else start.headers["location"]
    assert (
        urlparse(redirect).path.endswith("/oauth/authorize")
        and f"redirect_uri={CALLBACK.replace(':', '%3A').replace('/', '%2F')}" in redirect
    )
    bling = httpx.get(redirect, follow_redirects=False)
    assert bling.status_code == 302
    back = bling.headers["location"]
    assert back.startswith(CALLBACK)
    done = setup.get(back.replace("http://testserver", ""))
    assert done.status_code == 200, done.text
    assert (
        "Autorização concluída" in done.text and "Todos os escopos necessários foram concedidos" in done.text
    )
    assert store.load_token("acme", PROVIDER) is not None
    # the same callback again: the state was single-use
    again = setup.get(back.replace("http://testserver", ""))
    assert again.status_code == 400 and "Autorização concluída" not in again.text


def test_a_callback_with_another_state_is_refused(setup: Any, store: Store) -> None:
    _post(setup, "/companies/acme/setup/bling", {"bling.client_id": CLIENT_ID, "bling.client_secret": SECRET})
    start = _post(setup, "/companies/acme/authorize", {})
    redirect = start.history[0].headers["location"] if start.history else start.headers["location"]
    bling = httpx.get(redirect, follow_redirects=False)
    forged = re.sub(r"state=[^&]+", "state=forged", bling.headers["location"])
    refused = setup.get(forged.replace("http://testserver", ""))
    assert refused.status_code == 400 and "state diferente" in refused.text
    assert store.load_token("acme", PROVIDER) is None


def test_missing_scopes_are_named_in_the_guides_terms(setup: Any, sims: Simulators, store: Store) -> None:
    sims.bling.register_app(CLIENT_ID, SECRET, CALLBACK, scopes=["contatos", "pedidos_vendas"])
    _post(setup, "/companies/acme/setup/bling", {"bling.client_id": CLIENT_ID, "bling.client_secret": SECRET})
    start = _post(setup, "/companies/acme/authorize", {})
    redirect = start.history[0].headers["location"] if start.history else start.headers["location"]
    done = setup.get(
        httpx.get(redirect, follow_redirects=False).headers["location"].replace("http://testserver", "")
    )
    assert "Escopos que faltam" in done.text
    missing = re.search(r'<ul class="missing">(.*?)</ul>', done.text, re.S).group(1)
    assert "Produtos e seus subitens" in missing and "Contas a Pagar e seus subitens" in missing
    assert "Clientes e Fornecedores" not in missing


def test_secrets_never_appear_in_a_page_or_the_audit_log(setup: Any, sims: Simulators, store: Store) -> None:
    _post(setup, "/companies/acme/setup/bling", {"bling.client_id": CLIENT_ID, "bling.client_secret": SECRET})
    _post(
        setup,
        "/companies/acme/setup/auvo",
        {"auvo.api_key": sims.auvo.api_key, "auvo.api_token": AUVO_TOKEN_MARK},
    )
    start = _post(setup, "/companies/acme/authorize", {})
    redirect = start.history[0].headers["location"] if start.history else start.headers["location"]
    setup.get(
        httpx.get(redirect, follow_redirects=False).headers["location"].replace("http://testserver", "")
    )
    tokens = store.load_token("acme", PROVIDER)
    assert tokens is not None
    from auvo_bling.wiring import App

    vault_tokens = App(setup.app.state.console.tenant_settings("acme"), shared_store=store).vault.load(
        PROVIDER
    )
    secrets = [SECRET, AUVO_TOKEN_MARK, vault_tokens.access_token, vault_tokens.refresh_token]
    pages = [
        "/companies",
        "/companies/acme/setup",
        "/companies/acme/options",
        "/audit",
        "/audit?tenant=acme",
        "/companies/default/setup",
        "/companies/default/options",
    ]
    for path in pages:
        html = setup.get(path).text
        for secret in secrets:
            assert secret not in html, (path, secret[:6])
    audit_html = setup.get("/audit").text
    assert "bling.client_secret" in audit_html and "auvo.api_token" in audit_html  # the change is logged
    for entry in store.audit_entries(limit=500):
        text = repr(entry)
        for secret in secrets:
            assert secret not in text
    # a refused save shows the form again: still without the typed secret
    refused = _post(setup, "/companies/acme/setup/auvo", {"auvo.api_token": "Another-Distinctive-Token-55"})
    assert "Another-Distinctive-Token-55" not in refused.text
    # and the secret field says "definido", never the value
    page = setup.get("/companies/acme/setup").text
    assert 'data-secret-state="bling.client_secret">definido' in page


def test_options_use_auvos_lists_and_show_the_settings_messages(
    setup: Any, sims: Simulators, store: Store
) -> None:
    kind = sims.auvo.add_record("taskTypes", {"description": "Instalação de ar"})
    group = sims.auvo.add_record("customerGroups", {"description": "Clientes VIP"})
    _post(
        setup,
        "/companies/acme/setup/auvo",
        {"auvo.api_key": sims.auvo.api_key, "auvo.api_token": AUVO_TOKEN_MARK},
    )
    page = setup.get("/companies/acme/options").text
    assert "Instalação de ar" in page and "Clientes VIP" in page
    assert "Padrão de integração de clientes" in page and "Status das tarefas" in page
    token = csrf_of(setup, "/companies/acme/options")
    bad = setup.post("/companies/acme/options", data={"csrf_token": token, "poll.interval_seconds": "-1"})
    assert bad.status_code == 400
    error = re.search(r'data-error-for="poll.interval_seconds">(.*?)</span>', bad.text).group(1)
    assert "invalid setting tenants.acme.poll.interval_seconds" in error and "greater than 0" in error
    saved = setup.post(
        "/companies/acme/options",
        data={
            "csrf_token": token,
            "tasks.enabled": "true",
            "present:tasks.task_types": "1",
            "tasks.task_types": str(kind["id"]),
            "tasks.customer_group": str(group["id"]),
        },
    )
    assert saved.status_code == 200 and "Opções salvas" in saved.text
    effective = setup.app.state.console.tenant_settings("acme").tasks
    assert (
        effective.enabled and effective.task_types == [kind["id"]] and effective.customer_group == group["id"]
    )
    assert "salvo — aguardando aplicação" in saved.text
    audit = store.audit_entries(tenant="acme", limit=5)
    assert audit[0].actor == "console:ana" and audit[0].after["tasks.task_types"] == [kind["id"]]


def test_the_pages_speak_english_when_the_browser_asks(setup: Any) -> None:
    english = {"Accept-Language": "en-US,en;q=0.8,pt;q=0.5"}
    options = setup.get("/companies/acme/options", headers=english).text
    assert "Customer integration pattern" in options and "Task integration" in options
    assert "Padrão de integração de clientes" not in options
    page = setup.get("/companies/acme/setup", headers=english).text
    assert "Redirect link" in page and "Test connection" in page and "Clientes e Fornecedores" in page
    assert "Padrão de integração de clientes" in setup.get("/companies/acme/options").text
