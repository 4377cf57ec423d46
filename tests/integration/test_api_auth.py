"""Authorization against the simulators: Bling OAuth (state, single-use codes, rotating refresh
tokens shared by several processes), Auvo's 30-minute login, and a 429 storm absorbed by retries."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from auvo_bling.authorize import StateMismatch, code_from_callback, complete, new_state, start_url
from auvo_bling.runtime import start
from auvo_bling.wiring import App
from infra.bling.tokens import PROVIDER
from infra.errors import ApiRejected
from infra.settings import Settings
from simulators.seed import seed_auvo_customers
from tests.support import Simulators, build_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def make_app(amqp_url: str, pg_url: str, sims: Simulators, bus_prefix: str) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def make(**overrides: Any) -> App:
        bus = {"retry_delays_seconds": [0.2, 0.5, 1.0], "max_attempts": 5, "prefix": bus_prefix}
        bus.update(overrides.pop("bus", {}))
        app = App(build_settings(amqp_url, pg_url, sims, bus=bus, **overrides))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def browser_approves(app: App, state: str) -> str:
    """What the user's browser does: open the authorize URL and land on the redirect."""
    response = httpx.get(start_url(app, state), follow_redirects=False, timeout=10)
    assert response.status_code in (302, 303)
    return response.headers["location"]


def test_callback_with_another_state_is_rejected(make_app: Callable[..., App]) -> None:
    app = make_app()
    state = new_state()
    callback = browser_approves(app, state)
    with pytest.raises(StateMismatch):
        code_from_callback(callback, new_state())
    assert app.vault.load(PROVIDER) is None  # nothing was exchanged or stored


def test_authorization_code_is_single_use(make_app: Callable[..., App]) -> None:
    app = make_app()
    state = new_state()
    code = code_from_callback(browser_approves(app, state), state)
    assert complete(app, code) == []  # all five scope groups granted
    first = app.vault.load(PROVIDER)
    assert first is not None
    with pytest.raises(ApiRejected, match="invalid or already used"):
        complete(app, code)
    assert app.vault.load(PROVIDER) == first  # the stored grant is untouched


def _refresh_in_process(settings_json: str, barrier: Any, out: Any) -> None:
    """One consumer process that finds the access token expired at the same moment as the others."""
    app = App(Settings.model_validate_json(settings_json))
    barrier.wait()
    try:
        token = app.bling_tokens.access_token()
        app.bling.contacts_page(1, limite=1)  # the token works
        out.put(("ok", token))
    except Exception as exc:  # reported to the parent, which fails the test
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def test_concurrent_refresh_from_several_processes_makes_one_token_call(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    app = make_app()
    state = new_state()
    complete(app, code_from_callback(browser_approves(app, state), state))
    stored = app.vault.load(PROVIDER)
    assert stored is not None
    # "six hours later": Bling forgets the access token and our copy says it expired
    sims.bling.expire_access_tokens()
    app.vault.save(PROVIDER, dataclasses.replace(stored, expires_at=datetime.now(UTC) - timedelta(days=1)))
    calls_before = sims.bling.token_calls

    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(4), ctx.Queue()
    settings_json = _unmask(app.settings.model_dump_json(), app)
    procs = [ctx.Process(target=_refresh_in_process, args=(settings_json, barrier, out)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    assert all(kind == "ok" for kind, _ in results), results
    assert len({token for _, token in results}) == 1, "processes ended with different tokens"
    assert sims.bling.token_calls - calls_before == 1, "the rotating refresh token was used more than once"


def _unmask(settings_json: str, app: App) -> str:
    """model_dump_json masks SecretStr; rebuild a JSON document with the real secrets for a child."""
    data = json.loads(settings_json)
    data["secret_key"] = app.settings.secret_key.get_secret_value()
    data["auvo"]["api_key"] = app.settings.auvo.api_key.get_secret_value()
    data["auvo"]["api_token"] = app.settings.auvo.api_token.get_secret_value()
    data["bling"]["client_secret"] = app.settings.bling.client_secret.get_secret_value()
    return json.dumps(data)


def test_bling_401_mid_run_refreshes_once_and_retries(make_app: Callable[..., App], sims: Simulators) -> None:
    app = make_app()
    state = new_state()
    complete(app, code_from_callback(browser_approves(app, state), state))
    app.bling.contacts_page(1, limite=1)
    calls_before = sims.bling.token_calls
    sims.bling.expire_access_tokens()  # our copy still looks valid: Bling answers 401 invalid_token
    app.bling.contacts_page(1, limite=1)
    app.bling.contacts_page(1, limite=1)
    assert sims.bling.token_calls - calls_before == 1


def test_auvo_login_is_renewed_when_the_token_expires(make_app: Callable[..., App], sims: Simulators) -> None:
    seed_auvo_customers(sims.auvo, 3, rng_seed=5)
    app = make_app()
    app.auvo.check()
    logins = sims.auvo.logins
    sims.auvo.expire_tokens()  # "30 minutes later"
    assert len(list(app.auvo.iter_customers())) == 3
    assert sims.auvo.logins == logins + 1


def test_429_storm_is_absorbed_with_no_lost_event(
    make_app: Callable[..., App], sims: Simulators, tmp_path: Path
) -> None:
    """Our limiter thinks Bling allows 200 req/s; it allows 4. Everything still arrives, once."""
    customers = seed_auvo_customers(sims.auvo, 20, rng_seed=6)
    sims.bling.rate_limit_per_second = 4
    overrides = sims.settings_overrides()
    app = make_app(
        bling={**overrides["bling"], "requests_per_second": 200},
        bus={"max_attempts": 40, "retry_delays_seconds": [0.2, 0.4, 0.8]},
    )
    state = new_state()
    complete(app, code_from_callback(browser_approves(app, state), state))
    running = start(app, worker_threads=2, poll_interval=0.3)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with sims.bling.lock:
                codigos = [c.get("codigo") for c in sims.bling.contacts.values()]
            if len(codigos) >= 20:
                break
            time.sleep(0.2)
    finally:
        running.stop()
    stats = running.consumer_stats()
    assert sorted(codigos) == sorted(f"AUVO-{c['id']}" for c in customers)
    assert stats["retried"] > 0, "the simulator never answered 429: the test proves nothing"
    assert stats.get("dead_lettered", 0) == 0
