"""The options form's pure part: which submitted fields are changes, and what each field shows."""

from __future__ import annotations

from auvo_bling.company_options import EffectiveOption
from auvo_bling.console.forms import Form
from auvo_bling.console.option_form import changes_from, field_views
from contracts.option_fields import FIELDS_BY_KEY, Choice


def _option(key: str, value: object, *, pinned: bool = False, is_set: bool = True) -> EffectiveOption:
    return EffectiveOption(
        FIELDS_BY_KEY[key],
        value,
        "toml" if pinned else "default",
        pinned,
        is_set,
        "TOML x" if pinned else None,
    )


def test_only_fields_whose_value_changed_are_saved() -> None:
    options = [
        _option("poll.interval_seconds", 5.0),
        _option("tasks.enabled", False),
        _option("tasks.status", "all"),
        _option("tasks.task_types", []),
        _option("tasks.customer_group", None),
    ]
    form = Form.parse(
        b"poll.interval_seconds=5.0&tasks.enabled=true&tasks.status=all&present%3Atasks.task_types=1"
        b"&tasks.task_types=12&tasks.task_types=11&tasks.customer_group="
    )
    keys = {o.field.key for o in options}
    assert changes_from(form, options, keys) == {"tasks.enabled": "true", "tasks.task_types": [11, 12]}


def test_no_task_type_selected_is_a_change_back_to_all() -> None:
    options = [_option("tasks.task_types", [11])]
    assert changes_from(Form.parse(b"present%3Atasks.task_types=1"), options, {"tasks.task_types"}) == {
        "tasks.task_types": []
    }
    # a form without the field at all changes nothing
    assert changes_from(Form.parse(b""), options, {"tasks.task_types"}) == {}


def test_pinned_options_and_empty_secrets_are_never_changes() -> None:
    options = [_option("tasks.status", "all", pinned=True), _option("auvo.api_token", None)]
    form = Form.parse(b"tasks.status=finished_manually&auvo.api_token=")
    assert changes_from(form, options, {"tasks.status", "auvo.api_token"}) == {}
    typed = Form.parse(b"auvo.api_token=new-token")
    assert changes_from(typed, options, {"auvo.api_token"}) == {"auvo.api_token": "new-token"}


def test_fields_show_auvos_choices_and_keep_a_saved_id_auvo_no_longer_lists() -> None:
    lists = {"auvo.task_types": (Choice("11", "Instalação", "Instalação"),)}
    [view] = field_views([_option("tasks.task_types", [11, 99])], lists, "pt-BR")
    assert view.widget == "multi"
    assert [(c.value, c.label) for c in view.choices] == [("11", "Instalação"), ("99", "99")]
    assert view.selected("11") and view.selected("99")
    [pinned] = field_views([_option("tasks.status", "all", pinned=True)], {}, "en")
    assert pinned.widget == "readonly" and pinned.pinned_by == "TOML x" and pinned.shown == "All"
    [on] = field_views([_option("tasks.enabled", True, pinned=True)], {}, "pt-BR")
    assert on.shown == "Habilitado"


def test_credentials_are_left_to_the_setup_steps() -> None:
    options = [_option("bling.client_id", "x"), _option("tasks.enabled", False)]
    assert [v.key for v in field_views(options, {}, "pt-BR")] == ["tasks.enabled"]
    assert [v.key for v in field_views(options, {}, "pt-BR", groups=frozenset({"bling"}))] == [
        "bling.client_id"
    ]


def test_a_saved_value_that_no_longer_loads_shows_its_message_at_the_field() -> None:
    broken = EffectiveOption(
        FIELDS_BY_KEY["tasks.status"], "all", "default", False, problem="invalid setting x"
    )
    [view] = field_views([broken], {}, "pt-BR")
    assert view.error == "invalid setting x"
    [refused] = field_views([broken], {}, "pt-BR", errors={"tasks.status": "the form's own"})
    assert refused.error == "the form's own"
