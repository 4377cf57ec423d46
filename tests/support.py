"""Helpers the tests share (importable, unlike conftest): the simulator pair and test settings."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pika

from contracts.envelope import Envelope
from infra.settings import Settings
from simulators.auvo import AuvoState
from simulators.bling import BlingState
from simulators.faults import brasilia_now
from simulators.server import RunningServer

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret-0123456789"
REDIRECT = "http://127.0.0.1:8765/callback"


@dataclass
class Simulators:
    auvo: AuvoState
    bling: BlingState
    auvo_server: RunningServer
    bling_server: RunningServer

    @property
    def auvo_url(self) -> str:
        return f"{self.auvo_server.url}/v2"

    @property
    def bling_url(self) -> str:
        return f"{self.bling_server.url}/Api/v3"

    def settings_overrides(self) -> dict[str, Any]:
        return {
            "auvo": {
                "base_url": self.auvo_url,
                "api_key": self.auvo.api_key,
                "api_token": self.auvo.api_token,
                "requests_per_minute": self.auvo.rate_limit_per_minute,
            },
            "bling": {
                "base_url": self.bling_url,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uri": REDIRECT,
                "requests_per_second": self.bling.rate_limit_per_second,
            },
        }

    def env(self) -> dict[str, str]:
        """The same settings as environment variables, for subprocesses."""
        return {
            "AUVO_BLING_AUVO__BASE_URL": self.auvo_url,
            "AUVO_BLING_AUVO__API_KEY": self.auvo.api_key,
            "AUVO_BLING_AUVO__API_TOKEN": self.auvo.api_token,
            "AUVO_BLING_AUVO__REQUESTS_PER_MINUTE": str(self.auvo.rate_limit_per_minute),
            "AUVO_BLING_BLING__BASE_URL": self.bling_url,
            "AUVO_BLING_BLING__CLIENT_ID": CLIENT_ID,
            "AUVO_BLING_BLING__CLIENT_SECRET": CLIENT_SECRET,
            "AUVO_BLING_BLING__REDIRECT_URI": REDIRECT,
            "AUVO_BLING_BLING__REQUESTS_PER_SECOND": str(self.bling.rate_limit_per_second),
        }


def build_settings(amqp_url: str, database_url: str, sims: Simulators, **overrides: Any) -> Settings:
    """Settings for a test: explicit values only (the developer's environment cannot leak in)."""
    values: dict[str, Any] = {
        "amqp_url": amqp_url,
        "database_url": database_url,
        "secret_key": "test-secret-key-for-token-encryption",
        "poll": {"interval_seconds": 0.3, "max_interval_seconds": 1.0, "overlap_seconds": 5},
        "bus": {"retry_delays_seconds": [0.3, 0.6, 1.0], "max_attempts": 5, "prefetch": 20},
        **sims.settings_overrides(),
    }
    values.update(overrides)
    return Settings(**values)


def pika_parameters(amqp_url: str) -> pika.URLParameters:
    """pika reads the vhost literally: kombu's `//` (the default vhost) is `/%2F` for it."""
    if amqp_url.endswith("//"):
        amqp_url = amqp_url[:-1] + "%2F"
    return pika.URLParameters(amqp_url)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` every 0.1 s; fail the test naming what never happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class Capture:
    """A publisher that keeps what it was given (where the bus is not what a test looks at)."""

    def __init__(self) -> None:
        self.published: list[Envelope] = []
        self.lock = threading.Lock()

    def publish(self, envelope: Envelope) -> None:
        with self.lock:
            self.published.append(envelope)

    def take(self) -> list[Envelope]:
        with self.lock:
            out, self.published = self.published, []
        return out


class Clock:
    """The Auvo simulator's clock, moved by hand so each change gets its own `dateLastUpdate`."""

    def __init__(self) -> None:
        self.now = brasilia_now().replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 60) -> None:
        self.now += timedelta(seconds=seconds)
