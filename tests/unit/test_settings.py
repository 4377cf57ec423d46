"""Settings: defaults, environment (prefix, nesting, aliases), the TOML file, and one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from contracts.options import Direction, TaskStatus
from infra.auvo.wire import AUVO_STATUS_FILTER
from infra.errors import ConfigurationError
from infra.settings import DEFAULT_AMQP_URL, DEFAULT_DATABASE_URL, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting leaks in from the developer's shell or CI."""
    for key in list(os.environ):
        if key.upper().startswith("AUVO_BLING_") or key.upper() in {"AMQP_URL", "DATABASE_URL"}:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "auvo-bling.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], file: Path | None = None) -> str:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigurationError) as info:
        load_settings(file)
    return str(info.value)


# --- defaults ------------------------------------------------------------------------------------


def test_defaults_run_embedded_without_anything_installed() -> None:
    """With nothing configured: in-memory broker, SQLite file, guide's defaults."""
    s = load_settings()
    assert s.amqp_url == DEFAULT_AMQP_URL == "memory://"
    assert s.database_url == DEFAULT_DATABASE_URL
    assert s.database_url.startswith("sqlite:///")
    assert s.tenant == "default"
    assert s.customers.direction is Direction.auvo_to_bling
    assert s.tasks.enabled is False
    assert s.tasks.status is TaskStatus.all
    assert s.tasks.task_types == []
    assert s.tasks.customer_group is None
    assert s.quotes.enabled is False
    assert s.quotes.stage is None
    assert s.auvo.api_key is None and s.auvo.api_token is None
    assert s.bling.client_id is None and s.bling.client_secret is None


# --- environment ---------------------------------------------------------------------------------


DIRECTION = "AUVO_BLING_CUSTOMERS__DIRECTION"


@pytest.mark.parametrize(
    ("env", "path", "expected"),
    [
        ({DIRECTION: "auvo_to_bling"}, "customers.direction", Direction.auvo_to_bling),
        ({DIRECTION: "bling_to_auvo"}, "customers.direction", Direction.bling_to_auvo),
        ({DIRECTION: "both"}, "customers.direction", Direction.both),
        ({"AUVO_BLING_TASKS__ENABLED": "true"}, "tasks.enabled", True),
        ({"AUVO_BLING_TASKS__ENABLED": "false"}, "tasks.enabled", False),
        ({"AUVO_BLING_TASKS__STATUS": "finished_manually"}, "tasks.status", TaskStatus.finished_manually),
        ({"AUVO_BLING_TASKS__STATUS": "not_finished"}, "tasks.status", TaskStatus.not_finished),
        ({"AUVO_BLING_TASKS__TASK_TYPES": "[101, 202]"}, "tasks.task_types", [101, 202]),
        ({"AUVO_BLING_TASKS__TASK_TYPES": "101, 202"}, "tasks.task_types", [101, 202]),
        ({"AUVO_BLING_TASKS__TASK_TYPES": "101"}, "tasks.task_types", [101]),
        ({"AUVO_BLING_TASKS__TASK_TYPES": ""}, "tasks.task_types", []),
        ({"AUVO_BLING_BUS__RETRY_DELAYS_SECONDS": "1,2.5"}, "bus.retry_delays_seconds", [1.0, 2.5]),
        ({"AUVO_BLING_TASKS__CUSTOMER_GROUP": "7"}, "tasks.customer_group", 7),
        ({"AUVO_BLING_QUOTES__ENABLED": "1"}, "quotes.enabled", True),
        ({"AUVO_BLING_QUOTES__STAGE": "Aprovado"}, "quotes.stage", "Aprovado"),
        ({"AUVO_BLING_TENANT": "acme"}, "tenant", "acme"),
        ({"AUVO_BLING_BLING__CLIENT_ID": "cid"}, "bling.client_id", "cid"),
        ({"AUVO_BLING_AUVO__REQUESTS_PER_MINUTE": "200"}, "auvo.requests_per_minute", 200),
        ({"AUVO_BLING_POLL__INTERVAL_SECONDS": "2.5"}, "poll.interval_seconds", 2.5),
        ({"AMQP_URL": "amqp://guest:guest@rabbit:5672/"}, "amqp_url", "amqp://guest:guest@rabbit:5672/"),
        ({"AUVO_BLING_AMQP_URL": "amqps://r:5671/"}, "amqp_url", "amqps://r:5671/"),
        ({"DATABASE_URL": "postgresql://pg/db"}, "database_url", "postgresql://pg/db"),
        ({"AUVO_BLING_DATABASE_URL": "postgres://pg/db"}, "database_url", "postgres://pg/db"),
    ],
)
def test_environment_sets_every_guide_option(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], path: str, expected: object
) -> None:
    """`AUVO_BLING_` prefix, `__` nesting and the conventional AMQP_URL/DATABASE_URL aliases."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    value: object = load_settings()
    for part in path.split("."):
        value = getattr(value, part)
    assert value == expected


def test_secrets_from_environment_are_secretstr(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials are read into SecretStr and can still be revealed on purpose."""
    monkeypatch.setenv("AUVO_BLING_AUVO__API_KEY", "auvo-key-123")
    monkeypatch.setenv("AUVO_BLING_AUVO__API_TOKEN", "auvo-token-456")
    monkeypatch.setenv("AUVO_BLING_BLING__CLIENT_SECRET", "bling-secret-789")
    monkeypatch.setenv("AUVO_BLING_SECRET_KEY", "fernet-passphrase-000")
    s = load_settings()
    assert s.auvo.api_key is not None and s.auvo.api_key.get_secret_value() == "auvo-key-123"
    assert s.auvo.api_token is not None and s.auvo.api_token.get_secret_value() == "auvo-token-456"
    assert s.bling.client_secret is not None
    assert s.bling.client_secret.get_secret_value() == "bling-secret-789"
    assert s.secret_key is not None and s.secret_key.get_secret_value() == "fernet-passphrase-000"
    for rendered in (repr(s), str(s), repr(s.auvo), str(s.bling), s.model_dump_json()):
        for secret in ("auvo-key-123", "auvo-token-456", "bling-secret-789", "fernet-passphrase-000"):
            assert secret not in rendered


# --- status filter -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("not_finished", 0),
        ("finished_automatically", 1),
        ("finished_manually", 2),
        ("finished_auto_or_manual", 3),
        ("all", 4),
    ],
)
def test_auvo_status_filter_matches_the_guide(status: str, code: int) -> None:
    """Each guide status maps to Auvo's numeric status filter."""
    assert AUVO_STATUS_FILTER[TaskStatus(status)] == code


def test_status_filter_covers_every_status() -> None:
    """No TaskStatus is left without an Auvo filter code, and codes are distinct."""
    assert set(AUVO_STATUS_FILTER) == set(TaskStatus)
    assert sorted(AUVO_STATUS_FILTER.values()) == [0, 1, 2, 3, 4]


# --- TOML file -----------------------------------------------------------------------------------

FULL_TOML = """
amqp_url = "amqp://guest:guest@rabbit:5672/"
database_url = "postgresql://bridge@pg:5432/bridge"
tenant = "acme"

[customers]
direction = "both"

[tasks]
enabled = true
status = "finished_auto_or_manual"
task_types = [11, 12]
customer_group = 3

[quotes]
enabled = true
stage = "Aprovado"

[bling]
client_id = "file-client-id"
"""


def test_toml_file_sets_every_guide_option(tmp_path: Path) -> None:
    """Every option of the activation guide can come from the TOML file."""
    s = load_settings(write_toml(tmp_path, FULL_TOML))
    assert s.amqp_url == "amqp://guest:guest@rabbit:5672/"
    assert s.database_url == "postgresql://bridge@pg:5432/bridge"
    assert s.tenant == "acme"
    assert s.customers.direction is Direction.both
    assert s.tasks.enabled is True
    assert s.tasks.status is TaskStatus.finished_auto_or_manual
    assert AUVO_STATUS_FILTER[s.tasks.status] == 3
    assert s.tasks.task_types == [11, 12]
    assert s.tasks.customer_group == 3
    assert s.quotes.enabled is True
    assert s.quotes.stage == "Aprovado"
    assert s.bling.client_id == "file-client-id"


def test_environment_overrides_file_and_merges_sections(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Env wins per key; keys of the same section only present in the file survive."""
    monkeypatch.setenv("AUVO_BLING_CUSTOMERS__DIRECTION", "bling_to_auvo")
    monkeypatch.setenv("AUVO_BLING_TASKS__STATUS", "not_finished")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///override.sqlite3")
    monkeypatch.setenv("AUVO_BLING_BLING__CLIENT_SECRET", "env-secret")
    s = load_settings(write_toml(tmp_path, FULL_TOML))
    assert s.customers.direction is Direction.bling_to_auvo
    assert s.tasks.status is TaskStatus.not_finished
    assert s.tasks.enabled is True  # from the file, same section as an env override
    assert s.tasks.task_types == [11, 12]
    assert s.database_url == "sqlite:///override.sqlite3"
    assert s.amqp_url == "amqp://guest:guest@rabbit:5672/"  # file, not overridden
    assert s.bling.client_id == "file-client-id"
    assert s.bling.client_secret is not None and s.bling.client_secret.get_secret_value() == "env-secret"


def test_file_is_not_sticky_between_loads(tmp_path: Path) -> None:
    """A later load without a file does not keep reading the previous file."""
    load_settings(write_toml(tmp_path, FULL_TOML))
    assert load_settings().tenant == "default"
    assert Settings().customers.direction is Direction.auvo_to_bling


def test_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    """A config path that does not exist is named in the error."""
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigurationError, match=r"nope\.toml.*does not exist"):
        load_settings(missing)


def test_bad_toml_is_a_configuration_error(tmp_path: Path) -> None:
    """Unparseable TOML gives one line naming the file, not a traceback."""
    path = write_toml(tmp_path, '[customers\ndirection = "both"\n')
    with pytest.raises(ConfigurationError) as info:
        load_settings(path)
    message = str(info.value)
    assert "not valid TOML" in message
    assert str(path) in message
    assert "\n" not in message


def test_unknown_key_in_file_is_rejected(tmp_path: Path) -> None:
    """A typo in the file is reported, not silently ignored."""
    path = write_toml(tmp_path, "[customers]\ndirektion = 'both'\n")
    with pytest.raises(ConfigurationError, match=r"customers\.direktion.*not a known setting"):
        load_settings(path)


# --- invalid values ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "name", "env_var", "allowed"),
    [
        (
            {"AUVO_BLING_CUSTOMERS__DIRECTION": "sideways"},
            "customers.direction",
            "AUVO_BLING_CUSTOMERS__DIRECTION",
            ["auvo_to_bling", "bling_to_auvo", "both"],
        ),
        (
            {"AUVO_BLING_TASKS__STATUS": "done"},
            "tasks.status",
            "AUVO_BLING_TASKS__STATUS",
            ["all", "not_finished", "finished_automatically", "finished_manually", "finished_auto_or_manual"],
        ),
        (
            {"AUVO_BLING_QUOTES__TARGET": "nota_fiscal"},
            "quotes.target",
            "AUVO_BLING_QUOTES__TARGET",
            ["proposta_comercial", "pedido_de_venda"],
        ),
        (
            {"AUVO_BLING_LOG_LEVEL": "verbose"},
            "log_level",
            "AUVO_BLING_LOG_LEVEL",
            ["debug", "info", "warning", "error"],
        ),
        ({"AMQP_URL": "http://rabbit:15672"}, "amqp_url", "AMQP_URL", ["amqp://", "amqps://", "memory://"]),
        ({"AMQP_URL": "redis://r"}, "amqp_url", "AMQP_URL", ["amqp://", "amqps://", "memory://"]),
        ({"DATABASE_URL": "mysql://db/x"}, "database_url", "DATABASE_URL", ["sqlite:///", "postgresql://"]),
    ],
)
def test_invalid_value_names_setting_env_var_and_allowed_values(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], name: str, env_var: str, allowed: list[str]
) -> None:
    """One line: the dotted setting, the env var to change, and what is allowed."""
    message = config_error(monkeypatch, env)
    assert "\n" not in message
    assert message.count("invalid setting") == 1
    assert f"invalid setting {name} " in message
    assert f"[{env_var}]" in message
    for value in allowed:
        assert value in message
    assert next(iter(env.values())) in message  # the offending value is shown


def test_invalid_value_in_file_names_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A bad value from the file is reported with the same one-line diagnosis."""
    path = write_toml(tmp_path, "[customers]\ndirection = 'sideways'\n")
    message = config_error(monkeypatch, {}, path)
    assert "customers.direction" in message
    assert "AUVO_BLING_CUSTOMERS__DIRECTION" in message
    assert "'both'" in message


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"AUVO_BLING_TASKS__ENABLED": "maybe"}, "tasks.enabled"),
        ({"AUVO_BLING_TASKS__TASK_TYPES": '["x"]'}, "tasks.task_types"),
        ({"AUVO_BLING_TASKS__TASK_TYPES": "11,x"}, "tasks.task_types"),
        ({"AUVO_BLING_TASKS__TASK_TYPES": "[11, 12"}, "tasks.task_types"),
        ({"AUVO_BLING_AUVO__REQUESTS_PER_MINUTE": "0"}, "auvo.requests_per_minute"),
        ({"AUVO_BLING_BLING__REQUESTS_PER_SECOND": "-1"}, "bling.requests_per_second"),
        ({"AUVO_BLING_BUS__RETRY_DELAYS_SECONDS": "[5, 0]"}, "bus.retry_delays_seconds"),
    ],
)
def test_other_invalid_values_are_configuration_errors(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], name: str
) -> None:
    """Bad booleans, lists and bounds fail at start naming the setting."""
    message = config_error(monkeypatch, env)
    assert name in message
    assert "\n" not in message


def test_list_item_error_names_the_real_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    """The env var named in the error is the one the operator set."""
    message = config_error(monkeypatch, {"AUVO_BLING_TASKS__TASK_TYPES": '[11, "x"]'})
    assert "[AUVO_BLING_TASKS__TASK_TYPES]" in message


@pytest.mark.parametrize("value", ["[11, 12", "[11, 12]]", "11;12"])
def test_malformed_list_in_env_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """A list env var that is neither JSON nor comma-separated fails with one line naming it."""
    message = config_error(monkeypatch, {"AUVO_BLING_TASKS__TASK_TYPES": value})
    assert "tasks.task_types" in message
    assert "AUVO_BLING_TASKS__TASK_TYPES" in message
    assert "\n" not in message


def test_non_json_section_in_env_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole section given as a non-JSON env var is a ConfigurationError, not a SettingsError traceback."""
    message = config_error(monkeypatch, {"AUVO_BLING_TASKS": "enabled=true"})
    assert "invalid setting" in message
    assert "\n" not in message


def test_two_problems_are_both_reported_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several invalid settings are listed together, still as one line."""
    message = config_error(
        monkeypatch, {"AUVO_BLING_CUSTOMERS__DIRECTION": "x", "AUVO_BLING_TASKS__STATUS": "y"}
    )
    assert "customers.direction" in message and "tasks.status" in message
    assert "\n" not in message


def test_invalid_secret_value_is_not_echoed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A secret of the wrong type is reported without showing the secret."""
    path = write_toml(tmp_path, "[auvo]\napi_token = 918273645501\n")
    message = config_error(monkeypatch, {}, path)
    assert "auvo.api_token" in message
    assert "918273645501" not in message


# --- required_for_run ----------------------------------------------------------------------------


def test_required_for_run_lists_every_missing_credential() -> None:
    """Without credentials `run` names each missing setting with its env var."""
    missing = load_settings().required_for_run()
    assert missing == [
        "auvo.api_key (AUVO_BLING_AUVO__API_KEY)",
        "auvo.api_token (AUVO_BLING_AUVO__API_TOKEN)",
        "bling.client_id (AUVO_BLING_BLING__CLIENT_ID)",
        "bling.client_secret (AUVO_BLING_BLING__CLIENT_SECRET)",
        "secret_key (AUVO_BLING_SECRET_KEY, encrypts the stored OAuth tokens)",
    ]


def test_required_for_run_names_the_token_encryption_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokens are never stored in clear: `run` refuses to start without the key."""
    assert "secret_key" in [m.split(" ")[0] for m in load_settings().required_for_run()]
    monkeypatch.setenv("AUVO_BLING_SECRET_KEY", "a-key")
    assert "secret_key" not in [m.split(" ")[0] for m in load_settings().required_for_run()]


@pytest.mark.parametrize(
    ("present", "still_missing"),
    [
        ({"AUVO_BLING_AUVO__API_KEY": "k"}, ["auvo.api_token", "bling.client_id", "bling.client_secret"]),
        (
            {"AUVO_BLING_AUVO__API_KEY": "k", "AUVO_BLING_AUVO__API_TOKEN": "t"},
            ["bling.client_id", "bling.client_secret"],
        ),
        (
            {"AUVO_BLING_BLING__CLIENT_ID": "c", "AUVO_BLING_BLING__CLIENT_SECRET": "s"},
            ["auvo.api_key", "auvo.api_token"],
        ),
        (
            {
                "AUVO_BLING_AUVO__API_KEY": "k",
                "AUVO_BLING_AUVO__API_TOKEN": "t",
                "AUVO_BLING_BLING__CLIENT_ID": "c",
                "AUVO_BLING_BLING__CLIENT_SECRET": "s",
            },
            [],
        ),
        (
            {"AUVO_BLING_BLING__CLIENT_ID": ""},
            ["auvo.api_key", "auvo.api_token", "bling.client_id", "bling.client_secret"],
        ),
    ],
)
def test_required_for_run_partial(
    monkeypatch: pytest.MonkeyPatch, present: dict[str, str], still_missing: list[str]
) -> None:
    """Only the credentials actually absent (or empty client id) are listed."""
    monkeypatch.setenv("AUVO_BLING_SECRET_KEY", "a-key")
    for key, value in present.items():
        monkeypatch.setenv(key, value)
    missing = [m.split(" ")[0] for m in load_settings().required_for_run()]
    assert missing == still_missing


# --- tenants: each [tenants.<name>] is a whole Auvo <> Bling pair of its own ------------------------


TENANTS_TOML = """
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
def tenants(tmp_path: Path) -> Settings:
    path = tmp_path / "auvo-bling.toml"
    path.write_text(TENANTS_TOML, encoding="utf-8")
    return load_settings(path)


def test_single_tenant_settings_are_the_default_tenant_unchanged() -> None:
    single = Settings()
    assert single.tenant_names() == ["default"] == single.served_tenants()
    own = single.for_tenant()
    assert own.bus.prefix == single.bus.prefix and not own.is_named_tenant


def test_a_named_tenant_has_its_own_sections_and_nothing_of_the_default(tenants: Settings) -> None:
    acme = tenants.for_tenant("acme")
    assert acme.tenant == "acme" and acme.is_named_tenant
    assert acme.auvo.api_key is not None and acme.auvo.api_key.get_secret_value() == "acme-key"
    assert acme.bling.client_id == "acme-client"
    assert acme.tasks.enabled and acme.tasks.task_types == [11, 12]
    # not inherited from the top level: the default tenant's direction is "both"
    assert acme.customers.direction is Direction.auvo_to_bling
    # shared by the deployment
    assert acme.database_url == tenants.database_url and acme.secret_key == tenants.secret_key
    # its own namespace on the bus, under the deployment's prefix; no other tenant travels with it
    assert acme.bus.prefix == "prod.acme."
    assert acme.tenants == {}


def test_a_tenant_without_credentials_never_borrows_the_default_ones(tenants: Settings) -> None:
    beta = tenants.for_tenant("beta")
    assert beta.auvo.api_key is None and beta.bling.client_id is None
    missing = " ".join(beta.required_for_run())
    assert "tenants.beta.auvo.api_key (AUVO_BLING_TENANTS__BETA__AUVO__API_KEY)" in missing


def test_disabled_tenants_are_not_served(tenants: Settings) -> None:
    assert tenants.tenant_names() == ["default", "acme", "beta"]
    assert tenants.served_tenants() == ["default", "acme"]
    assert Settings(tenant_enabled=False, tenants={"x": {}}).served_tenants() == ["x"]


def test_unknown_tenant_is_a_clear_error(tenants: Settings) -> None:
    with pytest.raises(
        ConfigurationError, match="unknown tenant 'nope'; the settings define: default, acme, beta"
    ):
        tenants.for_tenant("nope")


@pytest.mark.parametrize("name", ["Acme", "a b", "-x", "", "x" * 41])
def test_bad_tenant_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigurationError, match="tenants"):
        load_settings(None, tenants={name: {}})


def test_the_default_tenant_cannot_be_redefined_as_a_section() -> None:
    with pytest.raises(ConfigurationError, match="'default' is the default tenant"):
        load_settings(None, tenants={"default": {}})


def test_a_tenant_credential_from_the_environment(
    tenants: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
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
