"""Company options in the database: the precedence, pins, the settings' own validation messages,
secrets sealed and never shown (not in effective values, not in the audit log), the revision."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from auvo_bling.company_options import (
    OptionsRefused,
    effective_options,
    options_applied,
    process_id,
    save_options,
    tenant_settings,
)
from contracts.option_fields import FIELDS_BY_KEY, OPTION_FIELDS
from contracts.options import TaskStatus
from infra.errors import ConfigurationError
from infra.settings import load_settings
from infra.store import Store
from infra.store.tables import audit_log, company_options

SECRET = "s3cr3t-client-secret-value"
TOKEN = "auvo-token-value-123"
ACTOR = "cli:tester"


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = Store(f"sqlite:///{tmp_path / 'options.sqlite3'}")
    yield s
    s.dispose()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    import os

    for name in list(os.environ):
        if name.startswith("AUVO_BLING_") or name in ("AMQP_URL", "DATABASE_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AUVO_BLING_SECRET_KEY", "a-long-test-passphrase")
    return monkeypatch


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "auvo-bling.toml"
    path.write_text(text)
    return path


def by_key(options: list[Any]) -> dict[str, Any]:
    return {o.field.key: o for o in options}


def test_the_table_names_the_briefs_options_in_the_guides_words() -> None:
    keys = [f.key for f in OPTION_FIELDS]
    for key in (
        "customers.direction",
        "tasks.enabled",
        "tasks.status",
        "tasks.task_types",
        "tasks.customer_group",
        "quotes.enabled",
        "quotes.stage",
        "expenses.enabled",
        "poll.interval_seconds",
        "bling.client_id",
        "bling.client_secret",
        "auvo.api_key",
        "auvo.api_token",
    ):
        assert key in keys
    assert {f.key for f in OPTION_FIELDS if f.secret} == {"bling.client_secret", "auvo.api_token"}
    assert FIELDS_BY_KEY["customers.direction"].label_pt == "Padrão de integração de clientes"
    assert [c.label_pt for c in FIELDS_BY_KEY["tasks.status"].choices][:2] == ["Todos", "Não finalizado"]
    assert [c.value for c in FIELDS_BY_KEY["tasks.status"].choices] == [s.value for s in TaskStatus]


def test_precedence_default_then_console_then_toml_then_env(
    store: Any, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("AUVO_BLING_TASKS__STATUS", "finished_manually")
    bootstrap = load_settings(toml(tmp_path, "[quotes]\nstage = 'Aprovado'\n"))
    saved = save_options(store, bootstrap, "default", {"tasks.enabled": "true"}, ACTOR)
    assert saved.changed_keys == ("tasks.enabled",) and saved.revision == 1

    options = by_key(effective_options(store, bootstrap, "default"))
    assert (options["tasks.enabled"].value, options["tasks.enabled"].source) == (True, "console")
    assert not options["tasks.enabled"].pinned
    assert (options["quotes.stage"].value, options["quotes.stage"].source) == ("Aprovado", "toml")
    assert options["quotes.stage"].pinned and options["quotes.stage"].pinned_by == "TOML quotes.stage"
    status = options["tasks.status"]
    assert (status.value, status.source, status.pinned) == ("finished_manually", "env", True)
    assert status.pinned_by == "AUVO_BLING_TASKS__STATUS"
    assert (options["customers.direction"].value, options["customers.direction"].source) == (
        "auvo_to_bling",
        "default",
    )
    running = tenant_settings(store, bootstrap, "default")
    assert running.tasks.enabled is True and running.tasks.status == TaskStatus.finished_manually


def test_the_environment_wins_over_the_toml_file_for_a_pin(
    store: Any, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("AUVO_BLING_TASKS__STATUS", "all")
    bootstrap = load_settings(toml(tmp_path, "[tasks]\nstatus = 'not_finished'\n"))
    status = by_key(effective_options(store, bootstrap, "default"))["tasks.status"]
    assert (status.value, status.source) == ("all", "env")


def test_a_pinned_option_is_refused_and_nothing_is_written(
    store: Any, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("AUVO_BLING_TASKS__STATUS", "all")
    bootstrap = load_settings(None)
    with pytest.raises(OptionsRefused) as refused:
        save_options(
            store, bootstrap, "default", {"tasks.status": "not_finished", "tasks.enabled": True}, ACTOR
        )
    assert set(refused.value.errors) == {"tasks.status"}
    assert "pinned by AUVO_BLING_TASKS__STATUS" in refused.value.errors["tasks.status"]
    assert store.options_revision("default").revision == 0
    assert store.audit_entries() == []


@pytest.mark.parametrize(
    ("key", "value", "env"),
    [
        ("tasks.status", "sometimes", "AUVO_BLING_TASKS__STATUS"),
        ("customers.direction", "sideways", "AUVO_BLING_CUSTOMERS__DIRECTION"),
        ("poll.interval_seconds", "-1", "AUVO_BLING_POLL__INTERVAL_SECONDS"),
        ("tasks.customer_group", "abc", "AUVO_BLING_TASKS__CUSTOMER_GROUP"),
    ],
)
def test_validation_messages_are_the_settings_own(
    store: Any, clean_env: pytest.MonkeyPatch, key: str, value: str, env: str
) -> None:
    bootstrap = load_settings(None)
    with pytest.raises(OptionsRefused) as refused:
        save_options(store, bootstrap, "default", {key: value}, ACTOR)
    clean_env.setenv(env, value)
    with pytest.raises(ConfigurationError) as at_start:
        load_settings(None)
    assert refused.value.errors == {key: str(at_start.value)}
    assert store.options_revision("default").revision == 0


def test_unknown_keys_are_refused(store: Any, clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(OptionsRefused) as refused:
        save_options(store, load_settings(None), "default", {"tasks.colour": "blue"}, ACTOR)
    assert "is not a known option" in refused.value.errors["tasks.colour"]


def test_secrets_are_sealed_never_returned_and_masked_in_the_audit_log(
    store: Any, clean_env: pytest.MonkeyPatch
) -> None:
    bootstrap = load_settings(None)
    save_options(
        store,
        bootstrap,
        "default",
        {"bling.client_secret": SECRET, "auvo.api_token": TOKEN, "bling.client_id": "cid"},
        ACTOR,
    )
    options = by_key(effective_options(store, bootstrap, "default"))
    assert options["bling.client_secret"].value is None and options["bling.client_secret"].is_set
    assert options["auvo.api_token"].value is None and options["auvo.api_token"].is_set
    assert options["bling.client_id"].value == "cid"
    assert SECRET not in repr(effective_options(store, bootstrap, "default"))
    running = tenant_settings(store, bootstrap, "default")
    assert running.bling.client_secret is not None
    assert running.bling.client_secret.get_secret_value() == SECRET  # the processes get it unsealed

    with store.engine.connect() as conn:
        stored = " ".join(str(r) for r in conn.execute(select(company_options)).all())
        audited = " ".join(str(r) for r in conn.execute(select(audit_log)).all())
    assert SECRET not in stored and TOKEN not in stored
    assert SECRET not in audited and TOKEN not in audited
    (entry,) = store.audit_entries("default")
    assert entry.after["bling.client_secret"] == "••••" and entry.before["bling.client_secret"] is None
    assert entry.after["bling.client_id"] == "cid" and entry.actor == ACTOR


def test_a_secret_without_a_vault_key_is_refused(store: Any, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.delenv("AUVO_BLING_SECRET_KEY")
    with pytest.raises(OptionsRefused) as refused:
        save_options(store, load_settings(None), "default", {"bling.client_secret": SECRET}, ACTOR)
    assert "AUVO_BLING_SECRET_KEY" in refused.value.errors["bling.client_secret"]


def test_every_save_writes_one_audit_row_with_before_and_after(
    store: Any, clean_env: pytest.MonkeyPatch
) -> None:
    bootstrap = load_settings(None)
    save_options(store, bootstrap, "default", {"tasks.task_types": "11, 12"}, ACTOR)
    second = save_options(
        store, bootstrap, "default", {"tasks.task_types": "12", "quotes.enabled": "on"}, "x"
    )
    assert second.revision == 2 and second.changed_keys == ("tasks.task_types", "quotes.enabled")
    newest, oldest = store.audit_entries("default")
    assert oldest.before == {"tasks.task_types": []} and oldest.after == {"tasks.task_types": [11, 12]}
    assert newest.before == {"tasks.task_types": [11, 12], "quotes.enabled": False}
    assert newest.after == {"tasks.task_types": [12], "quotes.enabled": True}
    assert newest.action == "options.save" and newest.actor == "x"
    # nothing changed: no revision, no audit row
    again = save_options(store, bootstrap, "default", {"tasks.task_types": [12]}, ACTOR)
    assert again.changed_keys == () and again.revision == 2
    assert store.audit_count("default") == 2


def test_none_takes_the_option_back_to_its_default(store: Any, clean_env: pytest.MonkeyPatch) -> None:
    bootstrap = load_settings(None)
    save_options(store, bootstrap, "default", {"tasks.customer_group": "7"}, ACTOR)
    save_options(store, bootstrap, "default", {"tasks.customer_group": None}, ACTOR)
    option = by_key(effective_options(store, bootstrap, "default"))["tasks.customer_group"]
    assert (option.value, option.source) == (None, "default")


def test_named_tenants_keep_their_own_options_and_pins(
    store: Any, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("AUVO_BLING_TENANTS__ACME__TASKS__ENABLED", "true")
    bootstrap = load_settings(toml(tmp_path, "[tenants.acme]\n[tenants.acme.quotes]\nstage = 'Fechado'\n"))
    save_options(store, bootstrap, "acme", {"tasks.status": "not_finished"}, ACTOR)
    acme = by_key(effective_options(store, bootstrap, "acme"))
    assert acme["tasks.enabled"].pinned_by == "AUVO_BLING_TENANTS__ACME__TASKS__ENABLED"
    assert acme["quotes.stage"].pinned_by == "TOML tenants.acme.quotes.stage"
    assert acme["tasks.status"].value == "not_finished"
    default = by_key(effective_options(store, bootstrap, "default"))
    assert default["tasks.status"].source == "default" and not default["tasks.enabled"].pinned
    with pytest.raises(ConfigurationError, match="unknown tenant"):
        effective_options(store, bootstrap, "nobody")


class FakeAuvo:
    def iter_task_types(self, param_filter: Any = None) -> Any:
        return iter([{"id": 11, "description": "Instalação"}])

    def iter_customer_groups(self, param_filter: Any = None) -> Any:
        return iter([{"id": 3, "description": "VIP"}])


def test_auvo_ids_are_checked_when_a_catalog_is_given(store: Any, clean_env: pytest.MonkeyPatch) -> None:
    bootstrap = load_settings(None)
    with pytest.raises(OptionsRefused) as refused:
        save_options(
            store,
            bootstrap,
            "default",
            {"tasks.enabled": True, "tasks.task_types": "11,99"},
            ACTOR,
            auvo=FakeAuvo(),
        )
    assert "no Auvo task type [99]" in refused.value.errors["tasks.task_types"]
    ok = save_options(
        store,
        bootstrap,
        "default",
        {"tasks.enabled": True, "tasks.customer_group": 3},
        ACTOR,
        auvo=FakeAuvo(),
    )
    assert ok.revision == 1


def test_options_applied_reports_the_newest_process(store: Any, clean_env: pytest.MonkeyPatch) -> None:
    bootstrap = load_settings(None)
    assert options_applied(store, "default").revision_applied is None
    save_options(store, bootstrap, "default", {"tasks.enabled": True}, ACTOR)
    store.note_options_applied("default", "host-a:1", 0)
    store.note_options_applied("default", process_id(), 1)
    state = options_applied(store, "default")
    assert (state.revision_saved, state.revision_applied, state.by_process) == (1, 1, process_id())
    assert state.up_to_date and len(state.processes) == 2


def test_record_audit_masks_secret_looking_keys_itself(store: Any) -> None:
    store.record_audit("admin", None, "user.add", {}, {"user": "ana", "password": "hunter2"})
    (entry,) = store.audit_entries()
    assert entry.after == {"user": "ana", "password": "••••"} and entry.tenant is None
    assert "hunter2" not in json.dumps(entry.after)


def test_the_task_type_and_group_choices_come_from_auvo() -> None:
    from auvo_bling.option_choices import auvo_choices

    types = auvo_choices(FIELDS_BY_KEY["tasks.task_types"], FakeAuvo())
    assert [(c.value, c.label_pt) for c in types] == [("11", "Instalação")]
    groups = auvo_choices(FIELDS_BY_KEY["tasks.customer_group"], FakeAuvo())
    assert [(c.value, c.label_pt) for c in groups] == [("3", "VIP")]
    assert auvo_choices(FIELDS_BY_KEY["tasks.status"], FakeAuvo()) == FIELDS_BY_KEY["tasks.status"].choices


def test_a_named_tenants_messages_name_its_own_setting_as_at_start(
    store: Any, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    config = toml(tmp_path, "[tenants.acme]\nenabled = true\n")
    with pytest.raises(OptionsRefused) as refused:
        save_options(store, load_settings(config), "acme", {"tasks.status": "sometimes"}, ACTOR)
    clean_env.setenv("AUVO_BLING_TENANTS__ACME__TASKS__STATUS", "sometimes")
    with pytest.raises(ConfigurationError) as at_start:
        load_settings(config)
    assert refused.value.errors == {"tasks.status": str(at_start.value)}


def test_options_applied_tells_gone_and_lagging_processes(store: Any, clean_env: pytest.MonkeyPatch) -> None:
    import socket

    bootstrap = load_settings(None)
    save_options(store, bootstrap, "default", {"tasks.enabled": True}, ACTOR)
    save_options(store, bootstrap, "default", {"quotes.enabled": True}, ACTOR)
    store.note_options_applied("default", f"{socket.gethostname()}:999999999", 2)  # no such pid
    store.note_options_applied("default", process_id(), 1)  # this one, still on revision 1
    store.note_options_applied("default", "elsewhere:12", 2)
    state = options_applied(store, "default")
    alive = {p.process: p.alive for p in state.processes}
    assert alive == {f"{socket.gethostname()}:999999999": False, process_id(): True, "elsewhere:12": True}
    assert [p.process for p in state.lagging] == [process_id()]


def test_an_empty_tenant_table_pins_nothing(
    store: Any, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    bootstrap = load_settings(toml(tmp_path, "[tenants.acme]\n[tenants.acme.tasks]\n"))
    assert not any(o.pinned for o in effective_options(store, bootstrap, "acme"))
    assert save_options(store, bootstrap, "acme", {"tasks.enabled": True}, ACTOR).changed_keys == (
        "tasks.enabled",
    )


def test_a_secret_the_vault_key_no_longer_opens_is_shown_as_a_problem_and_can_be_saved_again(
    store: Any, clean_env: pytest.MonkeyPatch
) -> None:
    save_options(store, load_settings(None), "default", {"bling.client_secret": SECRET}, ACTOR)
    clean_env.setenv("AUVO_BLING_SECRET_KEY", "another-key-after-a-rotation")
    bootstrap = load_settings(None)
    option = by_key(effective_options(store, bootstrap, "default"))["bling.client_secret"]
    assert option.is_set and option.value is None and option.source == "console"
    assert option.problem is not None and "cannot be decrypted" in option.problem
    with pytest.raises(ConfigurationError, match="cannot be decrypted"):
        tenant_settings(store, bootstrap, "default")  # a start stops with the one-line reason
    unset = save_options(store, bootstrap, "default", {"bling.client_secret": None}, ACTOR)
    assert unset.changed_keys == ("bling.client_secret",)
    removal = store.audit_entries("default")[0]
    assert (removal.before, removal.after) == ({"bling.client_secret": "••••"}, {"bling.client_secret": None})
    assert by_key(effective_options(store, bootstrap, "default"))["bling.client_secret"].problem is None
    save_options(store, bootstrap, "default", {"bling.client_secret": "new-secret-value"}, ACTOR)
    running = tenant_settings(store, bootstrap, "default")
    assert running.bling.client_secret is not None
    assert running.bling.client_secret.get_secret_value() == "new-secret-value"


def test_a_saved_value_that_no_longer_validates_is_shown_and_named_until_fixed(
    store: Any, clean_env: pytest.MonkeyPatch
) -> None:
    bootstrap = load_settings(None)
    store.save_option_rows("default", {"tasks.status": ('"sometimes"', False)}, "an older version")
    option = by_key(effective_options(store, bootstrap, "default"))["tasks.status"]
    assert option.value == "all" and option.source == "console"
    assert option.problem is not None and option.problem.startswith("invalid setting tasks.status")
    with pytest.raises(ConfigurationError, match=r"saved options: invalid setting tasks\.status"):
        tenant_settings(store, bootstrap, "default")
    with pytest.raises(OptionsRefused) as refused:
        save_options(store, bootstrap, "default", {"quotes.enabled": True}, ACTOR)
    assert set(refused.value.errors) == {"tasks.status"}
    save_options(store, bootstrap, "default", {"tasks.status": "not_finished"}, ACTOR)
    assert tenant_settings(store, bootstrap, "default").tasks.status == "not_finished"


def test_settings_made_without_load_settings_pin_what_they_were_given(
    store: Any, clean_env: pytest.MonkeyPatch
) -> None:
    from infra.settings import Settings

    clean_env.setenv("AUVO_BLING_TASKS__STATUS", "not_finished")
    bootstrap = Settings(tasks={"enabled": True})
    options = by_key(effective_options(store, bootstrap, "default"))
    assert (options["tasks.enabled"].source, options["tasks.status"].source) == ("toml", "env")
    assert options["tasks.customer_group"].source == "default" and not options["tasks.customer_group"].pinned


def test_a_tenants_bootstrap_carries_no_other_tenants_secrets(
    store: Any, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    config = toml(
        tmp_path,
        "[bling]\nclient_secret = 'default-secret'\n"
        "[tenants.acme.bling]\nclient_secret = 'acme-secret'\n[tenants.acme.quotes]\nstage = 'Fechado'\n"
        "[tenants.beta.bling]\nclient_secret = 'beta-secret'\n",
    )
    everything = load_settings(config)
    acme = everything.bootstrap_for("acme")
    assert acme.bling.client_secret is None and set(acme.tenants) == {"acme"}  # not the default's
    assert effective_options(store, acme, "acme") == effective_options(store, everything, "acme")
    assert tenant_settings(store, acme, "acme") == tenant_settings(store, everything, "acme")
    default = everything.bootstrap_for()
    assert default.tenants == {} and default.bling.client_secret is not None
    assert default.bling.client_secret.get_secret_value() == "default-secret"
    with pytest.raises(ConfigurationError, match="unknown tenant"):
        everything.bootstrap_for("nobody")
