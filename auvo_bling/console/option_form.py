"""Between the options table and an HTML form: what each field shows, and what a submitted form changes.

Pure: no store, no HTTP. A form sends every field it shows; only the fields whose value differs
from the effective one become changes, so saving a page does not turn defaults into saved values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auvo_bling.company_options import EffectiveOption
from auvo_bling.console.forms import Form
from contracts.option_fields import Choice, OptionField


@dataclass(frozen=True)
class Listed:
    """One choice as a form shows it, in the page's language."""

    value: str
    label: str


# the credentials are asked for in the setup steps, the rest on the options page
CREDENTIAL_GROUPS = frozenset({"bling", "auvo"})
PRESENT_PREFIX = "present:"  # sent with every multi-select, so "none selected" reaches the server


@dataclass
class FieldView:
    field: OptionField
    widget: str  # select, multi, text, number, secret, readonly
    value: Any
    source: str
    pinned_by: str | None
    is_set: bool
    choices: list[Listed] = field(default_factory=list)
    error: str | None = None

    @property
    def key(self) -> str:
        return self.field.key

    @property
    def shown(self) -> str:
        """A read-only value in words: the choice's label ("Habilitado"), else the value itself."""
        labels = [c.label for c in self.choices if self.selected(c.value)]
        if labels:
            return ", ".join(labels)
        if isinstance(self.value, list):
            return ", ".join(_text(v) for v in self.value) or "—"
        return _text(self.value) or "—"

    def selected(self, choice: str) -> bool:
        if isinstance(self.value, list):
            return choice in {str(v) for v in self.value}
        return _text(self.value) == choice


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _same(option: EffectiveOption, typed: str) -> bool:
    """Whether the form kept the effective value ("5.0" and "5" are the same number)."""
    if typed == _text(option.value):
        return True
    if option.field.kind in ("int", "number") and option.value is not None:
        try:
            return float(typed) == float(option.value)
        except ValueError:
            return False
    return False


def _widget(option: EffectiveOption) -> str:
    kind = option.field.kind
    if option.pinned:
        return "readonly"
    if kind == "secret":
        return "secret"
    if kind == "int_list" and option.field.choices_source:
        return "multi"
    if kind in ("bool", "choice") or (option.field.choices_source and kind == "int"):
        return "select"
    return "number" if kind in ("int", "number") else "text"


def field_views(
    options: list[EffectiveOption],
    lists: dict[str, tuple[Choice, ...]],
    language: str,
    *,
    groups: frozenset[str] | None = None,
    submitted: Form | None = None,
    errors: dict[str, str] | None = None,
) -> list[FieldView]:
    views = []
    for option in options:
        if groups is not None and option.field.group not in groups:
            continue
        if groups is None and option.field.group in CREDENTIAL_GROUPS:
            continue
        widget = _widget(option)
        source = option.field.choices_source
        fixed = lists.get(source, option.field.choices) if source else option.field.choices
        choices = [Listed(str(c.value), c.label_en if language == "en" else c.label_pt) for c in fixed]
        if source:
            current = option.value if isinstance(option.value, list) else [option.value]
            known = {c.value for c in choices}
            # a saved id Auvo no longer lists stays visible, so saving the page does not drop it silently
            choices += [
                Listed(_text(v), _text(v)) for v in current if v not in (None, "") and _text(v) not in known
            ]
        value = option.value
        if submitted is not None and widget not in ("readonly", "secret"):
            value = submitted.all(option.field.key) if widget == "multi" else submitted.get(option.field.key)
        views.append(
            FieldView(
                option.field,
                widget,
                value,
                option.source,
                option.pinned_by,
                option.is_set,
                choices,
                (errors or {}).get(option.field.key) or option.problem,
            )
        )
    return views


def changes_from(form: Form, options: list[EffectiveOption], keys: set[str]) -> dict[str, Any]:
    """The options among `keys` the form changes (secrets: only when something was typed)."""
    changes: dict[str, Any] = {}
    for option in options:
        key = option.field.key
        if key not in keys or option.pinned:
            continue
        widget = _widget(option)
        if widget == "secret":
            typed = form.get(key)
            if typed:
                changes[key] = typed
            continue
        if widget == "multi":
            if PRESENT_PREFIX + key not in form:
                continue
            wanted = sorted({v for v in form.all(key) if v})
            if wanted != sorted(_text(v) for v in option.value or []):
                changes[key] = [int(v) if v.isdigit() else v for v in wanted]
            continue
        if key not in form:
            continue
        typed = form.get(key).strip()
        if not _same(option, typed):
            changes[key] = typed
    return changes
