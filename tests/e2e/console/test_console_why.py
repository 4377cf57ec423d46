""" "Por que não integrou?" in the console: the real pollers and consumers leave tasks out, integrate
one and dead-letter another (tests/story_support.py); then the console's page tells each story
through HTTP and in a real headless Chromium (its screenshot goes to docs/console/)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auvo_bling.console.app import create_console_app
from infra.bling.tokens import PROVIDER
from infra.store import Store
from simulators.server import serve_in_thread
from tests.console_support import add_users, client_for, open_page, shot, sign_in, sign_in_browser
from tests.story_support import Fates, run_to_fates
from tests.support import CLIENT_SECRET, Simulators

TENANT = "default"


@pytest.fixture
def fates(sims: Simulators, tmp_path: Path) -> Fates:
    return run_to_fates(sims, tmp_path)


@pytest.fixture
def store(fates: Fates) -> Iterator[Store]:
    store = Store(fates.settings.database_url)
    add_users(store)
    yield store
    store.dispose()


def _text(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:p|dl|section)>', html, re.S)
    assert found, f"no #{element_id} in the page"
    return re.sub(r"<[^>]+>", "", found.group(1))


def test_the_page_names_the_rule_links_the_pedido_and_shows_the_diagnosis(
    fates: Fates, store: Store, sims: Simulators
) -> None:
    client = client_for(fates.settings, store)
    assert client.get(f"/companies/{TENANT}/why", follow_redirects=False).status_code == 303  # login first
    assert sign_in(client, "vera").status_code == 303  # a viewer reads stories too
    assert f'href="/companies/{TENANT}/why"' in client.get("/companies").text

    empty = client.get(f"/companies/{TENANT}/why")
    assert (
        empty.status_code == 200 and "Por que não integrou?" in empty.text and 'id="story"' not in empty.text
    )

    # left out by its type: the poller recorded the decision
    page = client.get(f"/companies/{TENANT}/why", params={"q": str(fates.by_type)}).text
    assert "NÃO INTEGRADO" in _text(page, "verdict")
    assert _text(page, "rule").strip() == "Regra que deixou de fora: Tipos de tarefa"
    assert "Inclua o tipo desta tarefa" in _text(page, "next-step")
    assert '<tr data-kind="left_out">' in page

    # left out by its status: Auvo's filter kept it from the poller, the page reads it in Auvo
    page = client.get(f"/companies/{TENANT}/why", params={"q": str(fates.by_status)}).text
    assert "Status das tarefas" in _text(page, "rule") and "verificado agora no Auvo" in page

    # integrated: the pedido with its link in Bling's web app, and the task's own page in Auvo
    page = client.get(f"/companies/{TENANT}/why", params={"q": str(fates.integrated)}).text
    assert 'data-verdict="integrated"' in page and "INTEGRADO" in _text(page, "verdict")
    link = f"https://www.bling.com.br/vendas.php#edit/{fates.order_id}"
    assert f'<a href="{link}" target="_blank" rel="noopener noreferrer" data-guessed="false">' in page
    assert f"relatorioTarefas/DetalheTarefa/{fates.integrated}" in page
    assert '<tr data-kind="published">' in page and '<tr data-kind="handled">' in page
    # the pedido's Bling id finds the task too
    by_order = client.get(f"/companies/{TENANT}/why", params={"q": str(fates.order_id)}).text
    assert f'data-entity="{fates.integrated}"' in by_order

    # dead-lettered: the diagnosis (class, refused field, hint) and the replay to run
    page = client.get(f"/companies/{TENANT}/why", params={"q": str(fates.dead)}).text
    assert 'data-verdict="failed"' in page and "FALHOU" in _text(page, "verdict")
    diagnosis = _text(page, "diagnosis")
    assert "ApiRejected" in diagnosis and "numeroDocumento" in diagnosis
    assert "the API refused the data" in diagnosis
    assert "auvo-bling dlq replay" in _text(page, "next-step")
    assert '<tr data-kind="dead_lettered">' in page

    # the customer by its CNPJ, formatted; a guessed link is marked as such
    page = client.get(f"/companies/{TENANT}/why", params={"q": "11.444.777/0001-61"}).text
    assert 'data-subject="auvo.customer"' in page and "contatos.php#edit/" in page
    assert 'data-guessed="true"' in page and "endereço presumido" in page

    # English when the browser asks; an unknown company is a 404
    english = client.get(
        f"/companies/{TENANT}/why", params={"q": str(fates.by_type)}, headers={"Accept-Language": "en"}
    ).text
    assert _text(english, "rule").strip() == "Rule that left it out: task type"
    assert "LEFT OUT" in _text(english, "verdict")
    assert client.get("/companies/nobody/why", params={"q": "1"}).status_code == 404


def test_no_secret_appears_in_a_story_page(fates: Fates, store: Store, sims: Simulators) -> None:
    client = client_for(fates.settings, store)
    assert sign_in(client, "ana").status_code == 303
    tokens = store.load_token(TENANT, PROVIDER)
    assert tokens is not None
    from auvo_bling.wiring import App

    vault = App(fates.settings, shared_store=store).vault.load(PROVIDER)
    secrets = [CLIENT_SECRET, sims.auvo.api_token, vault.access_token, vault.refresh_token]
    for query in (
        fates.by_type,
        fates.by_status,
        fates.integrated,
        fates.dead,
        fates.order_id,
        "11444777000161",
    ):
        html = client.get(f"/companies/{TENANT}/why", params={"q": str(query)}).text
        assert 'id="story"' in html
        for secret in secrets:
            assert secret not in html, (query, secret[:6])


def test_looking_up_a_task_a_rule_left_out_in_a_real_browser(
    chromium: Any, fates: Fates, store: Store
) -> None:
    server = serve_in_thread(create_console_app(fates.settings, store))
    try:
        page = open_page(chromium)
        sign_in_browser(page, server.url, "otto")
        page.click(f'tr[data-tenant="{TENANT}"] a.why-link')
        assert page.url == f"{server.url}/companies/{TENANT}/why"
        page.fill('input[name="q"]', str(fates.by_type))
        page.click('form.why button[type="submit"]')
        page.wait_for_selector("#story")
        assert f"q={fates.by_type}" in page.url  # a GET form: the question is in the address
        assert page.inner_text("#rule") == "Regra que deixou de fora: Tipos de tarefa"
        assert "NÃO INTEGRADO" in page.inner_text("#verdict")
        assert page.locator("table.timeline tbody tr").count() >= 1
        shot(page, "why-left-out")
        page.fill('input[name="q"]', str(fates.integrated))
        page.click('form.why button[type="submit"]')
        page.wait_for_selector('#story[data-verdict="integrated"]')
        assert page.locator(f'ul.written a[href$="vendas.php#edit/{fates.order_id}"]').count() == 1
        shot(page, "why-integrated")
        page.fill('input[name="q"]', str(fates.dead))
        page.click('form.why button[type="submit"]')
        page.wait_for_selector('#story[data-verdict="failed"]')
        assert "numeroDocumento" in page.inner_text("#diagnosis")
        shot(page, "why-dead-letter")
        page.context.close()
    finally:
        server.stop()


def test_a_number_that_is_several_records_links_the_others_and_the_selector_picks_one(
    tmp_path: Path,
) -> None:
    from infra.store import HistoryRow
    from infra.store.history import Kind
    from tests.console_support import console_settings

    store = Store(f"sqlite:///{tmp_path / 'several.sqlite3'}")
    try:
        add_users(store)
        store.record_history(
            TENANT,
            [
                HistoryRow("auvo.task", "42", Kind.left_out, "no_values"),
                HistoryRow("auvo.customer", "42", Kind.handled, "created", event_id="e1"),
            ],
        )
        with store.transaction() as conn:
            store.link(conn, TENANT, "customer", "42", "16000000001")
        client = client_for(console_settings(store.url), store)
        assert sign_in(client, "vera").status_code == 303
        page = client.get(f"/companies/{TENANT}/why", params={"q": "42"}).text
        assert 'data-subject="auvo.task"' in page
        assert "sem produtos/serviços com valores" in _text(page, "rule")
        assert f'href="/companies/{TENANT}/why?q=42&amp;subject=auvo.customer">Cliente do Auvo 42</a>' in page
        customer = client.get(f"/companies/{TENANT}/why", params={"q": "42", "subject": "auvo.customer"}).text
        assert 'data-subject="auvo.customer"' in customer and 'data-verdict="integrated"' in customer
        assert '<option value="auvo.customer" selected>' in customer
        assert "contatos.php#edit/16000000001" in customer and 'id="rule"' not in customer
        # a subject that is not one of the page's choices is ignored, not passed on
        odd = client.get(f"/companies/{TENANT}/why", params={"q": "42", "subject": "nonsense"}).text
        assert 'data-subject="auvo.task"' in odd
    finally:
        store.dispose()
