"""The console in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright): sign in,
set a company up against the simulators, authorize through the Bling simulator, choose task types
and a customer group from the lists Auvo returned, save. Each page's screenshot goes to docs/console/.

Never skipped: without Chromium or Playwright these tests fail and say how to install them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auvo_bling.console.app import create_console_app
from infra.bling.tokens import PROVIDER
from infra.store import Store
from simulators.server import serve_in_thread
from tests.console_support import add_users, console_settings, open_page, shot, sign_in_browser
from tests.support import Simulators

CLIENT_ID = "console-browser-client"
CLIENT_SECRET = "Browser-Distinctive-Secret-41c2"


@pytest.fixture
def console(sims: Simulators, tmp_path: Path) -> Iterator[dict[str, Any]]:
    store = Store(f"sqlite:///{tmp_path}/console.sqlite3")
    add_users(store)
    settings = console_settings(
        store.url,
        tenants={"acme": {"auvo": {"base_url": sims.auvo_url}, "bling": {"base_url": sims.bling_url}}},
    )
    server = serve_in_thread(create_console_app(settings, store))
    sims.bling.register_app(CLIENT_ID, CLIENT_SECRET, f"{server.url}/oauth/callback")
    try:
        yield {"url": server.url, "store": store, "settings": settings}
    finally:
        server.stop()
        store.dispose()


def test_set_up_authorize_and_choose_options_in_a_real_browser(
    chromium: Any, console: dict[str, Any], sims: Simulators
) -> None:
    url, store = console["url"], console["store"]
    installs = sims.auvo.add_record("taskTypes", {"description": "Instalação"})
    repairs = sims.auvo.add_record("taskTypes", {"description": "Manutenção corretiva"})
    sims.auvo.add_record("taskTypes", {"description": "Visita técnica"})
    vip = sims.auvo.add_record("customerGroups", {"description": "Clientes VIP"})
    sims.auvo.add_record("customerGroups", {"description": "Condomínios"})
    page = open_page(chromium)

    page.goto(f"{url}/companies")
    assert page.url.startswith(f"{url}/login")
    shot(page, "login")
    sign_in_browser(page, url, "ana")
    assert page.locator('tr[data-tenant="acme"]').inner_text().count("Bling não autorizado") == 1
    shot(page, "companies")

    # (a) the Bling app: the redirect link (copied with the button), the scopes, Client ID / Secret
    page.click('tr[data-tenant="acme"] a[href="/companies/acme/setup"]')
    assert page.inner_text("#redirect-link") == f"{url}/oauth/callback"
    page.click('button[data-copy="redirect-link"]')
    page.wait_for_function(
        "document.querySelector('button[data-copy=\"redirect-link\"]').textContent !== 'Copiar'"
    )
    assert page.inner_text('button[data-copy="redirect-link"]') == "Copiado"
    assert page.evaluate("navigator.clipboard.readText()") == f"{url}/oauth/callback"
    assert page.locator("ul.scopes li").count() == 5
    page.fill('[name="bling.client_id"]', CLIENT_ID)
    page.fill('[name="bling.client_secret"]', CLIENT_SECRET)
    page.click('section#bling button[type="submit"]')
    page.wait_for_selector("p.done")
    assert page.inner_text('[data-secret-state="bling.client_secret"]') == "definido"
    assert CLIENT_SECRET not in page.content()

    # (b) Auvo: key and token, then "Testar conexão"; a deactivated API says so with the guide's fix
    page.fill('[name="auvo.api_key"]', sims.auvo.api_key)
    page.fill('[name="auvo.api_token"]', sims.auvo.api_token)
    page.click('section#auvo button[type="submit"]:not(#test-connection)')
    page.wait_for_selector("p.done")
    page.click("#test-connection")
    assert "Conexão com o Auvo funcionando" in page.inner_text("#auvo-test")
    sims.auvo.api_deactivated = True
    page.click("#test-connection")
    verdict = page.inner_text("#auvo-test")
    assert "API do Auvo desativada" in verdict and "ATIVADA" in verdict
    shot(page, "setup-auvo-deactivated")
    sims.auvo.api_deactivated = False

    # (c) "Autorizar": through the Bling simulator's authorize page and back to the console
    page.click("#authorize-button")
    page.wait_for_selector("#authorize-result")
    result = page.inner_text("#authorize-result")
    assert "Autorização concluída" in result and "Todos os escopos necessários foram concedidos" in result
    assert page.url.startswith(f"{url}/oauth/callback")
    assert store.load_token("acme", PROVIDER) is not None
    shot(page, "setup")

    # the options: task types and a customer group from the lists Auvo returned
    page.goto(f"{url}/companies/acme/options")
    listed = page.locator('select[name="tasks.task_types"] option').all_inner_texts()
    assert any("Instalação" in t for t in listed) and any("Visita técnica" in t for t in listed)
    groups = page.locator('select[name="tasks.customer_group"] option').all_inner_texts()
    assert "Clientes VIP" in groups and "Condomínios" in groups
    page.select_option('select[name="tasks.enabled"]', "true")
    page.select_option('select[name="tasks.status"]', "finished_manually")
    page.select_option('select[name="tasks.task_types"]', [str(installs["id"]), str(repairs["id"])])
    page.select_option('select[name="tasks.customer_group"]', str(vip["id"]))
    page.click('form.options button[type="submit"]')
    page.wait_for_selector("p.done")
    assert "Opções salvas" in page.inner_text("p.done")
    assert "salvo" in page.inner_text("#applied-status")
    shot(page, "options")
    tasks = console["settings"].for_tenant("acme").tasks
    assert not tasks.enabled  # the bootstrap is untouched; the store holds the company's choice
    from auvo_bling.company_options import tenant_settings

    saved = tenant_settings(store, console["settings"], "acme").tasks
    assert saved.enabled and saved.status.value == "finished_manually"
    assert sorted(saved.task_types) == sorted([installs["id"], repairs["id"]])
    assert saved.customer_group == vip["id"]

    # a wrong value is shown next to its field with the settings' message
    page.fill('[name="poll.interval_seconds"]', "0")
    page.click('form.options button[type="submit"]')
    error = page.inner_text('[data-error-for="poll.interval_seconds"]')
    assert "greater than 0" in error
    shot(page, "options-error")

    page.goto(f"{url}/audit")
    audit = page.inner_text("table.audit")
    assert "tasks.task_types" in audit and "console:ana" in audit and CLIENT_SECRET not in page.content()
    shot(page, "audit")
    page.goto(f"{url}/companies")
    row = page.locator('tr[data-tenant="acme"]').inner_text()
    assert "Bling autorizado" in row and "api_token" not in row and "client_secret" not in row
    page.context.close()


def test_a_viewer_sees_the_pages_but_cannot_save(chromium: Any, console: dict[str, Any]) -> None:
    url, store = console["url"], console["store"]
    page = open_page(chromium)
    sign_in_browser(page, url, "vera")
    page.goto(f"{url}/companies/acme/options")
    page.select_option('select[name="tasks.enabled"]', "true")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click('form.options button[type="submit"]')
    assert answer.value.status == 403
    assert "permissão" in page.content()
    assert store.options_revision("acme").revision == 0
    page.context.close()


def test_a_company_added_in_the_browser_is_kept_in_the_database(
    chromium: Any, console: dict[str, Any]
) -> None:
    """Started without a config file: "Adicionar empresa" puts the company in the database,
    disabled; its credentials are saved on its setup page (sealed) and "Ativar" serves it."""
    url, store = console["url"], console["store"]
    page = open_page(chromium)
    sign_in_browser(page, url, "ana")
    page.goto(f"{url}/companies")
    assert "ficam no banco de dados" in page.inner_text("p.note")
    page.fill('form.add-company [name="name"]', "filial-norte")
    page.click('form.add-company button[type="submit"]')
    page.wait_for_url(f"{url}/companies/filial-norte/setup*")
    assert "Empresa adicionada (desativada)" in page.inner_text("p.done")
    page.fill('[name="bling.client_id"]', "norte-client")
    page.fill('[name="bling.client_secret"]', CLIENT_SECRET)
    page.click('section#bling button[type="submit"]')
    page.wait_for_selector("p.done")
    assert CLIENT_SECRET not in page.content()
    shot(page, "company-added-to-database")

    page.goto(f"{url}/companies")
    row = page.locator('tr[data-tenant="filial-norte"]')
    assert "Desativada" in row.inner_text() or "desativada" in row.inner_text().lower()
    row.locator('form[action="/companies/filial-norte/enable"] button').click()
    page.wait_for_selector("p.done")
    assert "sem reiniciar" in page.inner_text("p.done")
    assert [(r.tenant, r.state) for r in store.registered_tenants()] == [("filial-norte", "enabled")]
    saved = store.load_options("filial-norte")
    assert saved["bling.client_secret"].sealed and CLIENT_SECRET not in saved["bling.client_secret"].value
