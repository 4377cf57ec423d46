"""Tenants kept in the database (`tenants add --database`, enable, disable, remove) on SQLite:
credentials sealed as company options, the rest of the section beside them, the file untouched,
and every refusal leaving nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import Result

from auvo_bling.tenant_registry import section_values, with_database_tenants
from infra.errors import ConfigurationError
from infra.settings import Settings, TenantSettings, load_settings
from infra.store import Store
from tests.ops_support import Cli, config_file_is_the_truth

CONFIG = """secret_key = "a-vault-key-for-these-tests"
database_url = "sqlite:///{db}"

[auvo]
api_key = "top-level-key"
api_token = "top-level-token"

[tenants.filed]
enabled = true
"""


@pytest.fixture(autouse=True)
def _config_file_is_the_truth(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests load their own config file: CI's exported AMQP_URL / DATABASE_URL would win."""
    config_file_is_the_truth(monkeypatch)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "auvo-bling.toml"
    path.write_text(CONFIG.format(db=tmp_path / "s.sqlite3"), encoding="utf-8")
    assert Cli(path)("db", "upgrade").exit_code == 0
    return path


def said(result: Result) -> str:
    """What the command told the user: its output, or the ConfigurationError `main` prints."""
    return f"{result.output}{result.exception or ''}"


def store_of(config: Path) -> Store:
    return Store(load_settings(config).database_url)


def test_a_database_tenant_starts_from_the_defaults_and_the_file_keeps_its_own_names() -> None:
    base = Settings(amqp_url="memory://", auvo={"api_key": "top"}, tenants={"filed": {}})
    merged = base.with_registered(
        {
            "acme": TenantSettings(auvo={"base_url": "http://a/v2"}),
            "off": TenantSettings(enabled=False),
            "filed": TenantSettings(enabled=False),  # the file's section wins
            "default": TenantSettings(),  # the top-level tenant cannot be redefined
        }
    )
    assert merged.tenant_names() == ["default", "acme", "filed", "off"]
    assert merged.served_tenants() == ["default", "acme", "filed"]
    assert [merged.tenant_source(n) for n in merged.tenant_names()] == [
        "file",
        "database",
        "file",
        "database",
    ]
    acme = merged.for_tenant("acme")
    assert acme.auvo.base_url == "http://a/v2" and acme.auvo.api_key is None  # never another's key
    assert acme.bus.prefix == "acme."
    assert "tenants.acme.auvo.api_key (`auvo-bling options set --tenant acme auvo.api_key`" in " ".join(
        acme.required_for_run()
    )
    assert base.tenant_names() == ["default", "filed"]  # a copy: the loaded settings unchanged


def test_set_pairs_split_into_company_options_and_the_section() -> None:
    options, section = section_values(
        "acme", {"auvo.api_token": "T", "tasks.enabled": "true", "auvo.base_url": "http://a/v2"}
    )
    assert options == {"auvo.api_token": "T", "tasks.enabled": "true"}
    assert section == {"auvo": {"base_url": "http://a/v2"}}
    for bad, says in [
        ({"auvo.private_key": "x"}, "secrets are kept only as company options"),
        ({"nosuch.thing": "x"}, "not a tenant setting"),
        ({"auvo.requests_per_minute": "0"}, "invalid setting tenants.acme.auvo.requests_per_minute"),
        ({"auvo.nosuch": "1"}, "is not a known setting"),
    ]:
        with pytest.raises(ConfigurationError, match=says):
            section_values("acme", bad)


def test_add_to_the_database_seals_the_secret_and_leaves_the_file_alone(config: Path) -> None:
    before = config.read_text(encoding="utf-8")
    cli = Cli(config)
    result = cli(
        "tenants", "add", "acme", "--database", "--auvo-api-key", "K", "--auvo-api-token", "TOKEN-SECRET",
        "--set", "auvo.base_url=http://sim.example/v2", "--set", "tasks.enabled=true",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "added to the database" in result.output and "tenants.acme.bling.client_id" in result.output
    assert config.read_text(encoding="utf-8") == before
    rows = {row["tenant"]: row for row in cli.json("tenants", "list")}
    assert rows["acme"]["source"] == "database" and rows["filed"]["source"] == "file"
    assert rows["acme"]["missing"] == [
        "tenants.acme.bling.client_id (`auvo-bling options set --tenant acme bling.client_id` "
        "or the console)",
        "tenants.acme.bling.client_secret (`auvo-bling options set --tenant acme bling.client_secret` "
        "or the console)",
    ]
    store = store_of(config)
    try:
        saved = store.load_options("acme")
        assert saved["auvo.api_token"].sealed and "TOKEN-SECRET" not in saved["auvo.api_token"].value
        acme = with_database_tenants(load_settings(config), store).for_tenant("acme")
        assert acme.auvo.base_url == "http://sim.example/v2"
        [entry] = [e for e in store.audit_entries("acme") if e.action == "tenant.add"]
        assert entry.actor.startswith("cli:")
    finally:
        store.dispose()
    shown = cli("options", "show", "--tenant", "acme")  # --tenant finds a database tenant
    assert shown.exit_code == 0 and "TOKEN-SECRET" not in shown.output, shown.output
    assert "tasks.enabled              true                console" in shown.output


def test_refused_adds_leave_nothing_behind(config: Path) -> None:
    cli = Cli(config)
    for args, says in [
        (["filed"], "already exists in the config file"),
        (["default"], "already exists in the config file"),
        (["Bad Name"], "must be 1-40 lowercase"),
        (["acme", "--direction", "sideways"], "must be one of 'auvo_to_bling'"),
        (["acme", "--set", "bling.client_token=x"], "secrets are kept only as company options"),
    ]:
        result = cli("tenants", "add", *args, "--database")
        assert result.exit_code != 0 and says in said(result), (args, result.output)
    assert cli("tenants", "add", "acme", "--set", "tasks.enabled=true").exit_code == 2  # --set: --database
    store = store_of(config)
    try:
        assert store.registered_tenants() == [] and store.load_options("acme") == {}
    finally:
        store.dispose()
    assert cli("tenants", "add", "acme", "--database").exit_code == 0
    again = cli("tenants", "add", "acme", "--database")
    assert again.exit_code != 0 and "already exists in the database" in said(again)


def test_disable_remove_and_enable_a_database_tenant(config: Path) -> None:
    cli = Cli(config)
    assert cli("tenants", "add", "acme", "--database", "--disabled").exit_code == 0
    assert {r["tenant"]: r["state"] for r in cli.json("tenants", "list")}["acme"] == "disabled"
    result = cli("tenants", "enable", "acme")
    assert result.exit_code == 0 and "serve it within a poll interval" in result.output
    assert "was already enabled" in cli("tenants", "enable", "acme").output
    removed = cli("tenants", "remove", "acme")
    assert removed.exit_code == 0 and "what is queued is still handled" in removed.output
    assert "acme" not in {r["tenant"] for r in cli.json("tenants", "list")}
    readd = cli("tenants", "add", "acme", "--database")
    assert readd.exit_code != 0 and "`tenants enable` brings it back" in said(readd)
    assert cli("tenants", "enable", "acme").exit_code == 0
    assert {r["tenant"]: r["state"] for r in cli.json("tenants", "list")}["acme"] == "active"
    unknown = cli("tenants", "remove", "ghost")
    assert unknown.exit_code != 0 and "unknown tenant 'ghost'; the database holds: acme" in said(unknown)
    filed = cli("tenants", "remove", "filed")
    assert filed.exit_code != 0 and "is defined in the config file" in said(filed)
    store = store_of(config)
    try:
        actions = [e.action for e in reversed(store.audit_entries("acme"))]
    finally:
        store.dispose()
    assert actions == ["tenant.add", "tenant.enabled", "tenant.removed", "tenant.enabled"]
