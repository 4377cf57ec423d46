"""`--metrics-host` and the `metrics_host` setting: localhost unless told, the flag wins."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from auvo_bling import cli
from infra import metrics
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
