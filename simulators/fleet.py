"""Many simulated companies behind one Auvo port and one Bling port: the shape of a deployment that
serves hundreds of tenants (issue 20), without hundreds of servers.

Each company is a whole, separate account (its own `AuvoState` / `BlingState`: credentials, records,
tokens, per-account rate and daily limits), reached under its own path prefix: company `t0007`'s
Auvo base URL is `http://HOST:PORT/t0007/v2` and its Bling one `http://HOST:PORT/t0007/Api/v3`.
Routing by path keeps every account's app exactly the single-account simulator, so nothing the
contract tests check changes for a fleet. What is shared is what the real providers share between
the companies of one integration host: Bling's per-IP limits (token calls, requests and errors),
which block the IP whoever the account, so all accounts count into one `IpLimits`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from simulators.auvo import AuvoState, create_auvo_app
from simulators.bling import BlingState, create_bling_app
from simulators.seed import seed_auvo_customers, seed_bling_contacts

REDIRECT_URI = "http://127.0.0.1:8765/callback"


class AccountRouter:
    """ASGI app: `/<account>/rest...` goes to that account's app with the prefix moved to
    `root_path`; an unknown account is a 404 with an empty body, as an unknown route is."""

    def __init__(self, apps: dict[str, ASGIApp]) -> None:
        self.apps = apps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        account, _, rest = scope["path"].lstrip("/").partition("/")
        app = self.apps.get(account)
        if app is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        prefix = f"/{account}"
        inner = dict(scope)
        inner["path"] = f"/{rest}"
        raw = scope.get("raw_path")
        if isinstance(raw, bytes) and raw.startswith(prefix.encode()):
            inner["raw_path"] = raw[len(prefix):] or b"/"
        inner["root_path"] = scope.get("root_path", "") + prefix
        await app(inner, receive, send)


@dataclass
class Account:
    """One simulated company: both providers' accounts and the credentials our settings need."""

    name: str
    auvo: AuvoState
    bling: BlingState
    client_id: str
    client_secret: str


@dataclass
class Fleet:
    """The companies, in order; `auvo_app()` / `bling_app()` serve them all on one port each."""

    accounts: list[Account] = field(default_factory=list)

    def account(self, name: str) -> Account:
        for account in self.accounts:
            if account.name == name:
                return account
        raise KeyError(name)

    def auvo_app(self) -> AccountRouter:
        return AccountRouter({a.name: create_auvo_app(a.auvo) for a in self.accounts})

    def bling_app(self) -> AccountRouter:
        return AccountRouter({a.name: create_bling_app(a.bling) for a in self.accounts})

    def tenant_sections(self, auvo_url: str, bling_url: str) -> dict[str, dict[str, Any]]:
        """`[tenants.<name>]` sections of a config file for these companies, given the two servers'
        URLs (without base path)."""
        return {
            a.name: {
                "auvo": {
                    "base_url": f"{auvo_url}/{a.name}/v2",
                    "api_key": a.auvo.api_key,
                    "api_token": a.auvo.api_token,
                },
                "bling": {
                    "base_url": f"{bling_url}/{a.name}/Api/v3",
                    "client_id": a.client_id,
                    "client_secret": a.client_secret,
                    "redirect_uri": REDIRECT_URI,
                },
            }
            for a in self.accounts
        }


def account_name(index: int) -> str:
    """`t0001`...: short, sortable, and a valid tenant name and URL segment."""
    return f"t{index:04d}"


def make_fleet(
    companies: int,
    *,
    customers: int = 5,
    bling_requests_per_second: int = 3,
    auvo_requests_per_minute: int = 400,
) -> Fleet:
    """`companies` accounts, each seeded with `customers` customers in Auvo and as many contatos in
    Bling (different data per company); Bling's per-IP limits shared by all of them."""
    if companies < 1:
        raise ValueError("a fleet needs at least one company")
    fleet = Fleet()
    shared_ip = None
    for index in range(1, companies + 1):
        name = account_name(index)
        auvo = AuvoState(f"sim-api-key-{index:04d}", f"sim-api-token-{index:04d}",
                         rate_limit_per_minute=auvo_requests_per_minute, seed=index)
        bling = BlingState(rate_limit_per_second=bling_requests_per_second, seed=index)
        if shared_ip is None:
            shared_ip = bling.ip
        bling.ip = shared_ip  # Bling blocks the IP, whichever company the request was for
        client_id, secret = f"sim-client-id-{index:04d}", f"sim-client-secret-{index:04d}"
        bling.register_app(client_id, secret, REDIRECT_URI)
        seed_auvo_customers(auvo, customers, rng_seed=2 * index)
        seed_bling_contacts(bling, customers, rng_seed=2 * index + 1)
        fleet.accounts.append(Account(name, auvo, bling, client_id, secret))
    return fleet
