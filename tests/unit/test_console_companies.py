"""The companies page: add (to the config file), enable/disable (the file), pause/resume (the store)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from infra.settings import load_settings
from infra.store import Store
from tests.console_support import add_users, client_for, csrf_of, sign_in
from tests.ops_support import config_file_is_the_truth


@pytest.fixture(autouse=True)
def _config_file_is_the_truth(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests load their own config file: CI's exported AMQP_URL / DATABASE_URL would win."""
    config_file_is_the_truth(monkeypatch)


def _console_config(tmp_path: Path) -> tuple[Path, Store]:
    """A config file with its own SQLite store (with the console's users) and no tenant section."""
    db = f"sqlite:///{tmp_path}/c.sqlite3"
    config = tmp_path / "auvo-bling.toml"
    config.write_text(f'database_url = "{db}"\nsecret_key = "console-test-secret"\namqp_url = "memory://"\n')
    store = Store(db)
    add_users(store)
    return config, store


def test_add_disable_enable_pause_and_resume_a_company(tmp_path: Path) -> None:
    config, store = _console_config(tmp_path)
    try:
        client = client_for(load_settings(config), store, config_path=config)
        sign_in(client, "ana")
        added = client.post("/companies/add", data={"csrf_token": csrf_of(client), "name": "filial-sul"})
        assert added.status_code == 200 and added.url.path == "/companies/filial-sul/setup"
        assert tomllib.loads(config.read_text())["tenants"]["filial-sul"] == {"enabled": True}
        bad = client.post("/companies/add", data={"csrf_token": csrf_of(client), "name": "Filial Sul!"})
        assert bad.status_code == 400 and "lowercase" in bad.text

        client.post("/companies/filial-sul/disable", data={"csrf_token": csrf_of(client)})
        assert tomllib.loads(config.read_text())["tenants"]["filial-sul"]["enabled"] is False
        client.post("/companies/filial-sul/enable", data={"csrf_token": csrf_of(client)})
        assert tomllib.loads(config.read_text())["tenants"]["filial-sul"]["enabled"] is True

        paused = client.post("/companies/filial-sul/pause", data={"csrf_token": csrf_of(client)})
        assert "pausada" in paused.text
        pause = store.tenant_pause("filial-sul")
        assert pause is not None and pause.error_class == "PausedByOperator" and "ana" in pause.reason
        client.post("/companies/filial-sul/resume", data={"csrf_token": csrf_of(client)})
        assert store.tenant_pause("filial-sul") is None
        actions = [e.action for e in store.audit_entries(tenant="filial-sul", limit=10)]
        assert actions == ["resume", "pause", "enable", "disable", "company.add"]
    finally:
        store.dispose()


def test_without_a_config_file_a_company_is_added_to_the_database_disabled(tmp_path: Path) -> None:
    """No file to edit: the company goes into the registry (disabled until its setup is done),
    its credentials are saved on its setup page like any company's, and enabling it needs no
    restart (the running processes follow the registry)."""
    from auvo_bling.company_options import save_options
    from auvo_bling.tenant_registry import with_database_tenants

    config, store = _console_config(tmp_path)
    try:
        loaded = load_settings(config)
        client = client_for(loaded, store, config_path=None)
        sign_in(client, "ana")
        listing = client.get("/companies").text
        assert "ficam no banco de dados" in listing and 'class="add-company"' in listing
        added = client.post("/companies/add", data={"csrf_token": csrf_of(client), "name": "filial-norte"})
        assert added.status_code == 200 and added.url.path == "/companies/filial-norte/setup"
        assert "Empresa adicionada (desativada)" in added.text
        assert [(r.tenant, r.state) for r in store.registered_tenants()] == [("filial-norte", "disabled")]
        again = client.post("/companies/add", data={"csrf_token": csrf_of(client), "name": "filial-norte"})
        assert again.status_code == 400 and "already exists in the database" in again.text

        merged = with_database_tenants(loaded, store)
        save_options(store, merged, "filial-norte", {"auvo.api_token": "S3CRET-T0KEN"}, "test")
        page = client.get("/companies").text
        assert 'data-tenant="filial-norte"' in page and "S3CRET-T0KEN" not in page
        enabled = client.post("/companies/filial-norte/enable", data={"csrf_token": csrf_of(client)})
        assert "sem reiniciar" in enabled.text
        assert [r.state for r in store.registered_tenants()] == ["enabled"]
        client.post("/companies/filial-norte/disable", data={"csrf_token": csrf_of(client)})
        assert [r.state for r in store.registered_tenants()] == ["disabled"]
        # the file's (top-level) company still needs the file
        refused = client.post("/companies/default/disable", data={"csrf_token": csrf_of(client)})
        assert "iniciado sem --config" in refused.text
        actions = [e.action for e in store.audit_entries(tenant="filial-norte", limit=10)]
        assert actions == ["tenant.disabled", "tenant.enabled", "options.save", "tenant.add"]
    finally:
        store.dispose()


def test_the_companies_page_shows_the_daily_bling_budget(tmp_path: Path) -> None:
    """The same numbers as `status`: calls made today, the tenant's budget, what is left, the
    projection at the current pace (issue 16's daily budget, shown in the console)."""
    from datetime import UTC, datetime

    from infra.quota import bling_day
    from infra.store.daily_budget import DailyCharge

    db = f"sqlite:///{tmp_path}/c.sqlite3"
    config = tmp_path / "auvo-bling.toml"
    config.write_text(
        f'database_url = "{db}"\nsecret_key = "console-test-secret"\namqp_url = "memory://"\n'
        "[bling]\ndaily_budget_share = 0.1\n"
    )
    store = Store(db)
    add_users(store)
    try:
        today = bling_day(datetime.now(UTC)).isoformat()
        for _ in range(7):
            store.reserve_slot("bling:default", 0.0, 1, daily=DailyCharge("default", today, 12_000))
        client = client_for(load_settings(config), store, config_path=config)
        sign_in(client, "ana")
        page = client.get("/companies").text
        assert 'class="quota-used">7<' in page
        assert 'class="quota-budget">12000<' in page  # a tenth of 120,000
        assert 'class="quota-remaining">11993<' in page
        assert "Cota diária do Bling" in page
    finally:
        store.dispose()
