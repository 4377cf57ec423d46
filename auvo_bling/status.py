"""`auvo-bling status`: one look at the whole bridge, as data (for `--json`) and as tables.

Collected from the broker (queue depths, the DLQ by error class), the store (poll cursors, last
writes per flow, counters) and the token vault (Bling token expiry). Every part is collected on
its own: a part that fails is reported with its error instead of hiding the others, because a
status command that crashes when something is wrong is useless exactly when it is needed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from auvo_bling.flows import FLOWS
from infra.bling.quota_watch import PAUSE_DAY_CURSOR
from infra.bling.refresh_timing import refresh_due_at
from infra.bling.tokens import PROVIDER
from infra.bus.broker_stats import queue_stats
from infra.bus.dlq import count_by_error_class
from infra.bus.topology import ALL_WORK_QUEUES, Topology
from infra.errors import QUOTA_PAUSE_CLASSES
from infra.logging import scrub
from producers.polling import SCHEDULE_PREFIX

if TYPE_CHECKING:
    from auvo_bling.wiring import App

WRITE_OUTCOMES = ("created", "updated", "linked")


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; the store writes UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _since(now: datetime, then: datetime | None) -> float | None:
    if then is None:
        return None
    return round((now - _utc(then)).total_seconds(), 1)


def _guarded(part: str, errors: dict[str, str], fn: Any, default: Any) -> Any:
    try:
        return fn()
    except Exception as exc:  # report the part as broken, keep the rest
        errors[part] = scrub(f"{type(exc).__name__}: {exc}")
        return default


def collect_status(app: App, *, max_dlq_scan: int = 10_000, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    settings = app.settings
    topology = app.topology  # a named tenant's queues live under its own prefix
    errors: dict[str, str] = {}
    return {
        "at": now.isoformat(timespec="seconds"),
        "tenant": app.tenant,
        "paused": _guarded("paused", errors, lambda: _pause(app), None),
        "bling_budget": _guarded("bling_budget", errors, lambda: app.budget.view().as_dict(), None),
        **_guarded("broker", errors, lambda: _queues(settings, topology), {"source": None, "queues": []}),
        "dlq": _guarded("dlq", errors, lambda: _dlq(settings.amqp_url, topology, max_dlq_scan), None),
        "pollers": _guarded("pollers", errors, lambda: _pollers(app, now), []),
        "heard": _guarded("heard", errors, lambda: _heard(app, now), []),
        "schedule": _guarded("schedule", errors, lambda: _schedule(app, now), []),
        "bling_token": _guarded("bling_token", errors, lambda: _token(app, now), None),
        "egress": _guarded("egress", errors, lambda: app.bling_egress.usage(), None),
        "flows": _guarded("flows", errors, lambda: _flows(app, now), []),
        "errors": errors,
    }


def _pause(app: App) -> dict[str, Any] | None:
    pause = app.store.tenant_pause(app.tenant)
    if pause is None:
        return None
    return {
        "since": pause.paused_at.isoformat(timespec="seconds"),
        "error_class": pause.error_class,
        "reason": pause.reason,
        "hint": pause.hint,
        # a daily-quota pause lifts itself (a probe answers, the Bling day turns): nothing to resume
        "daily_quota": pause.error_class in QUOTA_PAUSE_CLASSES,
    }


def _queues(settings: Any, topology: Topology) -> dict[str, Any]:
    names: list[str] = []
    layout = []
    for wq in ALL_WORK_QUEUES:
        delays = [topology.delay_queue_name(wq, step) for step in range(len(topology.delays_for(wq)))]
        layout.append((wq, topology.name(wq.name), delays))
        names += [topology.name(wq.name), *delays]
    source, stats = queue_stats(settings.amqp_url, names, settings.bus.management_url)
    queues = []
    for wq, name, delays in layout:
        row = stats[name].as_dict()
        row.pop("name")
        retrying = [stats[d].ready for d in delays if stats[d].exists and stats[d].ready is not None]
        queues.append(
            {
                "queue": wq.name,
                "event_type": wq.event_type,
                **row,
                "retrying": sum(retrying) if retrying else None,
            }
        )
    return {"source": source, "queues": queues}


def _dlq(url: str, topology: Topology, max_scan: int) -> dict[str, Any]:
    depth, scanned, by_class = count_by_error_class(url, topology, max_scan=max_scan)
    return {
        "queue": topology.dlq.name,
        "total": depth,
        "scanned": scanned,
        "by_error_class": dict(sorted(by_class.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def _pollers(app: App, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "cursor": name,
            "value": value,
            "advanced_at": _utc(updated).isoformat(timespec="seconds"),
            "seconds_since_advanced": _since(now, updated),
        }
        for name, (value, updated) in sorted(app.store.all_cursors(app.tenant).items())
        # the quota watch's note and the pollers' schedules are not cursors
        if name != PAUSE_DAY_CURSOR and not name.startswith(SCHEDULE_PREFIX)
    ]


def _schedule(app: App, now: datetime) -> list[dict[str, Any]]:
    """Per poller: the interval it waits now (stretched while its source is idle) and its next pass."""
    rows = []
    for name, (value, _) in sorted(app.store.all_cursors(app.tenant).items()):
        if not name.startswith(SCHEDULE_PREFIX):
            continue
        entry = json.loads(value)
        next_pass = datetime.fromisoformat(entry["next_pass_at"])
        rows.append(
            {
                "poller": name.removeprefix(SCHEDULE_PREFIX),
                "interval_seconds": entry["interval_seconds"],
                "next_pass_at": next_pass.isoformat(timespec="seconds"),
                "seconds_to_next_pass": -(_since(now, next_pass) or 0.0),
            }
        )
    return rows


def _heard(app: App, now: datetime) -> list[dict[str, Any]]:
    """Per change stream: when it was last heard from by webhook and by poll.

    A stream whose webhook time falls behind while its poll time keeps moving means pushes stopped
    (an expired registration, a firewall) and the safety net is doing the work.
    """
    rows = []
    for stream, channels in sorted(app.store.last_heard(app.tenant).items()):
        hook, poll = channels.get("webhook"), channels.get("poll")
        rows.append(
            {
                "stream": stream,
                "by_webhook_at": hook.isoformat(timespec="seconds") if hook else None,
                "seconds_since_webhook": _since(now, hook),
                "by_poll_at": poll.isoformat(timespec="seconds") if poll else None,
                "seconds_since_poll": _since(now, poll),
            }
        )
    return rows


def _token(app: App, now: datetime) -> dict[str, Any]:
    expires = app.bling_tokens.expires_at()
    if expires is None:
        return {"authorized": False, "expires_at": None, "expires_in_seconds": None}
    at = datetime.fromisoformat(expires)
    stored = app.vault.load(PROVIDER)
    refresh_from = refresh_due_at(stored, app.tenant).isoformat() if stored is not None else None
    return {
        "authorized": True,
        "expires_at": expires,
        "expires_in_seconds": -(_since(now, at) or 0.0),
        "refresh_from": refresh_from,
    }


def _flows(app: App, now: datetime) -> list[dict[str, Any]]:
    last = app.store.last_processed(app.tenant)
    counters: dict[str, dict[str, int]] = {}
    for name, value in app.store.counters(app.tenant).items():
        consumer, _, outcome = name.rpartition(".")
        if consumer:
            counters.setdefault(consumer, {})[outcome] = value
    queues = {flow.id: flow.queue.name for flow in FLOWS}
    flows = []
    for name in sorted(set(last) | set(counters)):  # flow ids, and the backfill's and catalogue's counts
        outcomes = last.get(name, {})
        writes = [outcomes[o] for o in WRITE_OUTCOMES if o in outcomes]
        last_write = max(writes) if writes else None
        last_handled = max(outcomes.values()) if outcomes else None
        flows.append(
            {
                "flow": name,
                "queue": queues.get(name),
                "last_write_at": last_write.isoformat(timespec="seconds") if last_write else None,
                "seconds_since_write": _since(now, last_write),
                "last_handled_at": last_handled.isoformat(timespec="seconds") if last_handled else None,
                "counters": counters.get(name, {}),
            }
        )
    return flows
