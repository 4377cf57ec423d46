"""Company options kept in the database, and the one precedence that makes a tenant's settings.

Precedence, lowest to highest: **defaults < console (database) < TOML file < environment**.
The environment and the TOML file are the bootstrap: whatever they set *pins* the option, so the
console shows it read-only with where it comes from and refuses to change it. Why this order: an
ops team that wrote a value into its deployment (a checked-in file, a secret in the environment)
must not see it silently overridden from a web form, and a value nobody pinned is the business
owner's to choose. The database URL, the broker URL and the vault key stay in the bootstrap only.

Saving validates the whole candidate settings with the settings' own models, so a form gets the
same rules and messages as a start with a bad environment variable; secrets are sealed with the
tenant's vault and never returned. Every save bumps the tenant's revision and writes one audit
row in the same transaction; running processes follow the revision (auvo_bling/options_reload.py).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, SecretStr, ValidationError

from contracts.option_fields import FIELDS_BY_KEY, MASK, OPTION_FIELDS, REREAD_KEYS, SECRET_KEYS, OptionField
from infra.errors import ConfigurationError
from infra.settings import Settings, TenantSections, validation_messages
from infra.store import owner_alive
from infra.token_vault import TokenVault

if TYPE_CHECKING:
    from auvo_bling.option_checks import AuvoCatalog
    from infra.store import Store

SOURCES = ("default", "console", "toml", "env")
SAVE_ACTION = "options.save"


class OptionsRefused(ConfigurationError):
    """The change was not saved: one message per option key, in the settings' words."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{key}: {msg}" if key not in msg else msg for key, msg in errors.items()))


@dataclass(frozen=True)
class EffectiveOption:
    field: OptionField
    value: Any  # None for a secret: see is_set
    source: str  # one of SOURCES
    pinned: bool
    is_set: bool = True
    pinned_by: str | None = None  # where a pin comes from, e.g. "AUVO_BLING_TASKS__STATUS"
    # a saved value that no longer loads (the settings' message); the effective value leaves it out
    problem: str | None = None


@dataclass(frozen=True)
class SavedOptions:
    revision: int
    saved_at: datetime | None
    changed_keys: tuple[str, ...]


@dataclass(frozen=True)
class ProcessState:
    process: str
    revision: int
    applied_at: datetime
    # False for a process of this machine that is gone; another machine's are assumed alive
    alive: bool = True


@dataclass(frozen=True)
class AppliedState:
    """The tenant's saved revision and the newest one a running process applied (and when, where)."""

    revision_saved: int
    revision_applied: int | None
    applied_at: datetime | None
    by_process: str | None
    processes: tuple[ProcessState, ...] = field(default_factory=tuple)

    @property
    def up_to_date(self) -> bool:
        return self.revision_applied is not None and self.revision_applied >= self.revision_saved

    @property
    def lagging(self) -> tuple[ProcessState, ...]:
        """Running processes still on an older revision (a page can name them)."""
        return tuple(p for p in self.processes if p.alive and p.revision < self.revision_saved)


def process_id() -> str:
    """How a page names the process that applied a revision: "host:pid"."""
    return f"{socket.gethostname()}:{os.getpid()}"


# --- where a value comes from ------------------------------------------------------------------


def _bootstrap_path(bootstrap: Settings, tenant: str, key: str) -> str:
    return key if tenant == bootstrap.tenant else f"tenants.{tenant}.{key}"


def _env_name(bootstrap: Settings, tenant: str, key: str) -> str:
    parts = key.split(".") if tenant == bootstrap.tenant else ["tenants", tenant, *key.split(".")]
    return "AUVO_BLING_" + "__".join(p.upper() for p in parts)


def _pin(bootstrap: Settings, origins: dict[str, str], tenant: str, key: str) -> tuple[str, str] | None:
    """(source, where) when the bootstrap sets `key` (or its whole section) for this tenant."""
    path = _bootstrap_path(bootstrap, tenant, key)
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        source = origins.get(".".join(parts[:end]))
        if source is not None:
            where = _env_name(bootstrap, tenant, key) if source == "env" else f"TOML {path}"
            return source, where
    return None


def _known_tenant(bootstrap: Settings, tenant: str) -> Settings:
    return bootstrap.for_tenant(tenant)  # ConfigurationError naming the tenants for an unknown one


def _vault(store: Store, bootstrap: Settings, tenant: str) -> TokenVault:
    key = bootstrap.secret_key.get_secret_value() if bootstrap.secret_key else None
    return TokenVault(store, tenant, key)


def _console_values(
    store: Store, bootstrap: Settings, tenant: str, problems: dict[str, str] | None = None
) -> dict[str, Any]:
    """The saved values by key (secrets unsealed), for options this version knows. With `problems`,
    a secret that no longer unseals (the vault key changed) is left out and its message kept there."""
    rows = store.load_options(tenant)
    values: dict[str, Any] = {}
    vault = None
    for key, row in rows.items():
        if key not in FIELDS_BY_KEY:
            continue
        if not row.sealed:
            values[key] = json.loads(row.value)
            continue
        try:
            vault = vault or _vault(store, bootstrap, tenant)
            values[key] = vault.unseal(key, row.value)
        except ConfigurationError as exc:
            if problems is None:
                raise
            problems[key] = str(exc)
    return values


def _tolerant(
    base: Settings, values: dict[str, Any], bootstrap: Settings, tenant: str, problems: dict[str, str]
) -> Settings:
    """`base` with the values that still validate; the others' messages go to `problems` (a page
    must show what is wrong rather than fail)."""
    try:
        return _with_values(base, values)
    except ValidationError as exc:
        messages = _messages(exc, bootstrap, tenant)
        problems.update(messages)
    try:
        return _with_values(base, {k: v for k, v in values.items() if k not in messages})
    except ValidationError:
        return base


def _with_values(base: Settings, values: dict[str, Any]) -> Settings:
    """`base` with `values` (dotted keys) validated by the settings' own section models."""
    sections: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        section, name = key.split(".", 1)
        sections.setdefault(section, getattr(base, section).model_dump())[name] = value
    if not sections:
        return base
    validated = TenantSections.model_validate(sections)  # ValidationError: the settings' messages
    return base.model_copy(update={section: getattr(validated, section) for section in sections})


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _value_of(settings: Settings, key: str) -> Any:
    section, name = key.split(".", 1)
    return _plain(getattr(getattr(settings, section), name))


def _messages(exc: ValidationError, bootstrap: Settings, tenant: str) -> dict[str, str]:
    """The settings' messages by option key; a named tenant's name its own setting, as at start."""
    messages: dict[str, str] = {}
    for name, message in validation_messages(exc):
        if tenant != bootstrap.tenant:
            head = message.split("]", 1)
            if len(head) == 2:
                message = (
                    f"invalid setting tenants.{tenant}.{name} [{_env_name(bootstrap, tenant, name)}]{head[1]}"
                )
        messages[name] = message
    return messages


def _unpinned(bootstrap: Settings, origins: dict[str, str], tenant: str, values: dict[str, Any]) -> dict:
    return {k: v for k, v in values.items() if _pin(bootstrap, origins, tenant, k) is None}


# --- the public functions ----------------------------------------------------------------------


def tenant_settings(store: Store, bootstrap: Settings, tenant: str | None = None) -> Settings:
    """The settings one tenant runs with: the bootstrap's, with its unpinned console values applied.

    A console value the bootstrap made invalid since (or that no longer validates) stops the start
    with the settings' one-line message, as a bad environment variable would.
    """
    name = bootstrap.tenant if tenant is None else tenant
    base = _known_tenant(bootstrap, name)
    values = _unpinned(
        bootstrap, bootstrap.bootstrap_origins(), name, _console_values(store, bootstrap, name)
    )
    try:
        return _with_values(base, values)
    except ValidationError as exc:
        raise ConfigurationError(
            f"tenant {name!r}: saved options: " + "; ".join(_messages(exc, bootstrap, name).values())
        ) from None


def effective_options(store: Store, bootstrap: Settings, tenant: str) -> list[EffectiveOption]:
    """Every option of OPTION_FIELDS with its effective value, where it comes from, and its pin."""
    origins = bootstrap.bootstrap_origins()
    base = _known_tenant(bootstrap, tenant)
    problems: dict[str, str] = {}
    console = _console_values(store, bootstrap, tenant, problems)
    effective = _tolerant(base, _unpinned(bootstrap, origins, tenant, console), bootstrap, tenant, problems)
    options = []
    for option in OPTION_FIELDS:
        pin = _pin(bootstrap, origins, tenant, option.key)
        if pin is not None:
            source, where = pin
        else:
            saved = option.key in console or option.key in problems
            source, where = ("console" if saved else "default"), None
        value = _value_of(effective, option.key)
        is_set = value not in (None, "", [])
        options.append(
            EffectiveOption(
                field=option,
                value=None if option.secret else value,
                source=source,
                pinned=pin is not None,
                is_set=is_set or (option.secret and option.key in problems),
                pinned_by=where,
                problem=problems.get(option.key),
            )
        )
    return options


def _normalised(option: OptionField, value: Any) -> Any:
    """What a form or the command line typed, as the settings expect it (empty = not set)."""
    if isinstance(value, str):
        value = value.strip()
        if value == "" and option.kind != "int_list":
            return None
    return value


def save_options(
    store: Store,
    bootstrap: Settings,
    tenant: str,
    changes: dict[str, Any],
    actor: str,
    *,
    auvo: AuvoCatalog | None = None,
) -> SavedOptions:
    """Validate and save `changes` (key -> value; None = back to the bootstrap/default value).

    Raises OptionsRefused with a message per key: unknown key, pinned key, the settings' own
    validation message, or (with `auvo`) the id Auvo does not have. Nothing is written then. A save
    that changes nothing writes nothing (no revision, no audit row): processes have nothing to apply.
    """
    base = _known_tenant(bootstrap, tenant)
    origins = bootstrap.bootstrap_origins()
    errors: dict[str, str] = {}
    wanted: dict[str, Any] = {}
    for key, raw in changes.items():
        option = FIELDS_BY_KEY.get(key)
        if option is None:
            errors[key] = f"{key} is not a known option; known: {', '.join(FIELDS_BY_KEY)}"
            continue
        pin = _pin(bootstrap, origins, tenant, key)
        if pin is not None:
            errors[key] = f"{key} is pinned by {pin[1]}; change it there"
            continue
        wanted[key] = _normalised(option, raw)
    if errors:
        raise OptionsRefused(errors)

    saved_keys = set(store.load_options(tenant))
    console = _console_values(store, bootstrap, tenant, {})  # an unsealable secret: as if unset
    before_settings = _tolerant(base, _unpinned(bootstrap, origins, tenant, console), bootstrap, tenant, {})
    after_console = dict(console)
    for key, value in wanted.items():
        if value is None:
            after_console.pop(key, None)
        else:
            after_console[key] = value
    try:
        candidate = _with_values(base, _unpinned(bootstrap, origins, tenant, after_console))
    except ValidationError as exc:
        raise OptionsRefused(_messages(exc, bootstrap, tenant)) from None
    if auvo is not None and {"tasks.task_types", "tasks.customer_group", "tasks.enabled"} & set(wanted):
        from auvo_bling.option_checks import task_option_problems

        problems = task_option_problems(candidate.tasks, auvo)
        if problems:
            raise OptionsRefused(problems)

    rows: dict[str, tuple[str, bool] | None] = {}
    vault = None
    for key, value in wanted.items():
        if value is None:
            if key in saved_keys:  # also a secret that no longer unseals: unsetting it is a fix
                rows[key] = None
            continue
        stored = _value_of(candidate, key)  # normalised by the settings (enums, "11,12" -> [11, 12])
        if key in SECRET_KEYS:
            if console.get(key) == stored:
                continue
            vault = vault or _vault(store, bootstrap, tenant)
            try:
                rows[key] = (vault.seal(key, str(stored)), True)
            except ConfigurationError as exc:
                raise OptionsRefused({key: str(exc)}) from None
        elif key not in console or console[key] != stored:
            rows[key] = (json.dumps(stored), False)
    changed = tuple(key for key in FIELDS_BY_KEY if key in rows)
    if not changed:
        current = store.options_revision(tenant)
        return SavedOptions(current.revision, current.saved_at, ())
    before = {key: _value_of(before_settings, key) for key in changed}
    after = {key: _value_of(candidate, key) for key in changed}
    for key in SECRET_KEYS & set(changed):  # masked here and again by the store
        before[key] = MASK if before[key] or key in saved_keys else None
        after[key] = MASK if after[key] else None
    revision = store.save_option_rows(
        tenant,
        rows,
        actor,
        audit=(SAVE_ACTION, before, after, SECRET_KEYS),
        reread=bool(REREAD_KEYS & set(changed)),
    )
    return SavedOptions(revision.revision, revision.saved_at, changed)


def options_applied(store: Store, tenant: str) -> AppliedState:
    """What a page needs to say "aplicado às 14:03 por host:pid" (or that it is not applied yet)."""
    saved = store.options_revision(tenant)
    processes = tuple(
        ProcessState(p.process, p.revision, p.applied_at, owner_alive(p.process))
        for p in store.options_applications(tenant)
    )
    if not processes:
        return AppliedState(saved.revision, None, None, None, ())
    newest = max(processes, key=lambda p: (p.revision, p.applied_at))
    return AppliedState(saved.revision, newest.revision, newest.applied_at, newest.process, processes)
