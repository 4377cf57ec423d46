"""`auvo-bling tenants add/enable/disable/list` edit and read the config file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from infra.settings import load_settings
from tests.ops_support import Cli

CONFIG = """# our deployment
secret_key = "k"   # keep me
database_url = "sqlite:///{db}"

[auvo]
api_key = "top"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "auvo-bling.toml"
    path.write_text(CONFIG.format(db=tmp_path / "s.sqlite3"), encoding="utf-8")
    return path


def test_add_writes_a_section_and_keeps_the_rest_of_the_file(config: Path) -> None:
    result = Cli(config)("tenants", "add", "acme", "--auvo-api-key", "K", "--direction", "both")
    assert result.exit_code == 0, result.output
    text = config.read_text(encoding="utf-8")
    assert "# our deployment" in text and "# keep me" in text
    acme = load_settings(config).for_tenant("acme")
    assert acme.auvo.api_key is not None and acme.auvo.api_key.get_secret_value() == "K"
    assert acme.customers.direction.value == "both"
    assert "still missing" in result.output and "tenants.acme.bling.client_id" in result.output


def test_add_refuses_a_duplicate_a_bad_name_and_a_bad_value_leaving_the_file_alone(config: Path) -> None:
    assert Cli(config)("tenants", "add", "acme").exit_code == 0
    before = config.read_text(encoding="utf-8")
    for args in (["acme"], ["default"], ["Bad Name"], ["beta", "--direction", "sideways"]):
        result = Cli(config)("tenants", "add", *args)
        assert result.exit_code != 0, args
    assert config.read_text(encoding="utf-8") == before
    assert not [p for p in config.parent.iterdir() if p.name.startswith(".auvo-bling.toml.")]  # no temp left


def test_a_new_config_file_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "new.toml"
    assert Cli(path)("tenants", "add", "acme", "--bling-client-secret", "S").exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_disable_and_enable_named_and_default_tenants(config: Path) -> None:
    Cli(config)("tenants", "add", "acme")
    assert Cli(config)("tenants", "disable", "acme").exit_code == 0
    assert Cli(config)("tenants", "disable", "default").exit_code == 0
    assert load_settings(config).served_tenants() == []
    assert Cli(config)("tenants", "enable", "acme").exit_code == 0
    assert load_settings(config).served_tenants() == ["acme"]
    unknown = Cli(config)("tenants", "disable", "nobody")
    assert unknown.exit_code != 0


def test_list_shows_state_and_what_is_missing(config: Path) -> None:
    Cli(config)("tenants", "add", "acme", "--disabled")
    result = Cli(config)("tenants", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("default") and "active" in line for line in lines)
    assert any(line.startswith("acme") and "disabled" in line for line in lines)
    assert "missing: auvo.api_token" in result.output
