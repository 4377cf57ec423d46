"""Helpers for the ops tests: a TOML config for an App, the CLI run in-process, dead letters put
straight into the DLQ, and waiting."""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from click.testing import Result
from typer.testing import CliRunner

from auvo_bling.cli import app as cli_app
from auvo_bling.wiring import App
from infra.bus.dlq import DlqSession
from infra.bus.dlq_records import DeadLetter
from infra.bus.topology import Topology, WorkQueue
from infra.logging import configure_logging
from tests.support import wait_until  # noqa: F401 - re-exported for the ops tests


@contextlib.contextmanager
def logs_aside() -> Iterator[io.StringIO]:
    """Consumer threads log to a buffer, not to whatever sys.stdout is while CliRunner swaps it
    (the ops commands leave an already configured logging alone)."""
    buffer = io.StringIO()
    configure_logging("json", "info", stream=buffer)
    try:
        yield buffer
    finally:
        structlog.reset_defaults()


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def write_config(path: Path, values: dict[str, Any]) -> Path:
    """A TOML settings file from nested dicts (one level of tables is all Settings needs)."""
    top = [f"{k} = {_toml_value(v)}" for k, v in values.items() if not isinstance(v, dict)]
    tables = []
    for key, section in values.items():
        if isinstance(section, dict):
            tables.append(f"[{key}]")
            tables += [f"{k} = {_toml_value(v)}" for k, v in section.items() if v is not None]
    path.write_text("\n".join(top + tables) + "\n", encoding="utf-8")
    return path


def config_for(app: App, path: Path) -> Path:
    """The TOML file that makes the CLI build the same App as `app` (secrets included: test only)."""
    s = app.settings
    return write_config(
        path,
        {
            "amqp_url": s.amqp_url,
            "database_url": s.database_url,
            "secret_key": s.secret_key.get_secret_value() if s.secret_key else None,
            "customers": {"direction": s.customers.direction.value},
            "bus": {
                "prefix": s.bus.prefix,
                "retry_delays_seconds": s.bus.retry_delays_seconds,
                "management_url": s.bus.management_url,
            },
            "auvo": {
                "base_url": s.auvo.base_url,
                "api_key": s.auvo.api_key.get_secret_value() if s.auvo.api_key else None,
                "api_token": s.auvo.api_token.get_secret_value() if s.auvo.api_token else None,
            },
            "bling": {
                "base_url": s.bling.base_url,
                "client_id": s.bling.client_id,
                "client_secret": s.bling.client_secret.get_secret_value() if s.bling.client_secret else None,
            },
        },
    )


@dataclass
class Cli:
    """`auvo-bling ...` in this process, against one config file."""

    config: Path

    def __call__(self, *args: str, input: str | None = None) -> Result:
        # the config file is the whole truth for these runs: an AMQP_URL / DATABASE_URL exported by
        # the caller (CI exports both) would override it (the environment wins over the file)
        unset = {
            k: None for k in os.environ if k in ("AMQP_URL", "DATABASE_URL") or k.startswith("AUVO_BLING_")
        }
        # a command configures structlog to print to sys.stderr, which CliRunner swaps for a buffer
        # it closes afterwards: put back what the test had, or later log lines hit a closed file
        was = structlog.get_config() if structlog.is_configured() else None
        try:
            return CliRunner().invoke(cli_app, [*args, "--config", str(self.config)], input=input, env=unset)
        finally:
            if was is None:
                structlog.reset_defaults()
            else:
                structlog.configure(**was)

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.exit_code == 0, (result.exit_code, result.output, result.exception)
        return json.loads(result.stdout)


def put_dead_letter(
    app: App,
    *,
    event_id: str | None,
    error_class: str = "ApiRejected",
    consumer: str = "to-bling.contacts",
    event_type: str = "auvo.customer.changed",
    age: timedelta = timedelta(minutes=1),
    body: bytes | None = None,
    **headers: Any,
) -> DeadLetter:
    """Publish one dead letter as the runner would have written it, straight into the DLQ."""
    if body is None:
        body = json.dumps(
            {
                "event_id": event_id,
                "type": event_type,
                "schema_version": 1,
                "occurred_at": "2025-05-01T12:00:00+00:00",
                "source": "test",
                "tenant": app.tenant,
                "entity_id": f"ent-{event_id}",
                "entity_version": "1",
                "payload": {},
            }
        ).encode()
    letter = DeadLetter.from_message(
        body,
        {
            "x-attempts": 1,
            "x-consumer": consumer,
            "x-error-class": error_class,
            "x-error-message": f"{error_class} happened",
            "x-hint": f"hint for {error_class}",
            "x-original-routing-key": event_type,
            "x-dead-lettered-at": (datetime.now(UTC) - age).isoformat(timespec="seconds"),
            **headers,
        },
        routing_key=event_type,
        properties={"content_type": "application/json", **({"message_id": event_id} if event_id else {})},
    )
    with DlqSession(app.settings.amqp_url, app.topology) as session:
        session.put(letter)
    return letter


def dlq_depth(app: App) -> int:
    with DlqSession(app.settings.amqp_url, Topology.from_settings(app.settings.bus)) as session:
        return session.depth()


def put_envelope(
    app: App, publisher: Any, event_id: str, wq: WorkQueue, topology: Topology | None = None
) -> str:
    """Publish one valid event straight into one work queue (as a replay would)."""
    topology = topology or app.topology
    body = json.dumps(
        {
            "event_id": event_id,
            "type": wq.event_type,
            "occurred_at": "2025-05-01T12:00:00+00:00",
            "source": "test",
            "tenant": app.tenant,
            "entity_id": "1",
            "entity_version": "1",
            "payload": {},
        }
    )
    publisher.publish_raw(
        body,
        exchange="",
        routing_key=topology.name(wq.name),
        headers={"x-attempts": 0, "x-original-routing-key": wq.event_type},
        message_id=event_id,
    )
    return event_id


def config_file_is_the_truth(monkeypatch: Any) -> None:
    """Take the caller's AMQP_URL, DATABASE_URL and AUVO_BLING_* out of this test's environment: a
    test that loads its own config file (`load_settings(config_file)`) would otherwise read CI's
    exported DATABASE_URL instead of the file's fresh database (the environment wins over the file),
    and watch a database the process under test never writes to."""
    for name in list(os.environ):
        if name in ("AMQP_URL", "DATABASE_URL") or name.startswith("AUVO_BLING_"):
            monkeypatch.delenv(name)
