"""What the chaos suite found: each a small, deterministic test of one finding.

A finding still open is `xfail(strict=True)`: the day it is fixed the test passes, the suite says
XPASS(strict) and fails, and whoever fixed it removes the marker. The chaos scenarios in
test_chaos.py steer around the open ones (and say so), so they stay green meanwhile.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from contracts.envelope import Envelope
from infra.errors import IntegrationError
from producers.bling_contacts import BlingContactPoller
from producers.polling import LeaderLease, run_poll_loop
from simulators.bling import BlingState, create_bling_app
from simulators.seed import seed_bling_contacts
from simulators.server import serve_in_thread
from tests.support import CLIENT_ID, CLIENT_SECRET, REDIRECT, Simulators

pytestmark = pytest.mark.integration


def test_a_timed_out_post_still_writes() -> None:
    state = BlingState(rate_limit_per_second=50)
    server = serve_in_thread(create_bling_app(state))  # the simulator as it is, without BufferedBody
    try:
        token = state.grant_tokens(state.register_app(CLIENT_ID, CLIENT_SECRET, REDIRECT).client_id)
        state.faults.configure(timeout_rate=1.0, timeout_seconds=0.6)
        with (
            httpx.Client(base_url=f"{server.url}/Api/v3", timeout=0.2) as client,
            pytest.raises(httpx.TimeoutException),
        ):
            client.post(
                "/contatos",
                json={"nome": "Cliente atrasado", "situacao": "A", "tipo": "F"},
                headers={"Authorization": f"Bearer {token['access_token']}"},
            )
        deadline = time.monotonic() + 3
        while not state.contacts and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(state.contacts) == 1, "the timed-out create never landed"
    finally:
        server.stop()


def test_a_token_refresh_that_times_out_after_bling_rotated_it_keeps_the_authorization(
    local_app: Any, sims: Simulators
) -> None:
    app = local_app(bling={**sims.settings_overrides()["bling"], "timeout_seconds": 0.3})
    stale = app.bling_tokens.access_token()
    sims.bling.expire_access_tokens()
    sims.bling.faults.configure(timeout_rate=1.0, timeout_seconds=0.8)  # the token endpoint is slow
    # the token call has its own long timeout (bling.token_timeout_seconds): it waits for the slow
    # answer instead of giving up after Bling already rotated the refresh token
    fresh = app.bling_tokens.refreshed_after_rejection(stale)
    assert fresh != stale
    sims.bling.faults.reset()
    list(app.bling.iter_contacts(criterio=1))  # any later call: still authorized


class Capture:
    def __init__(self) -> None:
        self.published: list[Envelope] = []

    def publish(self, envelope: Envelope) -> None:
        self.published.append(envelope)


def test_the_bling_contact_poller_makes_progress_under_errors(local_app: Any, sims: Simulators) -> None:
    contacts = seed_bling_contacts(sims.bling, 60, rng_seed=5)
    app = local_app(customers={"direction": "bling_to_auvo"})
    publisher = Capture()
    poller = BlingContactPoller(
        app.bling_client(throttled=False), publisher, app.store, tenant=app.tenant, overlap_seconds=5
    )
    sims.bling.faults.configure(error_rate=0.2, seed=5)
    for _ in range(40):  # 20 s of polling at the tests' 0.5 s interval
        with contextlib.suppress(IntegrationError):
            poller.poll_once()
    assert {e.entity_id for e in publisher.published} == {str(c["id"]) for c in contacts}


class StoreWithOneDroppedConnection:
    """The leader lease's store, whose first `try_lock` meets a connection PostgreSQL just closed."""

    def __init__(self) -> None:
        self.calls = 0

    def try_lock(self, name: str, owner: str, ttl_seconds: float) -> bool:
        self.calls += 1
        if self.calls == 1:
            raise OperationalError(
                "SELECT locks.owner ...", {}, Exception("server closed the connection unexpectedly")
            )
        return True

    def unlock(self, name: str, owner: str) -> None:
        pass


class CountingPoller:
    name = "counting"

    def __init__(self) -> None:
        self.passes = 0

    def poll_once(self) -> int:
        self.passes += 1
        return 0


def test_the_poll_loop_survives_a_database_error_in_the_leader_check() -> None:
    poller = CountingPoller()
    leader = LeaderLease(StoreWithOneDroppedConnection(), "default", ttl_seconds=30)
    stop = threading.Event()
    thread = threading.Thread(target=run_poll_loop, args=(poller, 0.02, stop, leader), daemon=True)
    thread.start()
    deadline = time.monotonic() + 3
    while poller.passes < 3 and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(5)
    assert poller.passes >= 3, "the poller thread died on one database error"
