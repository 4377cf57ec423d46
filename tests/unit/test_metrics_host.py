"""`--metrics-host` and the `metrics_host` setting: localhost unless told, the flag wins."""

from __future__ import annotations

import socket
from types import SimpleNamespace
from typing import Any

import pytest

from auvo_bling import cli
from infra import metrics
from infra.errors import ConfigurationError
from infra.settings import Settings


def test_metrics_host_defaults_to_localhost_and_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AUVO_BLING_METRICS_HOST", raising=False)
    assert Settings().metrics_host == "127.0.0.1"
    monkeypatch.setenv("AUVO_BLING_METRICS_HOST", "0.0.0.0")
    assert Settings().metrics_host == "0.0.0.0"


@pytest.mark.parametrize(("flag", "bound"), [(None, "0.0.0.0"), ("10.1.2.3", "10.1.2.3")])
def test_the_metrics_server_binds_the_flag_else_the_setting(
    monkeypatch: pytest.MonkeyPatch, flag: str | None, bound: str
) -> None:
    calls: list[tuple[int, str]] = []

    def fake_start(port: int, host: str = "127.0.0.1", **kwargs: Any) -> None:
        calls.append((port, host))

    monkeypatch.setattr(metrics, "start_metrics_server", fake_start)
    deployment: Any = SimpleNamespace(settings=SimpleNamespace(metrics_host="0.0.0.0"))
    started = cli._serve_metrics(9100, flag, deployment)
    assert calls == [(9100, bound)]
    assert started.readiness().body() == "not ready\nstarting\n"  # until the pieces run
    assert cli._serve_metrics(None, flag, deployment) is not None and len(calls) == 1  # no port: no server


def test_a_metrics_port_in_use_is_a_configuration_error_not_a_crash() -> None:
    """One line and exit 2 (the supervisor then stops instead of restarting it every second)."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    closed: list[bool] = []
    deployment: Any = SimpleNamespace(
        settings=SimpleNamespace(metrics_host="127.0.0.1"), close=lambda: closed.append(True)
    )
    try:
        with pytest.raises(ConfigurationError, match=f"cannot serve metrics on 127.0.0.1:{port}: "):
            cli._serve_metrics(port, None, deployment)
    finally:
        taken.close()
    assert closed == [True]
