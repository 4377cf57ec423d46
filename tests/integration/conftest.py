"""Fixtures of the integration tests: the second company's simulators (multi-tenant tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulators.auvo import AuvoState, create_auvo_app
from simulators.bling import BlingState, create_bling_app
from simulators.server import serve_in_thread
from tests.support import CLIENT_ID, CLIENT_SECRET, REDIRECT, Simulators


@pytest.fixture
def other_sims() -> Iterator[Simulators]:
    """The second company's own Auvo and Bling accounts."""
    auvo = AuvoState(rate_limit_per_minute=6000)
    bling = BlingState(rate_limit_per_second=40, seed=2)  # issues other tokens than the first one
    bling.register_app(CLIENT_ID, CLIENT_SECRET, REDIRECT)  # the integrator's one Bling app
    auvo_server, bling_server = (
        serve_in_thread(create_auvo_app(auvo)),
        serve_in_thread(create_bling_app(bling)),
    )
    try:
        yield Simulators(auvo, bling, auvo_server, bling_server)
    finally:
        auvo_server.stop()
        bling_server.stop()
