"""Tenants in the settings: each `[tenants.<name>]` is a whole Auvo <> Bling pair of its own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from infra.errors import ConfigurationError
from infra.settings import Direction, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.upper().startswith("AUVO_BLING_") or key.upper() in {"AMQP_URL", "DATABASE_URL"}:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)


TOML = """
secret_key = "k"
[auvo]
api_key = "top-key"
api_token = "top-token"
[bling]
client_id = "top-client"
client_secret = "top-secret"
[customers]
direction = "both"
[bus]
prefix = "prod."

[tenants.acme]
[tenants.acme.auvo]
api_key = "acme-key"
api_token = "acme-token"
[tenants.acme.bling]
client_id = "acme-client"
client_secret = "acme-secret"
[tenants.acme.tasks]
enabled = true
task_types = [11, 12]

[tenants.beta]
enabled = false
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    path = tmp_path / "auvo-bling.toml"
    path.write_text(TOML, encoding="utf-8")
    return load_settings(path)


def test_single_tenant_settings_are_the_default_tenant_unchanged() -> None:
    settings = Settings()
    assert settings.tenant_names() == ["default"] == settings.served_tenants()
    own = settings.for_tenant()
    assert own.bus.prefix == settings.bus.prefix and not own.is_named_tenant


def test_a_named_tenant_has_its_own_sections_and_nothing_of_the_default(settings: Settings) -> None:
    acme = settings.for_tenant("acme")
    assert acme.tenant == "acme" and acme.is_named_tenant
    assert acme.auvo.api_key is not None and acme.auvo.api_key.get_secret_value() == "acme-key"
    assert acme.bling.client_id == "acme-client"
    assert acme.tasks.enabled and acme.tasks.task_types == [11, 12]
    # not inherited from the top level: the default tenant's direction is "both"
    assert acme.customers.direction is Direction.auvo_to_bling
    # shared by the deployment
    assert acme.database_url == settings.database_url and acme.secret_key == settings.secret_key
    # its own namespace on the bus, under the deployment's prefix; no other tenant travels with it
    assert acme.bus.prefix == "prod.acme."
    assert acme.tenants == {}


def test_a_tenant_without_credentials_never_borrows_the_default_ones(settings: Settings) -> None:
    beta = settings.for_tenant("beta")
    assert beta.auvo.api_key is None and beta.bling.client_id is None
    missing = " ".join(beta.required_for_run())
    assert "tenants.beta.auvo.api_key (AUVO_BLING_TENANTS__BETA__AUVO__API_KEY)" in missing


def test_disabled_tenants_are_not_served(settings: Settings) -> None:
    assert settings.tenant_names() == ["default", "acme", "beta"]
    assert settings.served_tenants() == ["default", "acme"]
    assert Settings(tenant_enabled=False, tenants={"x": {}}).served_tenants() == ["x"]


def test_unknown_tenant_is_a_clear_error(settings: Settings) -> None:
    with pytest.raises(
        ConfigurationError, match="unknown tenant 'nope'; the settings define: default, acme, beta"
    ):
        settings.for_tenant("nope")


@pytest.mark.parametrize("name", ["Acme", "a b", "-x", "", "x" * 41])
def test_bad_tenant_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigurationError, match="tenants"):
        load_settings(None, tenants={name: {}})


def test_the_default_tenant_cannot_be_redefined_as_a_section() -> None:
    with pytest.raises(ConfigurationError, match="'default' is the default tenant"):
        load_settings(None, tenants={"default": {}})


def test_a_tenant_credential_from_the_environment(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AUVO_BLING_TENANTS__ACME__BLING__CLIENT_SECRET", "from-env")
    loaded = load_settings(tmp_path / "auvo-bling.toml").for_tenant("acme")
    assert loaded.bling.client_secret is not None
    assert loaded.bling.client_secret.get_secret_value() == "from-env"
    assert loaded.auvo.api_key is not None and loaded.auvo.api_key.get_secret_value() == "acme-key"


def test_an_unknown_setting_inside_a_tenant_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[tenants.acme.auvo]\napi_kee = 'x'\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"tenants\.acme\.auvo\.api_kee"):
        load_settings(path)
