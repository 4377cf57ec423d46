"""Generated notifications against both webhook routes, through the real Starlette app.

The rule for every input: an answer below 500 (a 503 tells the sender to retry what it will send the
same way forever), nothing published and nothing written to the store when the answer is 4xx, and no
secret in the answer. Inputs are mostly near-valid (the right secret or signature, a fresh date, a real
notification shape with a few fields turned into something else), so they reach past the first check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.webhooks.verification import bling_signature
from tests.fuzz.asgi import AsgiDriver
from tests.fuzz.strategies import json_any, mutated, wire_forms
from tests.fuzz.support import CRASHES, INPUTS, LogLines, fuzz_settings
from tests.fuzz.world import (
    AUVO_NOW,
    AUVO_SECRET,
    CUSTOMER,
    SECRET,
    TASK,
    Recorder,
    WatchedStore,
    receiver_app,
)

FORMS = 10  # inputs sent per generated notification (itself, then damaged forms of it)
EXAMPLES = 10_000 // FORMS

# mostly fresh, so that most notifications pass the replay window and reach what is behind it
DATES = st.sampled_from([AUVO_NOW] * 6 + ["2025-03-10T15:00:00Z", "2025-03-10 12:00:00"]) | st.one_of(
    st.sampled_from(
        [
            AUVO_NOW,
            "2025-03-10T15:00:00Z",
            "2025-03-10 12:00:00",
            "",
            "amanhã",
            "0001-01-01T00:00:00",
            "9999-12-31T23:59:59",
            "2025-03-10T12:00:00+14:00",
            "2025-02-30T00:00:00",
            "2025-03-10T12:00:00.123456789",
        ]
    ),
    json_any,
)
# what an Auvo id can look like in a notification: real ones, and what a changed shape or a hostile
# sender puts there (the id ends up in an API path)
IDS = st.one_of(
    st.sampled_from([7_340_001, 9_100_001, "7340001", 0, -1, "", "../login/", "1/../../webHooks", 10**40]),
    json_any,
)


World = tuple[AsgiDriver, Recorder, WatchedStore, LogLines]


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, log_lines: LogLines
) -> Iterator[tuple[AsgiDriver, Recorder, WatchedStore, LogLines]]:
    driver, recorder, store = receiver_app(tmp_path_factory.mktemp("fuzz-hooks") / "store.sqlite3")
    yield driver, recorder, store, log_lines
    driver.close()
    store._store.engine.dispose()


@st.composite
def auvo_body(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["Cliente", "Tarefas", "Usuarios", "customer", "TAREFA", "Orcamento"]))
    template = TASK if kind.lower().startswith(("tare", "task")) else CUSTOMER
    result: dict[str, Any] = {
        "EntityType": draw(st.one_of(st.just(kind), json_any)) if draw(st.integers(0, 9)) == 0 else kind,
        "Action": draw(st.sampled_from(["Inclusao", "Alteracao", "Exclusao"]) | json_any),
        "EntityId": draw(IDS),
        "UserAdminId": 1001,
        "WebhookId": 301,
        "Date": draw(DATES),
        "Entities": draw(
            st.lists(mutated(template) | st.fixed_dictionaries({"id": IDS}), max_size=3) | json_any
        ),
    }
    result = draw(mutated(result)) if draw(st.booleans()) else result
    shape = draw(st.sampled_from(["wrapped", "wrapped", "bare", "any"]))
    if shape == "any":
        return draw(json_any)
    return {"result": result} if shape == "wrapped" else result


@st.composite
def bling_body(draw: st.DrawFn) -> Any:
    body: dict[str, Any] = {
        "eventId": "01945a88-0000-7000-8000-000000000001",
        "date": draw(st.sampled_from(["2025-03-10T15:00:00Z", "2025-03-10T12:00:00-03:00"] * 3) | DATES),
        "version": "v1",
        "event": draw(
            st.sampled_from(
                [
                    "order.created",
                    "order.deleted",
                    "product.deleted",
                    "proposal.deleted",
                    "pedido_venda.updated",
                    "invoice.created",
                    "order",
                    ".",
                    "x" * 100 + ".deleted",
                ]
            )
            | json_any
        ),
        "companyId": "abc",
        "data": draw(st.fixed_dictionaries({"id": IDS}) | json_any),
    }
    return draw(mutated(body)) if draw(st.booleans()) else body


def chunked(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(raw) + 1) for c in cuts})
    out, start = [], 0
    for point in points:
        out.append(raw[start:point])
        start = point
    out.append(raw[start:])
    return out


CONTENT_TYPES = st.sampled_from(
    [
        b"application/json",
        b"application/json; charset=utf-8",
        b"text/plain",
        b"application/x-www-form-urlencoded",
        b"multipart/form-data; boundary=x",
        b"",
        b"application/json; charset=latin-1",
    ]
)


@st.composite
def headers_for(draw: st.DrawFn, raw: bytes, extra: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    out = [(b"host", b"testserver"), (b"content-type", draw(CONTENT_TYPES)), *extra]
    length = draw(st.sampled_from(["right", "right", "none", "short", "long", "text", "huge"]))
    value = {
        "right": str(len(raw)).encode(),
        "short": str(max(0, len(raw) - 1)).encode(),
        "long": str(len(raw) + 10).encode(),
        "text": b"abc",
        "huge": b"9" * 40,
    }.get(length)
    if value is not None:
        out.append((b"content-length", value))
    return out


def check_answer(route: str, answer: Any, recorder: Recorder, store: WatchedStore, logged: str) -> None:
    INPUTS[route] += 1
    try:
        assert answer.status < 500, (answer.status, answer.body[:300])
        for secret in (SECRET, AUVO_SECRET):
            assert secret.encode() not in answer.body
            assert secret not in logged
        if answer.status >= 400:
            assert recorder.published == [], "a refused notification published"
            assert store.writes() == [], f"a refused notification wrote {store.writes()}"
        if answer.status not in (404, 405):  # Starlette's own answer when no route matched
            json.loads(answer.body)
    except AssertionError:
        CRASHES[route] += 1
        raise


@fuzz_settings(EXAMPLES)
@given(data=st.data())
def test_auvo_route(world: World, data: st.DataObject) -> None:
    driver, recorder, store, logs = world
    recorder.published.clear()
    store.calls.clear()
    forms = data.draw(auvo_body().flatmap(lambda v: wire_forms(v, FORMS)), label="bodies")
    secret = data.draw(
        st.sampled_from([AUVO_SECRET] * 8 + [AUVO_SECRET[:-1], "", "%2e%2e", AUVO_SECRET + "x"])
        | st.text(max_size=40),
        label="secret",
    ).replace("/", "")
    for raw in forms:
        headers = data.draw(headers_for(raw, []))
        cuts = data.draw(st.lists(st.integers(0, 10**6), max_size=3))
        answer = driver.post(f"/webhooks/auvo/{secret}", chunked(raw, cuts), headers)
        check_answer("/webhooks/auvo", answer, recorder, store, logs.take())
        recorder.published.clear()
        store.calls.clear()


@fuzz_settings(EXAMPLES)
@given(data=st.data())
def test_bling_route(world: World, data: st.DataObject) -> None:
    driver, recorder, store, logs = world
    recorder.published.clear()
    store.calls.clear()
    forms = data.draw(bling_body().flatmap(lambda v: wire_forms(v, FORMS)), label="bodies")
    how = data.draw(
        st.sampled_from(["right"] * 8 + ["upper", "none", "other", "bare", "spaces"]), label="sig"
    )
    for raw in forms:
        signature = {
            "right": bling_signature(raw, SECRET),
            "upper": bling_signature(raw, SECRET).upper(),
            "other": bling_signature(raw, "another-secret"),
            "bare": bling_signature(raw, SECRET).removeprefix("sha256="),
            "spaces": " " + bling_signature(raw, SECRET) + " ",
        }.get(how)
        extra = [] if signature is None else [(b"x-bling-signature-256", signature.encode())]
        headers = data.draw(headers_for(raw, extra))
        cuts = data.draw(st.lists(st.integers(0, 10**6), max_size=3))
        answer = driver.post("/webhooks/bling", chunked(raw, cuts), headers)
        check_answer("/webhooks/bling", answer, recorder, store, logs.take())
        recorder.published.clear()
        store.calls.clear()
