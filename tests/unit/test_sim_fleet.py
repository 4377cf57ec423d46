"""The simulated fleet (simulators/fleet.py): many companies behind one port per provider, each a
separate account reached by our own clients under its path prefix, Bling's per-IP limits shared."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from infra.auvo.client import AuvoClient
from infra.bling.client import BlingClient
from infra.bling.oauth import exchange_code
from simulators.fleet import AccountRouter, Fleet, make_fleet
from simulators.server import RunningServer, serve_in_thread


class Tokens:
    def __init__(self, token: str) -> None:
        self.token = token

    def access_token(self) -> str:
        return self.token

    def refreshed_after_rejection(self, rejected: str) -> str:  # pragma: no cover - never 401 here
        return self.token


@pytest.fixture
def fleet() -> Fleet:
    return make_fleet(3, customers=2, bling_requests_per_second=100)


@pytest.fixture
def servers(fleet: Fleet) -> Iterator[tuple[RunningServer, RunningServer]]:
    auvo, bling = serve_in_thread(fleet.auvo_app()), serve_in_thread(fleet.bling_app())
    yield auvo, bling
    auvo.stop()
    bling.stop()


def test_each_company_is_its_own_account_under_its_prefix(
    fleet: Fleet, servers: tuple[RunningServer, RunningServer]
) -> None:
    auvo_server, bling_server = servers
    sections = fleet.tenant_sections(auvo_server.url, bling_server.url)
    assert sorted(sections) == ["t0001", "t0002", "t0003"]
    second = fleet.account("t0002")
    section = sections["t0002"]

    auvo = AuvoClient(section["auvo"]["base_url"], section["auvo"]["api_key"], section["auvo"]["api_token"])
    try:
        names = sorted(c["description"] for c in auvo.iter_customers())
    finally:
        auvo.close()
    assert names == sorted(c["description"] for c in second.auvo.customers.values())
    assert fleet.account("t0001").auvo.logins == 0 and second.auvo.logins == 1

    # another company's key is refused by this company's Auvo: the accounts do not leak
    other = fleet.account("t0003").auvo
    stranger = AuvoClient(section["auvo"]["base_url"], other.api_key, other.api_token)
    with pytest.raises(Exception, match="wrong Auvo API key or token"):
        stranger.check()
    stranger.close()

    token = second.bling.grant_tokens(second.client_id)["access_token"]
    with BlingClient(section["bling"]["base_url"], Tokens(token)) as bling:
        created = bling.create_contact({"nome": "Oficina Dois", "situacao": "A", "tipo": "J"})
        assert created in second.bling.contacts
        assert created not in fleet.account("t0001").bling.contacts
        assert {c["id"] for c in bling.iter_contacts()} == set(second.bling.contacts)


def test_the_oauth_dance_works_under_the_prefix(
    fleet: Fleet, servers: tuple[RunningServer, RunningServer]
) -> None:
    _, bling_server = servers
    account = fleet.account("t0003")
    code = account.bling.authorize(account.client_id)
    tokens = exchange_code(f"{bling_server.url}/t0003/Api/v3", account.client_id, account.client_secret, code)
    assert tokens.access_token in account.bling.access_tokens
    assert fleet.account("t0001").bling.access_tokens == {}


def test_bling_blocks_the_ip_whichever_company_the_token_calls_were_for(
    fleet: Fleet, servers: tuple[RunningServer, RunningServer]
) -> None:
    _, bling_server = servers
    first, second = fleet.account("t0001"), fleet.account("t0002")
    assert first.bling.ip is second.bling.ip
    limit = first.bling.ip.limit("token_calls")
    with httpx.Client(base_url=bling_server.url) as http:
        answers = [
            http.post("/t0001/Api/v3/oauth/token", auth=(first.client_id, first.client_secret),
                      data={"grant_type": "refresh_token", "refresh_token": "nope"}).status_code
            for _ in range(limit)
        ]
        assert 429 not in answers
        # the next token call is for another company, from the same IP: blocked all the same
        blocked = http.post("/t0002/Api/v3/oauth/token", auth=(second.client_id, second.client_secret),
                            data={"grant_type": "refresh_token", "refresh_token": "nope"})
    assert blocked.status_code == 429
    assert "token" in blocked.json()["error"]["description"]


def test_an_unknown_company_is_a_404_and_the_prefix_is_moved_to_root_path() -> None:
    seen: list[tuple[str, str, bytes]] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append((scope["path"], scope["root_path"], scope["raw_path"]))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    router = AccountRouter({"t0001": app})
    transport = httpx.ASGITransport(app=router)  # type: ignore[arg-type]

    async def go() -> tuple[int, int]:
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
            known = await client.get("/t0001/v2/customers/?page=2")
            unknown = await client.get("/t9999/v2/customers/")
            return known.status_code, unknown.status_code

    import asyncio

    assert asyncio.run(go()) == (204, 404)
    assert seen == [("/v2/customers/", "/t0001", b"/v2/customers/")]


def test_a_fleet_needs_a_company() -> None:
    with pytest.raises(ValueError):
        make_fleet(0)
