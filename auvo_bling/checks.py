"""`auvo-bling check`: one line per dependency, naming what is wrong and what to do.

Each check is independent, so a broken broker does not hide a wrong Auvo key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from auvo_bling.wiring import App
from infra.bus.publisher import make_connection
from infra.errors import QUOTA_PAUSE_CLASSES, ConfigurationError, IntegrationError
from infra.logging import scrub

CheckResult = tuple[str, bool, str]


def _check_broker(app: App) -> str:
    conn = make_connection(app.settings.amqp_url)
    try:
        conn.ensure_connection(max_retries=1, timeout=5)
    finally:
        conn.release()
    return f"reachable ({scrub(app.settings.amqp_url)})"


def _check_database(app: App) -> str:
    app.store.ping()
    return f"reachable ({scrub(app.settings.database_url)})"


def _check_tenant(app: App) -> str:
    """A paused tenant does nothing whatever the other checks say: say so, and how to resume."""
    pause = app.store.tenant_pause(app.tenant)
    if pause is not None and pause.error_class in QUOTA_PAUSE_CLASSES:
        raise ConfigurationError(
            f"{app.tenant} waits for the daily quota since {pause.paused_at:%Y-%m-%d %H:%M:%S} UTC "
            f"({pause.error_class}: {pause.reason}); it resumes by itself"
        )
    if pause is not None:
        raise ConfigurationError(
            f"{app.tenant} PAUSED since {pause.paused_at:%Y-%m-%d %H:%M:%S} UTC ({pause.error_class}: "
            f"{pause.reason}); when fixed: auvo-bling tenants resume {app.tenant}"
        )
    return f"{app.tenant} active" if app.settings.tenant_enabled else f"{app.tenant} disabled in the settings"


def _missing(app: App, names: tuple[str, ...]) -> ConfigurationError:
    missing = [m for m in app.settings.required_for_run() if m.split(" ")[0].endswith(names)]
    return ConfigurationError("not configured: set " + ", ".join(missing))


def _check_auvo(app: App) -> str:
    if app.settings.auvo.api_key is None or app.settings.auvo.api_token is None:
        raise _missing(app, ("auvo.api_key", "auvo.api_token"))
    app.auvo_client(throttled=False).check()
    return "logged in"


def _check_bling(app: App) -> str:
    if not app.settings.bling.client_id:
        raise _missing(app, ("bling.client_id", "bling.client_secret"))
    app.bling_client(throttled=False).contacts_page(1, limite=1)
    return f"authorized (token expires {app.bling_tokens.expires_at()})"


def _check_budget(app: App) -> str:
    """Today's Bling calls against this integration's share (read from the store, no Bling call)."""
    view = app.budget.view()
    if view.exhausted:
        raise ConfigurationError(view.line() + "; the tenant waits for the next Bling day")
    return view.line()


def _check_options(app: App) -> str:
    from auvo_bling.option_checks import check_task_options

    tasks = app.settings.tasks
    if not tasks.enabled:
        return "tasks off"
    check_task_options(tasks, app.auvo_client(throttled=False))
    return f"task types {tasks.task_types or 'all'}, customer group {tasks.customer_group or 'any'}"


CHECKS: list[tuple[str, Callable[[App], str]]] = [
    ("broker", _check_broker),
    ("database", _check_database),
    ("tenant", _check_tenant),
    ("auvo", _check_auvo),
    ("bling", _check_bling),
    ("bling_budget", _check_budget),
    ("options", _check_options),
]


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    ok: bool
    detail: str
    error_class: str | None = None  # the IntegrationError's class, so a page can say it its own way


def run_check(app: App, name: str) -> CheckOutcome:
    """One check by name (`auvo`, `bling`, ...): what `check` prints and the console's "Testar conexão"."""
    check = dict(CHECKS)[name]
    try:
        return CheckOutcome(name, True, check(app))
    except IntegrationError as exc:
        detail = f"{exc.error_class}: {scrub(str(exc))}"
        if exc.hint:
            detail += f" -> {exc.hint}"
        return CheckOutcome(name, False, detail, exc.error_class)
    except ConfigurationError as exc:
        return CheckOutcome(name, False, str(exc), "ConfigurationError")
    except Exception as exc:
        detail = f"unreachable: {scrub(str(exc)) or type(exc).__name__}"
        return CheckOutcome(name, False, detail, "Unreachable")


def run_checks(app: App) -> list[CheckResult]:
    return [(o.name, o.ok, o.detail) for o in (run_check(app, name) for name, _ in CHECKS)]
