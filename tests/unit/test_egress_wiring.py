"""The composition root puts the IP-wide ceilings in front of every tenant's clients."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from auvo_bling.wiring import App
from infra.egress import BlingRequestCeilings, ChainedThrottle
from infra.errors import ConfigurationError
from infra.ratelimit import SharedThrottle
from infra.settings import Settings, load_settings
from infra.store import Store
from tests.ops_support import config_file_is_the_truth


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    config_file_is_the_truth(monkeypatch)  # CI's DATABASE_URL would win over the file's SQLite
    monkeypatch.setenv("AUVO_BLING_AUVO__API_KEY", "key-one")
    monkeypatch.setenv("AUVO_BLING_AUVO__API_TOKEN", "token-one")
    monkeypatch.setenv("AUVO_BLING_TENANTS__GLOBEX__AUVO__API_KEY", "key-two")
    monkeypatch.setenv("AUVO_BLING_TENANTS__GLOBEX__AUVO__API_TOKEN", "token-two")
    monkeypatch.setenv("AUVO_BLING_DATABASE_URL", f"sqlite:///{tmp_path / 'wiring.sqlite3'}")
    return load_settings()


@pytest.fixture
def apps(settings: Settings) -> Iterator[list[App]]:
    store = Store(settings.database_url)
    apps = [App(settings.for_tenant(name), shared_store=store) for name in ("default", "globex")]
    yield apps
    for app in apps:
        app.close()
    store.dispose()


def parts(throttle: object) -> list[object]:
    assert isinstance(throttle, ChainedThrottle)
    return throttle.parts


def test_bling_clients_pass_the_account_bucket_and_the_ip_ceilings(apps: list[App]) -> None:
    for app in apps:
        account, ceilings = parts(app.bling._throttle)
        assert isinstance(account, SharedThrottle) and account.bucket == f"bling:{app.tenant}"
        assert isinstance(ceilings, BlingRequestCeilings)
        assert ceilings.egress.requests.name == "default:bling:requests"  # one group for both tenants
        assert app.bling_tokens.egress is app.bling_egress
    # `check`'s unthrottled client still counts against the IP
    assert [type(p) for p in parts(apps[0].bling_client(throttled=False)._throttle)] == [BlingRequestCeilings]


def test_auvo_is_limited_per_key_and_per_egress_ip(apps: list[App]) -> None:
    (key_one, ip_one), (key_two, ip_two) = (parts(app.auvo._throttle) for app in apps)
    assert isinstance(key_one, SharedThrottle) and isinstance(key_two, SharedThrottle)
    assert key_one.bucket != key_two.bucket
    assert isinstance(ip_one, SharedThrottle) and isinstance(ip_two, SharedThrottle)
    assert ip_one.bucket == ip_two.bucket == "auvo-ip:default"


def test_the_ip_bucket_paces_two_keys_together(settings: Settings) -> None:
    """Per key 6000/min, per IP 600/min: two tenants alternating share the IP's pace."""
    tuned = settings.model_copy(
        update={
            "auvo": settings.auvo.model_copy(update={"requests_per_minute": 6000}),
            "egress": settings.egress.model_copy(update={"auvo_requests_per_minute": 600}),
        }
    )
    store = Store(tuned.database_url)
    apps = [App(tuned.for_tenant(name), shared_store=store) for name in ("default", "globex")]
    try:
        throttles = [app.auvo._throttle for app in apps]
        started = time.monotonic()
        for i in range(12):
            throttles[i % 2]()  # type: ignore[misc]
        elapsed = time.monotonic() - started
    finally:
        for app in apps:
            app.close()
        store.dispose()
    assert elapsed >= 0.9  # 11 intervals of 0.105 s; the keys alone would allow 12 in 0.12 s


def test_the_ip_limit_can_be_switched_off(settings: Settings) -> None:
    no_ip_limit = settings.egress.model_copy(update={"auvo_requests_per_minute": 0})
    off = settings.model_copy(update={"egress": no_ip_limit})
    app = App(off)
    try:
        assert len(parts(app.auvo._throttle)) == 1
    finally:
        app.close()


def test_an_auvo_rate_limit_answer_holds_the_ip_bucket_for_every_tenant(apps: list[App]) -> None:
    """Which of Auvo's limits was hit cannot be told from its 403: both buckets are held back."""
    first, second = (app.auvo._throttle for app in apps)
    assert isinstance(first, ChainedThrottle) and isinstance(second, ChainedThrottle)
    first()
    first.penalize(0.5)
    started = time.monotonic()
    second()  # another key, same egress IP
    assert 0.4 <= time.monotonic() - started <= 1.5


def test_egress_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUVO_BLING_EGRESS__GROUP", "edge-2")
    monkeypatch.setenv("AUVO_BLING_EGRESS__BLING_REQUESTS_PER_10S", "400")
    egress = load_settings().for_tenant().egress  # the deployment's, shared by its tenants
    assert (egress.group, egress.bling_requests_per_10s) == ("edge-2", 400)
    assert egress.bling_token_calls_per_minute == 15
    monkeypatch.setenv("AUVO_BLING_EGRESS__BLING_TOKEN_CALLS_PER_MINUTE", "25")
    with pytest.raises(ConfigurationError, match=r"egress\.bling_token_calls_per_minute"):
        load_settings()  # above Bling's 20 the IP is blocked for an hour: refused at start
