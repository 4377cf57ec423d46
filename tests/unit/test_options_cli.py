"""`auvo-bling options show|set|unset` and `auvo-bling audit` from the command line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.ops_support import Cli

SECRET = "cli-secret-value-0123456789"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("AUVO_BLING_") or name in ("AMQP_URL", "DATABASE_URL"):
            monkeypatch.delenv(name)
    path = tmp_path / "auvo-bling.toml"
    db = tmp_path / "store.sqlite3"
    path.write_text(f'database_url = "sqlite:///{db}"\nsecret_key = "k"\n[tasks]\nstatus = "all"\n')
    return path


def invoke(config: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = Cli(config)(*args, input=stdin)
    return result.exit_code, result.output


def test_set_show_unset_and_audit(config: Path) -> None:
    assert invoke(config, "options", "set", "customers.direction", "both")[0] == 0
    code, out = invoke(config, "options", "show", "--json")
    assert code == 0
    rows = {r["option"]: r for r in json.loads(out)["options"]}
    assert (
        rows["customers.direction"]["value"] == "both" and rows["customers.direction"]["source"] == "console"
    )
    assert rows["tasks.status"]["pinned"] and rows["tasks.status"]["pinned_by"] == "TOML tasks.status"
    assert invoke(config, "options", "unset", "customers.direction")[0] == 0
    rows = {r["option"]: r for r in json.loads(invoke(config, "options", "show", "--json")[1])["options"]}
    assert rows["customers.direction"]["source"] == "default"
    entries = json.loads(invoke(config, "audit", "--json")[1])
    assert [e["after"] for e in entries] == [
        {"customers.direction": "auvo_to_bling"},
        {"customers.direction": "both"},
    ]


def test_a_pinned_option_is_refused_naming_where_it_is_pinned(config: Path) -> None:
    from auvo_bling.company_options import OptionsRefused

    result = Cli(config)("options", "set", "tasks.status", "not_finished")
    # main() prints a ConfigurationError (OptionsRefused is one) as one line and exits 2
    assert isinstance(result.exception, OptionsRefused)
    assert "pinned by TOML tasks.status" in str(result.exception)


def test_a_secret_is_asked_without_echo_and_never_printed(config: Path) -> None:
    code, out = invoke(config, "options", "set", "bling.client_secret", stdin=SECRET + "\n")
    assert code == 0 and SECRET not in out
    code, shown = invoke(config, "options", "show")
    assert code == 0 and SECRET not in shown
    assert any(line.split()[:2] == ["bling.client_secret", "set"] for line in shown.splitlines())
    code, audit = invoke(config, "audit")
    assert code == 0 and SECRET not in audit and "••••" in audit
