"""Tenants kept in the database: adding, enabling, disabling and removing them, and the one merge
that puts them beside the config file's `[tenants.<name>]` sections.

Why in the database: an integrator serving hundreds of companies adds one from a script or the
console while the processes run, and keeps no file of credentials. A database tenant is set up
as any other: its credentials and the guide's options are its company options, secrets sealed by
the vault (auvo_bling/company_options.py). Running processes follow the registry
(`Deployment.registry_changes`): a tenant added or enabled is served within a poll interval, one disabled
or removed stops being polled at once and its events already queued are still handled (drained).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from infra.errors import ConfigurationError
from infra.settings import (
    SECRET_NAME,
    TENANT_NAME,
    TENANT_NAME_RULE,
    TENANT_SECTIONS,
    Settings,
    TenantSettings,
    validation_messages,
)

if TYPE_CHECKING:
    from infra.store import RegisteredTenant, Store


def with_database_tenants(
    settings: Settings, store: Store | None = None, *, removed: bool = False
) -> Settings:
    """`settings` with the database's tenants that are not removed (enabled ones served), or
    with `removed` those too (not served: what still has queues, for `bus move-to-shared`).

    Without `store`, a short-lived one is opened on the settings' database (a command that has
    not built its App yet: `--tenant acme` for a tenant the file does not define)."""
    if store is not None:
        return _merged(settings, store.registered_tenants(), removed)
    from infra.store import Store

    own = Store(settings.database_url, pool_size=1, max_overflow=0, upgrade=settings.database_auto_upgrade)
    try:
        return _merged(settings, own.registered_tenants(), removed)
    finally:
        own.dispose()


def known_tenant(settings: Settings, name: str, store: Store | None = None) -> Settings:
    """`settings.for_tenant(name)`, the database looked at only for a name the settings lack (a
    command acting on one tenant: `--tenant acme`, `tenants pause acme`)."""
    try:
        return settings.for_tenant(name)
    except ConfigurationError:
        merged = with_database_tenants(settings, store)
        if merged is settings:
            raise
        return merged.for_tenant(name)


def _merged(settings: Settings, rows: list[RegisteredTenant], removed: bool = False) -> Settings:
    return settings.with_registered(
        {
            row.tenant: registered_section(row.tenant, row.section, row.served)
            for row in rows
            if removed or row.state != "removed"
        }
    )


def registered_section(name: str, values: dict[str, Any], served: bool) -> TenantSettings:
    """A database tenant's section, validated like a `[tenants.<name>]` one (same messages)."""
    try:
        return TenantSettings.model_validate({**values, "enabled": served})
    except ValidationError as exc:
        raise ConfigurationError(
            "; ".join(
                message.replace("invalid setting ", f"invalid setting tenants.{name}.", 1)
                for _, message in validation_messages(exc)
            )
            + f" (tenant {name!r} in the database)"
        ) from None


def section_values(name: str, values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """`--set key=value` pairs split into (the company options, the section's nested values).

    A company option (credentials included) is saved as one, secrets sealed; anything else a
    `[tenants.<name>]` section holds (the API's address, its rate) goes into the section. A
    secret-looking key that is not a company option is refused: the section is stored in clear."""
    from contracts.option_fields import FIELDS_BY_KEY

    options: dict[str, Any] = {}
    section: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        if key in FIELDS_BY_KEY:
            options[key] = value
            continue
        part, _, field = key.partition(".")
        if not field or part not in TENANT_SECTIONS or "." in field:
            raise ConfigurationError(
                f"{key}: not a tenant setting; use section.name, one of the sections "
                f"{', '.join(TENANT_SECTIONS)} (e.g. auvo.base_url)"
            )
        if SECRET_NAME.search(field):
            raise ConfigurationError(f"{key}: secrets are kept only as company options, sealed")
        section.setdefault(part, {})[field] = value
    registered_section(name, section, True)  # refused here, not at the processes' next look
    return options, section


def add_tenant(
    store: Store,
    settings: Settings,
    name: str,
    options: dict[str, Any],
    actor: str,
    *,
    enabled: bool = True,
    section: dict[str, Any] | None = None,
) -> Settings:
    """Register `name` and save its first options (credentials sealed); nothing is kept when the
    options are refused. Returns the settings with the new tenant (for its next steps)."""
    from auvo_bling.company_options import save_options

    if not TENANT_NAME.match(name):
        raise ConfigurationError(f"tenant name {name!r} {TENANT_NAME_RULE}")
    rows = store.registered_tenants()  # one read: the removed ones too (their names stay taken)
    known = _merged(settings, rows)
    taken = {row.tenant: row.state for row in rows}
    if name in known.tenant_names() or name in taken:
        where = (
            "the database (removed; `tenants enable` brings it back)"
            if taken.get(name) == "removed"
            else ("the database" if name in taken else "the config file")
        )
        raise ConfigurationError(f"tenant {name!r} already exists in {where}")
    own = registered_section(name, section or {}, enabled)
    if not store.register_tenant(name, actor, state="enabled" if enabled else "disabled", section=section):
        raise ConfigurationError(f"tenant {name!r} already exists in the database")
    merged = known.with_registered({name: own})
    given = {key: value for key, value in options.items() if value is not None}
    try:
        if given:
            save_options(store, merged, name, given, actor)
    except BaseException:
        store.unregister_tenant(name)
        raise
    store.record_audit(actor, name, "tenant.add", {}, {"state": "enabled" if enabled else "disabled"})
    return merged


def set_tenant_state(store: Store, settings: Settings, name: str, state: str, actor: str) -> str:
    """Enable, disable or remove a database tenant; returns the state it was in.

    A tenant of the config file is refused with where to change it: the file is the ops team's."""
    was = store.set_tenant_state(name, state, actor)
    if was is None:
        if name in settings.tenant_names():
            raise ConfigurationError(
                f"tenant {name!r} is defined in the config file: change it there "
                f"(`auvo-bling tenants {'enable' if state == 'enabled' else 'disable'} {name} -c FILE`)"
            )
        known = ", ".join(row.tenant for row in store.registered_tenants()) or "none"
        raise ConfigurationError(f"unknown tenant {name!r}; the database holds: {known}")
    if was != state:
        store.record_audit(actor, name, f"tenant.{state}", {"state": was}, {"state": state})
    return was
