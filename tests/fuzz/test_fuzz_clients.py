"""Generated answers from Auvo and Bling, fed to our clients through httpx.MockTransport.

The providers change shapes without notice, put HTML error pages in front of their APIs and cut
answers short. The rule for every answer: the client returns records (dicts) or raises one of its
typed errors (infra.errors.IntegrationError), never anything else; no credential in the error; a
Retry-After it passes on is a finite, non-negative number of seconds; and paging ends.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st

from infra.auvo.client import AuvoClient
from infra.bling.client import BlingClient
from infra.errors import IntegrationError, RateLimited
from tests.fuzz.strategies import json_any, mutated
from tests.fuzz.support import CRASHES, INPUTS, fuzz_settings
from tests.fuzz.world import CUSTOMER

API_KEY = "auvo-api-key-fuzz-0123456789"
API_TOKEN = "auvo-api-token-fuzz-abcdefghij"
ACCESS = "auvo-access-token-fuzz-klmnopqrst"
BLING_TOKEN = "bling-access-token-fuzz-uvwxyz0123"
SECRETS = (API_KEY, API_TOKEN, ACCESS, BLING_TOKEN)
EXAMPLES = 400
CONTACT = {"id": 16_000_000_001, "nome": "Padaria Pão Quente", "numeroDocumento": "11222333000181"}

HTML = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
STATUSES = st.sampled_from([200] * 6 + [201, 204, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 302])
CONTENT_TYPES = st.sampled_from(
    ["application/json", "text/html", "text/plain", "", "application/json; charset=latin-1"]
)
RETRY_AFTER = st.sampled_from(
    [
        None,
        "2",
        "0",
        "-5",
        "abc",
        "1e400",
        "nan",
        "inf",
        "Wed, 21 Oct 2015 07:28:00 GMT",
        "Fri, 31 Dec 9999 23:59:59 GMT",
    ]
)


@st.composite
def answer(draw: st.DrawFn, good: Any) -> httpx.Response:
    """An answer: `good` (a body of the right shape) or a changed, damaged or foreign one."""
    value = draw(st.sampled_from(["good", "good", "mutated", "any"]))
    body_value = good if value == "good" else draw(mutated(good)) if value == "mutated" else draw(json_any)
    text = json.dumps(body_value, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass")
    how = draw(
        st.sampled_from(["clean"] * 4 + ["html", "truncated", "empty", "bare", "nested", "latin1", "huge"])
    )
    if how == "html":
        text = HTML
    elif how == "truncated":
        text = text[: draw(st.integers(0, max(0, len(text) - 1)))]
    elif how == "empty":
        text = b""
    elif how == "bare":  # the blueprint's `"result": {...}` without the braces around it
        text = text.strip()[1:-1] if text.startswith(b"{") else text
    elif how == "nested":
        text = b"[" * 5_000 + text + b"]" * 5_000
    elif how == "latin1":
        text = text + b"\xff\xfe"
    elif how == "huge":
        text = json.dumps({"result": {"entityList": [CUSTOMER] * 2_000}, "data": [CONTACT] * 2_000}).encode()
    headers = {"content-type": draw(CONTENT_TYPES)}
    retry_after = draw(RETRY_AFTER)
    if retry_after is not None:
        headers["retry-after"] = retry_after
    return httpx.Response(draw(STATUSES), content=text, headers=headers)


class Answers:
    """Hands out the generated answers in order, then the end of any list (so paging ends)."""

    def __init__(self, answers: list[httpx.Response], end: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers = answers
        self.end = end
        self.sent = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        assert self.sent < 200, "the client kept asking for pages"
        return self.answers.pop(0) if self.answers else self.end(request)


def check_outcome(parser: str, call: Callable[[], Any]) -> None:
    INPUTS[parser] += 1
    try:
        try:
            result = call()
        except IntegrationError as exc:
            text = f"{exc} {exc.diagnosis()}"
            for secret in SECRETS:
                assert secret not in text, f"{type(exc).__name__} shows a credential"
            if isinstance(exc, RateLimited) and exc.retry_after is not None:
                assert math.isfinite(exc.retry_after) and exc.retry_after >= 0, exc.retry_after
            return
        records = result if isinstance(result, list) else [result]
        assert all(isinstance(r, dict) for r in records if r is not None), type(result)
    except Exception:
        CRASHES[parser] += 1
        raise


LOGIN = {"result": {"authenticated": True, "accessToken": ACCESS, "expiration": "2099-01-01T00:00:00"}}
AUVO_LIST = {"result": {"entityList": [CUSTOMER], "pagedSearchReturnData": {"totalItems": 1}}}


@fuzz_settings(EXAMPLES)
@given(data=st.data())
def test_auvo_client(data: st.DataObject) -> None:
    login = data.draw(st.sampled_from(["good"] * 5 + ["generated"]), label="login")
    answers = [data.draw(answer(LOGIN))] if login == "generated" else []
    call = data.draw(st.sampled_from(["get", "list", "upsert"]), label="call")
    good = {"get": {"result": CUSTOMER}, "list": AUVO_LIST, "upsert": {"result": CUSTOMER}}[call]
    answers += data.draw(st.lists(answer(good), min_size=1, max_size=3), label="answers")

    def end(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login/":
            return httpx.Response(200, json=LOGIN)
        return httpx.Response(404, json={"message": "no more pages"})

    client = AuvoClient(
        "https://auvo.test/api/v2", API_KEY, API_TOKEN, transport=httpx.MockTransport(Answers(answers, end))
    )
    operation = {
        "get": lambda: client.get_customer(7_340_001),
        "list": lambda: list(client.iter_customers()),
        "upsert": lambda: client.upsert_customer({"externalId": "x", "description": "y"})[0],
    }[call]
    try:
        check_outcome("auvo client", operation)
    finally:
        client.close()


class FixedTokens:
    def access_token(self) -> str:
        return BLING_TOKEN

    def refreshed_after_rejection(self, rejected: str) -> str:
        return BLING_TOKEN


@fuzz_settings(EXAMPLES)
@given(data=st.data())
def test_bling_client(data: st.DataObject) -> None:
    call = data.draw(st.sampled_from(["get", "list", "create"]), label="call")
    good = {
        "get": {"data": CONTACT},
        "list": {"data": [CONTACT]},
        "create": {"data": {"id": 16_000_000_002}},
    }[call]
    answers = data.draw(st.lists(answer(good), min_size=1, max_size=3), label="answers")

    def end(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": []})

    client = BlingClient(
        "https://bling.test/Api/v3", FixedTokens(), transport=httpx.MockTransport(Answers(answers, end))
    )
    operation = {
        "get": lambda: client.get_contact(16_000_000_001),
        "list": lambda: list(client.iter_contacts()),
        "create": lambda: {"id": client.create_contact({"nome": "x"})},
    }[call]
    try:
        check_outcome("bling client", operation)
    finally:
        client.close()


TOKENS = {
    "access_token": BLING_TOKEN,
    "refresh_token": "r-fuzz-0123456789",
    "expires_in": 21600,
    "scope": "a b",
}


@fuzz_settings(EXAMPLES)
@given(data=st.data())
def test_bling_token_endpoint(data: st.DataObject) -> None:
    """The token endpoint's answers (refresh), whose numbers become datetimes."""
    from infra.bling.oauth import refresh_tokens

    good = dict(TOKENS)
    good["expires_in"] = data.draw(
        st.sampled_from([21600, "21600", 0, -1, 1e20, "1e400", "nan", None, True, [1]]), label="expires_in"
    )
    [response] = data.draw(st.lists(answer(good), min_size=1, max_size=1), label="answer")
    transport = httpx.MockTransport(lambda request: response)
    check_outcome(
        "bling token endpoint",
        lambda: (
            refresh_tokens(
                "https://bling.test/Api/v3/",
                "client-id",
                BLING_TOKEN + "-secret",
                "r-old-0123",
                transport=transport,
            ).__dict__
        ),
    )
