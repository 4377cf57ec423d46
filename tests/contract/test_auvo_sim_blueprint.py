"""The Auvo simulator answers with the envelopes and fields of the blueprint's own examples.

Why: the integration will also run against independent Auvo fakes built from the same blueprint, and
against the real API. If our simulator invented or dropped fields, the client could come to rely on
something only our fake does. So the examples are parsed out of `simulators/specs/auvo-v2.apib` (they are
loose JSON: a bare `"result": {...}`, missing and trailing commas - repaired here) and every key an
example shows must be in the simulator's answer, recursively (case-insensitively, since the examples
mix `adressComplement` and `AdressComplement`). Extra keys are allowed: several examples of the same
entity differ, and the simulator answers with the union.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from simulators.auvo import AuvoState, create_auvo_app
from simulators.documents import AUVO_BLUEPRINT, spec_file
from simulators.seed import seed_auvo_customers, seed_auvo_extras

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

APIB = spec_file(AUVO_BLUEPRINT)
KEY, TOKEN = "k", "t"
WIDE = json.dumps({"startDate": "2000-01-01T00:00:00", "endDate": "2100-01-01T00:00:00"})

# The blueprint spells one key two ways for task types; the simulator uses the model's spelling.
DOC_TYPOS = {"standarttime": "standardtime", "standartquestionnaireid": "standardquestionnaireid"}


# --- reading the blueprint ----------------------------------------------------------------------------


def section(title_fragment: str) -> str:
    """Text of the first `##`/`###` section whose heading contains the fragment."""
    text = APIB.read_text(encoding="utf-8")
    heading = next(m for m in re.finditer(r"^#{2,3} .*$", text, re.M) if title_fragment in m.group(0))
    following = re.search(r"^#{1,3} ", text[heading.end() :], re.M)
    return text[heading.start() : heading.end() + following.start()] if following else text[heading.start() :]


def example_bodies(title_fragment: str) -> list[dict[str, Any]]:
    """Every JSON body (Model, Response) of a section, parsed leniently; request bodies skipped."""
    text = section(title_fragment)
    bodies = []
    for block in _code_blocks(text):
        parsed = loose_json(block)
        if isinstance(parsed, dict):
            bodies.append(parsed)
    return bodies


def response_body(title_fragment: str, status: int = 200) -> dict[str, Any]:
    """The body of `+ Response <status>` in a section, or of its `+ Model` when it only links to it."""
    text = section(title_fragment)
    match = re.search(rf"\+ Response {status}\b(.*?)(?=\n\+ (?:Response|Request)|\Z)", text, re.S)
    assert match, f"no Response {status} in {title_fragment}"
    blocks = [b for b in _code_blocks(match.group(1)) if loose_json(b) is not None]
    if blocks:
        return loose_json(blocks[0])
    model = re.search(r"\[([^\]]+)\]\[\]", match.group(1))
    assert model, f"Response {status} of {title_fragment} has neither a body nor a model reference"
    return example_bodies(f"{model.group(1)} [")[0]


def _code_blocks(text: str) -> Iterator[str]:
    """Indented blocks (8+ spaces) that start with `{`, `[` or `"result"`."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith(("{", '"result"')) and len(line) - len(line.lstrip()) >= 8:
            indent = len(line) - len(line.lstrip())
            block = [line]
            i += 1
            while i < len(lines) and (
                not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) >= indent
            ):
                if lines[i].strip().startswith("+ "):
                    break
                block.append(lines[i])
                i += 1
            yield "\n".join(block)
        else:
            i += 1


def loose_json(block: str) -> Any:
    """The blueprint's example JSON with its typos repaired; None when it cannot be repaired."""
    text = block.strip()
    if text.startswith('"result"'):
        text = "{" + text + "}"
    text = re.sub(r'""([^",:\n]+),', r'"\1",', text)  # `""some description here,`
    text = re.sub(r"(\"|\d|true|false|null|\}|\])(\s*\n\s*)(\"|\{)", r"\1,\2\3", text)  # missing commas
    text = re.sub(r",(\s*[}\]])", r"\1", text)  # trailing commas
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


# --- comparing -------------------------------------------------------------------------------------------


def missing_keys(example: Any, actual: Any, where: str = "") -> list[str]:
    """Keys the example has and the answer lacks (lists: compared through their first items)."""
    if isinstance(example, dict):
        if not isinstance(actual, dict):
            return [f"{where} is {type(actual).__name__}, example has an object"]
        lowered = {k.lower(): v for k, v in actual.items()}
        out = []
        for key, value in example.items():
            name = DOC_TYPOS.get(key.lower(), key.lower())
            if name not in lowered:
                out.append(f"{where}.{key}")
            else:
                out += missing_keys(value, lowered[name], f"{where}.{key}")
        return out
    if isinstance(example, list) and example and isinstance(actual, list) and actual:
        return missing_keys(example[0], actual[0], f"{where}[0]")
    return []


# --- the simulator ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[TestClient, dict[str, str], AuvoState]]:
    state = AuvoState(KEY, TOKEN, rate_limit_per_minute=100_000)
    seed_auvo_customers(state, 15, rng_seed=21)
    seed_auvo_extras(state, rng_seed=21)
    first = next(iter(state.customers))
    state.update_customer(first, contacts=[{"name": "c", "email": "c@x.com"}], uriAnexos=["https://x/y.jpeg"])
    with TestClient(create_auvo_app(state)) as client:
        r = client.get("/v2/login/", params={"apiKey": KEY, "apiToken": TOKEN})
        yield client, {"Authorization": f"Bearer {r.json()['result']['accessToken']}"}, state


def test_examples_are_found_and_parsed() -> None:
    assert response_body("Retrieves a list of Customers")["result"]["entityList"]
    assert response_body("Retrieve a Customer")["result"]["id"] == 42


def test_login(api: tuple[TestClient, dict[str, str], AuvoState]) -> None:
    client, _, _ = api
    example = response_body("Retrieve a authentication - GET")
    r = client.get("/v2/login/", params={"apiKey": KEY, "apiToken": TOKEN})
    assert missing_keys(example, r.json()) == []
    assert set(r.json()["result"]) == set(example["result"])
    post = client.post("/v2/login/", json={"apiKey": KEY, "apiToken": TOKEN})
    assert missing_keys(response_body("Retrieve a authentication - POST"), post.json()) == []
    bad = client.get("/v2/login/", params={"apiToken": TOKEN})
    assert bad.status_code == 400 and bad.json() == response_body("Retrieve a authentication - GET", 400)


def test_customer_list_and_get(api: tuple[TestClient, dict[str, str], AuvoState]) -> None:
    client, auth, state = api
    listed = client.get("/v2/customers/", headers=auth, params={"pageSize": 2}).json()
    example = response_body("Retrieves a list of Customers")
    assert missing_keys(example, listed) == []
    assert set(listed["result"]) == set(example["result"])
    assert set(listed["result"]["pagedSearchReturnData"]) == set(example["result"]["pagedSearchReturnData"])
    one = client.get(f"/v2/customers/{next(iter(state.customers))}", headers=auth).json()
    assert missing_keys(response_body("Retrieve a Customer"), one) == []
    bad = client.get("/v2/customers/x", headers=auth)
    assert bad.json() == response_body("Retrieve a Customer", 400)


def test_customer_writes(api: tuple[TestClient, dict[str, str], AuvoState]) -> None:
    client, auth, _ = api
    post_example = response_body("Add a new Customer", 201)
    created = client.post(
        "/v2/customers/",
        headers=auth,
        json={
            "name": "Novo",
            "contacts": [{"name": "n", "email": "n@x.com"}],
            "attachments": [{"name": "a.pdf", "file": "aGk="}],
        },
    )
    assert created.status_code == 201 and missing_keys(post_example, created.json()) == []
    put_example = response_body("Upsert - Add a new Customer", 201)
    upserted = client.put(
        "/v2/customers/",
        headers=auth,
        json={
            "externalId": "BP-1",
            "description": "Upsert",
            "contacts": [{"name": "u"}],
            "attachments": [{"name": "b.png", "file": "aGk="}],
        },
    )
    assert upserted.status_code == 201 and missing_keys(put_example, upserted.json()) == []
    patch_example = response_body("Edit a Customer", 200)
    patched = client.patch(
        f"/v2/customers/{created.json()['result']['id']}",
        headers=auth,
        json=[{"op": "replace", "path": "description", "value": "description value"}],
    )
    assert patched.status_code == 200 and missing_keys(patch_example, patched.json()) == []


LISTS = [
    ("Retrieve a list of Customers group", "/v2/customerGroups/", {}),
    ("Retrieves a list of Task types", "/v2/taskTypes/", {}),
    ("Retrieves a list of Tasks", "/v2/tasks/", {"paramFilter": WIDE}),
    ("Retrieves a list of Quotations", "/v2/quotations/", {}),
    ("Retrieves a list of Products", "/v2/products/", {}),
    ("Retrieves a list of Services", "/v2/services/", {}),
    ("Retrieves a list of Expenses", "/v2/expenses/", {"paramFilter": WIDE}),
    ("Retrieve a list of Webhooks", "/v2/webHooks/", {"paramFilter": "{}"}),
]


@pytest.mark.parametrize(("title", "path", "params"), LISTS, ids=[p for _, p, _ in LISTS])
def test_resource_lists(
    api: tuple[TestClient, dict[str, str], AuvoState], title: str, path: str, params: dict[str, str]
) -> None:
    client, auth, _ = api
    r = client.get(path, headers=auth, params=params)
    assert r.status_code == 200
    assert missing_keys(response_body(title), r.json()) == []


GETS = [
    ("Task type [", "taskTypes", "id"),
    ("Task [/tasks/{id}]", "tasks", "taskID"),
    ("Quotation [", "quotations", "publicId"),
    ("Product [", "products", "productId"),
    ("Service [", "services", "id"),
    ("Expense [", "expenses", "id"),
    ("Webhook [", "webHooks", "id"),
]


@pytest.mark.parametrize(("title", "resource", "id_key"), GETS, ids=[r for _, r, _ in GETS])
def test_resource_models(
    api: tuple[TestClient, dict[str, str], AuvoState], title: str, resource: str, id_key: str
) -> None:
    client, auth, state = api
    record_id = next(iter(state.records[resource]))
    r = client.get(f"/v2/{resource}/{record_id}", headers=auth)
    assert r.status_code == 200
    model = example_bodies(title)[0]
    assert missing_keys(model, r.json()) == []


def test_group_clients_envelope(api: tuple[TestClient, dict[str, str], AuvoState]) -> None:
    client, auth, state = api
    group_id = next(
        g
        for g in state.records["customerGroups"]
        if any(g in c["groupsId"] for c in state.customers.values())
    )
    r = client.get(f"/v2/customerGroups/{group_id}/clients/", headers=auth)
    assert missing_keys(response_body("Retrieves a list of clients of the customer group"), r.json()) == []


def test_webhook_param_filter_error_matches(api: tuple[TestClient, dict[str, str], AuvoState]) -> None:
    client, auth, _ = api
    r = client.get("/v2/webHooks/", headers=auth, params={"page": 1, "pageSize": 1, "order": 1})
    assert r.json() == response_body("Retrieve a list of Webhooks", 400)
