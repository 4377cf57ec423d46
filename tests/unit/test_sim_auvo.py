"""Behaviour of the Auvo simulator: the rules a client of the real Auvo API must cope with."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from simulators.auvo import API_DEACTIVATED_MESSAGE, AuvoState, create_auvo_app
from simulators.seed import seed_auvo_customers, seed_auvo_extras
from simulators.server import serve_in_thread
from simulators.tax_ids import is_valid_cnpj, is_valid_cpf

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY, TOKEN = "key-123", "token-456"


class FakeClock:
    """A hand-driven Brasília clock, so expiry, windows and dateLastUpdate are exact."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2024, 5, 10, 9, 0, 0))


@pytest.fixture
def state(clock: FakeClock) -> AuvoState:
    return AuvoState(KEY, TOKEN, clock=clock)


@pytest.fixture
def client(state: AuvoState) -> Iterator[TestClient]:
    with TestClient(create_auvo_app(state)) as c:
        yield c


def login(client: TestClient) -> dict[str, str]:
    r = client.get("/v2/login/", params={"apiKey": KEY, "apiToken": TOKEN})
    assert r.status_code == 200
    return {"Authorization": f"Bearer {r.json()['result']['accessToken']}"}


@pytest.fixture
def auth(client: TestClient) -> dict[str, str]:
    return login(client)


def customers_page(client: TestClient, auth: dict[str, str], **params: Any) -> httpx.Response:
    if "paramFilter" in params and not isinstance(params["paramFilter"], str):
        params["paramFilter"] = json.dumps(params["paramFilter"])
    return client.get("/v2/customers/", params=params, headers=auth)


# --- login and tokens -----------------------------------------------------------------------------


def test_login_get_answers_the_blueprint_envelope(client: TestClient) -> None:
    r = client.get("/v2/login/", params={"apiKey": KEY, "apiToken": TOKEN})
    result = r.json()["result"]
    assert r.status_code == 200
    assert result["authenticated"] is True
    assert result["message"] == "OK"
    assert result["created"] == "2024-05-10 09:00:00"
    assert result["expiration"] == "2024-05-10 09:30:00"
    assert result["accessToken"]


def test_login_post_with_json_body(client: TestClient) -> None:
    r = client.post("/v2/login/", json={"apiKey": KEY, "apiToken": TOKEN})
    assert r.status_code == 200 and r.json()["result"]["authenticated"] is True


def test_login_without_trailing_slash(client: TestClient) -> None:
    r = client.get("/v2/login", params={"apiKey": KEY, "apiToken": TOKEN})
    assert r.status_code == 200


def test_wrong_credentials_answer_200_not_authenticated(client: TestClient) -> None:
    r = client.get("/v2/login/", params={"apiKey": KEY, "apiToken": "wrong"})
    assert r.status_code == 200
    assert r.json()["result"]["authenticated"] is False
    assert not r.json()["result"].get("accessToken")


def test_unknown_key_can_answer_404_when_configured(client: TestClient, state: AuvoState) -> None:
    state.login_unknown_key_404 = True
    assert client.get("/v2/login/", params={"apiKey": "nope", "apiToken": TOKEN}).status_code == 404


def test_missing_api_key_is_400_like_the_blueprint(client: TestClient) -> None:
    r = client.get("/v2/login/", params={"apiToken": TOKEN})
    assert r.status_code == 400
    assert r.json() == {"apiKey": ["The value '\"\"' is not valid."]}


def test_requests_need_a_bearer_token(client: TestClient) -> None:
    assert client.get("/v2/customers/").status_code == 401
    assert client.get("/v2/customers/", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_token_expires_after_its_lifetime(client: TestClient, clock: FakeClock, state: AuvoState) -> None:
    state.add_customer("Cliente A")
    auth = login(client)
    assert customers_page(client, auth).status_code == 200
    clock.advance(minutes=29, seconds=59)
    assert customers_page(client, auth).status_code == 200
    clock.advance(seconds=1)
    assert customers_page(client, auth).status_code == 401
    assert customers_page(client, login(client)).status_code == 200


def test_token_lifetime_is_configurable(clock: FakeClock) -> None:
    state = AuvoState(KEY, TOKEN, token_ttl_seconds=60, clock=clock)
    with TestClient(create_auvo_app(state)) as c:
        r = c.get("/v2/login/", params={"apiKey": KEY, "apiToken": TOKEN})
        assert r.json()["result"]["expiration"] == "2024-05-10 09:01:00"


# --- deactivated API and rate limit ---------------------------------------------------------------


def test_deactivated_api_fails_login_and_calls_with_the_dotnet_message(
    client: TestClient, state: AuvoState, auth: dict[str, str]
) -> None:
    state.api_deactivated = True
    for r in (
        client.get("/v2/login/", params={"apiKey": KEY, "apiToken": TOKEN}),
        customers_page(client, auth),
    ):
        assert r.status_code == 500
        assert r.json() == {"message": API_DEACTIVATED_MESSAGE}
    assert API_DEACTIVATED_MESSAGE == "Object reference not set to an instance of an object."


def test_rate_limit_answers_403_and_recovers_after_the_window(
    client: TestClient, state: AuvoState, clock: FakeClock
) -> None:
    state.rate_limit_per_minute = 5
    statuses = [client.get("/v2/login/", params={"apiKey": KEY, "apiToken": TOKEN}) for _ in range(6)]
    assert [r.status_code for r in statuses] == [200] * 5 + [403]
    assert statuses[-1].json() == {"error": "Rate limit temporarily exceeded"}
    clock.advance(seconds=61)
    assert client.get("/v2/login/", params={"apiKey": KEY, "apiToken": TOKEN}).status_code == 200


def test_default_rate_limit_is_400_per_minute(state: AuvoState) -> None:
    assert state.rate_limit_per_minute == 400


# --- customers: lists -----------------------------------------------------------------------------


def test_list_pages_until_404(client: TestClient, state: AuvoState, auth: dict[str, str]) -> None:
    seed_auvo_customers(state, 25, rng_seed=3)
    sizes = []
    for page in (1, 2, 3):
        r = customers_page(client, auth, page=page, pageSize=10)
        assert r.status_code == 200
        result = r.json()["result"]
        sizes.append(len(result["entityList"]))
        assert result["pagedSearchReturnData"] == {"order": 0, "pageSize": 10, "page": page, "totalItems": 25}
        rels = [link["rel"] for link in result["links"]]
        assert rels == (["self", "nextPage"] if page < 3 else ["self"])
    assert sizes == [10, 10, 5]
    past_end = customers_page(client, auth, page=4, pageSize=10)
    assert past_end.status_code == 404 and past_end.content == b""


def test_list_defaults_and_page_size_cap(client: TestClient, state: AuvoState, auth: dict[str, str]) -> None:
    seed_auvo_customers(state, 120, rng_seed=1)
    default = customers_page(client, auth).json()["result"]
    assert len(default["entityList"]) == 10 and default["pagedSearchReturnData"]["page"] == 1
    capped = customers_page(client, auth, pageSize=500).json()["result"]
    assert len(capped["entityList"]) == 100 and capped["pagedSearchReturnData"]["pageSize"] == 100


def test_list_order_desc(client: TestClient, state: AuvoState, auth: dict[str, str]) -> None:
    seed_auvo_customers(state, 5, rng_seed=1)
    ids_asc = [c["id"] for c in customers_page(client, auth, order="asc").json()["result"]["entityList"]]
    ids_desc = [c["id"] for c in customers_page(client, auth, order=1).json()["result"]["entityList"]]
    assert ids_asc == sorted(ids_asc) and ids_desc == sorted(ids_asc, reverse=True)


def test_empty_result_is_404(client: TestClient, auth: dict[str, str]) -> None:
    assert customers_page(client, auth).status_code == 404


def test_filter_description_contains_and_external_ids(
    client: TestClient, state: AuvoState, auth: dict[str, str]
) -> None:
    state.add_customer("Padaria Pão Quente", externalId="A1")
    state.add_customer("Oficina do Zé", externalId="B2")
    state.add_customer("Padaria Central", externalId="C3")
    found = customers_page(client, auth, paramFilter={"description": "padaria"}).json()["result"][
        "entityList"
    ]
    assert {c["description"] for c in found} == {"Padaria Pão Quente", "Padaria Central"}
    by_ext = customers_page(client, auth, paramFilter={"externalId": "A1,B2"}).json()["result"]["entityList"]
    assert {c["externalId"] for c in by_ext} == {"A1", "B2"}


def test_filter_date_last_update_is_inclusive_and_follows_updates(
    client: TestClient, state: AuvoState, clock: FakeClock
) -> None:
    old = state.add_customer("Antigo")
    clock.advance(hours=1)
    new = state.add_customer("Novo")
    auth = login(client)
    since = {"dateLastUpdate": "2024-05-10T10:00:00"}
    found = customers_page(client, auth, paramFilter=since).json()["result"]["entityList"]
    assert [c["id"] for c in found] == [new["id"]]
    clock.advance(minutes=5)
    state.update_customer(old["id"], note="mudou")
    found = customers_page(client, auth, paramFilter=since).json()["result"]["entityList"]
    assert {c["id"] for c in found} == {old["id"], new["id"]}
    assert state.customers[old["id"]]["dateLastUpdate"] == "2024-05-10T10:05:00"


def test_filter_active_group_and_id(client: TestClient, state: AuvoState, auth: dict[str, str]) -> None:
    a = state.add_customer("A", active=True, groupsId=[7])
    state.add_customer("B", active=False)
    only = customers_page(client, auth, paramFilter={"active": False}).json()["result"]["entityList"]
    assert [c["description"] for c in only] == ["B"]
    grouped = customers_page(client, auth, paramFilter={"groupId": 7}).json()["result"]["entityList"]
    assert [c["id"] for c in grouped] == [a["id"]]
    by_id = customers_page(client, auth, paramFilter={"id": a["id"]}).json()["result"]["entityList"]
    assert [c["id"] for c in by_id] == [a["id"]]


def test_invalid_param_filter_is_400(client: TestClient, state: AuvoState, auth: dict[str, str]) -> None:
    state.add_customer("A")
    r = customers_page(client, auth, paramFilter="{not json")
    assert r.status_code == 400 and "paramFilter" in r.json()
    r = customers_page(client, auth, paramFilter={"dateLastUpdate": "ontem"})
    assert r.status_code == 400 and "dateLastUpdate" in r.json()


def test_selectfields_trims_entities(client: TestClient, state: AuvoState, auth: dict[str, str]) -> None:
    state.add_customer("A", cpfCnpj="52998224725")
    entity = customers_page(client, auth, selectfields="id,description").json()["result"]["entityList"][0]
    assert set(entity) == {"id", "description"}


# --- customers: single records and writes ---------------------------------------------------------


def test_get_one_customer(client: TestClient, state: AuvoState, auth: dict[str, str]) -> None:
    c = state.add_customer("Cliente", cpfCnpj="52998224725", contacts=[{"name": "Ana"}])
    r = client.get(f"/v2/customers/{c['id']}", headers=auth)
    assert r.status_code == 200
    body = r.json()["result"]
    assert body["description"] == "Cliente" and body["contacts"][0]["id"] > 0
    assert client.get("/v2/customers/999", headers=auth).status_code == 404
    bad = client.get("/v2/customers/x", headers=auth)
    assert bad.status_code == 400 and bad.json() == {"id": ["The value 'x' is not valid."]}


def test_post_creates_with_name(client: TestClient, state: AuvoState, auth: dict[str, str]) -> None:
    r = client.post(
        "/v2/customers/",
        headers=auth,
        json={
            "name": "Terêscio",
            "cpfCnpj": "90614997000162",
            "phoneNumber": ["5566123123"],
            "email": ["t@customer.com"],
            "contacts": [{"name": "c1", "email": "c1@x.com"}],
            "attachments": [{"name": "image.jpeg", "file": "aGVsbG8="}],
        },
    )
    assert r.status_code == 201
    body = r.json()["result"]
    assert body["description"] == body["name"] == "Terêscio"
    assert body["creationDate"] == body["dateLastUpdate"] == "2024-05-10T09:00:00"
    assert body["uriAnexos"][0].endswith(".jpeg")
    assert state.customers[body["id"]]["cpfCnpj"] == "90614997000162"
    assert state.writes[("POST", "customers")] == 1


def test_post_validation_errors(client: TestClient, auth: dict[str, str]) -> None:
    r = client.post("/v2/customers/", headers=auth, json={"description": "sem name"})
    assert r.status_code == 400 and r.json() == {"name": ["The Name field is required."]}
    r = client.post("/v2/customers/", headers=auth, json={"name": "X", "phoneNumber": "123"})
    assert r.status_code == 400 and "phoneNumber" in r.json()
    r = client.post("/v2/customers/", headers=auth, json={"name": "X", "contacts": [{"email": "a@b"}]})
    assert r.status_code == 400 and "contacts[0].name" in r.json()


def test_put_upserts_by_external_id_then_by_id(
    client: TestClient, state: AuvoState, auth: dict[str, str], clock: FakeClock
) -> None:
    created = client.put("/v2/customers/", headers=auth, json={"externalId": "E1", "description": "Um"})
    assert created.status_code == 201
    cid = created.json()["result"]["id"]
    clock.advance(minutes=1)
    updated = client.put("/v2/customers/", headers=auth, json={"externalId": "E1", "description": "Um B"})
    assert updated.status_code == 200
    result = updated.json()["result"]
    assert result["id"] == cid and result["description"] == "Um B"
    assert (
        result["dateLastUpdate"] == "2024-05-10T09:01:00" and result["creationDate"] == "2024-05-10T09:00:00"
    )
    by_id = client.put("/v2/customers/", headers=auth, json={"id": cid, "description": "Um C", "note": "n"})
    assert by_id.status_code == 200 and by_id.json()["result"]["note"] == "n"
    assert len(state.customers) == 1
    assert state.writes[("PUT", "customers")] == 3
    missing = client.put("/v2/customers/", headers=auth, json={"externalId": "E1"})
    assert missing.status_code == 400 and missing.json() == {
        "description": ["The Description field is required."]
    }


def test_patch_replaces_fields_and_bumps_date(
    client: TestClient, state: AuvoState, auth: dict[str, str], clock: FakeClock
) -> None:
    c = state.add_customer("Antes")
    clock.advance(minutes=3)
    ops = [
        {"op": "replace", "path": "description", "value": "Depois"},
        {"op": "replace", "path": "/cpfCnpj", "value": "52998224725"},
    ]
    r = client.patch(f"/v2/customers/{c['id']}", headers=auth, json=ops)
    assert r.status_code == 200
    body = r.json()["result"]
    assert body["description"] == "Depois" and body["cpfCnpj"] == "52998224725"
    assert body["dateLastUpdate"] == "2024-05-10T09:03:00"
    bad = client.patch(
        f"/v2/customers/{c['id']}", headers=auth, json=[{"op": "replace", "path": "nope", "value": 1}]
    )
    assert bad.status_code == 400
    assert client.patch("/v2/customers/999", headers=auth, json=ops).status_code == 404
    assert state.writes[("PATCH", "customers")] == 1


def test_delete_customer(client: TestClient, state: AuvoState, auth: dict[str, str]) -> None:
    c = state.add_customer("Tchau")
    assert client.delete(f"/v2/customers/{c['id']}", headers=auth).status_code == 204
    assert client.delete(f"/v2/customers/{c['id']}", headers=auth).status_code == 404
    assert c["id"] not in state.customers


# --- the other resources --------------------------------------------------------------------------


@pytest.fixture
def seeded(state: AuvoState) -> AuvoState:
    seed_auvo_customers(state, 12, rng_seed=5)
    seed_auvo_extras(state, rng_seed=5)
    return state


def test_tasks_need_start_and_end_dates(client: TestClient, seeded: AuvoState, auth: dict[str, str]) -> None:
    r = client.get("/v2/tasks/", headers=auth, params={"paramFilter": json.dumps({"status": 4})})
    assert r.status_code == 400 and set(r.json()) == {"startDate", "endDate"}
    assert client.get("/v2/tasks/", headers=auth).status_code == 400


def test_task_status_filter(client: TestClient, seeded: AuvoState, auth: dict[str, str]) -> None:
    def count(status: int) -> int:
        pf = {"startDate": "2024-01-01T00:00:00", "endDate": "2024-12-31T23:59:59", "status": status}
        r = client.get("/v2/tasks/", headers=auth, params={"paramFilter": json.dumps(pf), "pageSize": 100})
        return r.json()["result"]["pagedSearchReturnData"]["totalItems"] if r.status_code == 200 else 0

    total = len(seeded.records["tasks"])
    assert count(4) == total
    assert count(0) + count(3) == total
    assert count(1) + count(2) == count(3)


def test_finished_manually_is_a_finished_task_without_check_out(
    client: TestClient, state: AuvoState, auth: dict[str, str]
) -> None:
    """Filter 1 vs 2 reads the record's own fields, so a consumer can classify what it was given."""
    customer = state.add_customer("Cliente")
    auto = state.add_task(customer["id"], finished=True)
    manual = state.add_task(customer["id"], finished=True, finishedManually=True)
    open_ = state.add_task(customer["id"])
    assert (auto["checkOut"], manual["checkOut"], open_["checkOut"]) == (True, False, False)

    def ids(status: int) -> set[int]:
        now = state.now()
        pf = {
            "startDate": (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S"),
            "endDate": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S"),
            "status": status,
        }
        r = client.get("/v2/tasks/", headers=auth, params={"paramFilter": json.dumps(pf)})
        return {t["taskID"] for t in r.json()["result"]["entityList"]} if r.status_code == 200 else set()

    assert ids(0) == {open_["taskID"]}
    assert ids(1) == {auto["taskID"]}
    assert ids(2) == {manual["taskID"]}
    assert ids(3) == {auto["taskID"], manual["taskID"]}


def test_webhooks_list_requires_param_filter(
    client: TestClient, seeded: AuvoState, auth: dict[str, str]
) -> None:
    r = client.get("/v2/webHooks/", headers=auth, params={"page": 1, "pageSize": 1, "order": 1})
    assert r.status_code == 400
    assert r.json()["message"] == "The paramFilter is required as ParamUserFilter string json."
    ok = client.get("/v2/webHooks/", headers=auth, params={"paramFilter": "{}"})
    assert ok.status_code == 200


@pytest.mark.parametrize("resource", ["customerGroups", "taskTypes", "quotations", "products", "services"])
def test_other_lists_and_gets(
    client: TestClient, seeded: AuvoState, auth: dict[str, str], resource: str
) -> None:
    r = client.get(f"/v2/{resource}/", headers=auth)
    assert r.status_code == 200
    first = r.json()["result"]["entityList"][0]
    if resource != "customerGroups":
        id_key = {"quotations": "publicId", "products": "productId"}.get(resource, "id")
        one = client.get(f"/v2/{resource}/{first[id_key]}", headers=auth)
        assert one.status_code == 200 and one.json()["result"][id_key] == first[id_key]


def test_a_product_carries_code_external_id_and_specifications_by_guid_and_by_code(
    client: TestClient, state: AuvoState, auth: dict[str, str]
) -> None:
    """What the catalogue matching reads of an Auvo product (blueprint "Product"; the id is also `code`)."""
    guid = "6a1e1f52-b262-410a-a409-cc25ba92d001"
    spec = [{"name": "GTIN", "Specification": "7891234567895"}]
    state.add_record(
        "products",
        {"productId": guid, "code": "FA-01", "externalId": "5001", "productSpecifications": spec},
    )
    for ident in (guid, "FA-01"):
        record = client.get(f"/v2/products/{ident}", headers=auth).json()["result"]
        assert (record["productId"], record["code"], record["externalId"]) == (guid, "FA-01", "5001")
        assert record["productSpecifications"] == spec
    assert client.get("/v2/products/nope", headers=auth).status_code == 404


def test_group_clients(client: TestClient, state: AuvoState, auth: dict[str, str]) -> None:
    group = state.add_record("customerGroups", {"description": "VIP"})
    member = state.add_customer("Membro", groupsId=[group["id"]])
    state.add_customer("Outro")
    r = client.get(f"/v2/customerGroups/{group['id']}/clients/", headers=auth)
    assert [c["id"] for c in r.json()["result"]["entityList"]] == [member["id"]]
    assert client.get("/v2/customerGroups/999/clients/", headers=auth).status_code == 404


def test_expenses_filter_by_date(client: TestClient, seeded: AuvoState, auth: dict[str, str]) -> None:
    pf = {"startDate": "2024-05-10T00:00:00", "endDate": "2024-05-10T23:59:59"}
    r = client.get("/v2/expenses/", headers=auth, params={"paramFilter": json.dumps(pf)})
    assert r.status_code == 200 and len(r.json()["result"]["entityList"]) == 3
    pf = {"startDate": "2023-01-01T00:00:00", "endDate": "2023-01-02T00:00:00"}
    assert (
        client.get("/v2/expenses/", headers=auth, params={"paramFilter": json.dumps(pf)}).status_code == 404
    )


# --- faults ---------------------------------------------------------------------------------------


def test_faults_are_off_by_default_and_deterministic(clock: FakeClock) -> None:
    def statuses(seed: int) -> list[int]:
        state = AuvoState(KEY, TOKEN, clock=clock)
        state.faults.configure(error_rate=0.5, seed=seed)
        with TestClient(create_auvo_app(state)) as c:
            return [
                c.get("/v2/login/", params={"apiKey": KEY, "apiToken": TOKEN}).status_code for _ in range(20)
            ]

    first, again = statuses(7), statuses(7)
    assert first == again
    assert {500, 503} & set(first) and 200 in first
    assert AuvoState().faults.active is False


def test_latency_fault_slows_answers(client: TestClient, state: AuvoState) -> None:
    state.faults.configure(latency=0.2)
    import time

    started = time.monotonic()
    client.get("/v2/login/", params={"apiKey": KEY, "apiToken": TOKEN})
    assert time.monotonic() - started >= 0.2
    state.faults.reset()
    assert not state.faults.active


# --- over real HTTP -------------------------------------------------------------------------------


def test_serves_over_http_and_timeout_fault_trips_client_timeout() -> None:
    state = AuvoState(KEY, TOKEN)
    state.add_customer("HTTP")
    server = serve_in_thread(create_auvo_app(state))
    try:
        base = f"{server.url}/v2"
        with httpx.Client(base_url=base, timeout=2.0) as http:
            token = http.get("/login/", params={"apiKey": KEY, "apiToken": TOKEN}).json()["result"][
                "accessToken"
            ]
            r = http.get("/customers/", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200 and r.json()["result"]["entityList"][0]["description"] == "HTTP"
            state.faults.configure(timeout_rate=1.0, timeout_seconds=5)
            with pytest.raises(httpx.ReadTimeout):
                http.get("/customers/", headers={"Authorization": f"Bearer {token}"}, timeout=0.3)
    finally:
        state.faults.reset()
        server.stop()
    assert not server.thread.is_alive()


def test_two_simulators_run_side_by_side() -> None:
    a, b = AuvoState("ka", "ta"), AuvoState("kb", "tb")
    with serve_in_thread(create_auvo_app(a)) as sa, serve_in_thread(create_auvo_app(b)) as sb:
        assert sa.port != sb.port
        ra = httpx.get(f"{sa.url}/v2/login/", params={"apiKey": "ka", "apiToken": "ta"})
        rb = httpx.get(f"{sb.url}/v2/login/", params={"apiKey": "ka", "apiToken": "ta"})
        assert ra.json()["result"]["authenticated"] is True
        assert rb.json()["result"]["authenticated"] is False


# --- seed data ------------------------------------------------------------------------------------


def test_seeded_customers_are_deterministic_and_brazilian() -> None:
    a, b = AuvoState(), AuvoState()
    first = seed_auvo_customers(a, 60, rng_seed=11)
    second = seed_auvo_customers(b, 60, rng_seed=11)
    strip = [{k: v for k, v in c.items() if k not in ("creationDate", "dateLastUpdate")} for c in first]
    assert strip == [
        {k: v for k, v in c.items() if k not in ("creationDate", "dateLastUpdate")} for c in second
    ]
    docs = [c["cpfCnpj"] for c in first]
    cpfs = [d for d in docs if len(d) == 11]
    cnpjs = [d for d in docs if len(d) == 14]
    assert cpfs and cnpjs and "" in docs
    assert all(is_valid_cpf(d) for d in cpfs) and all(is_valid_cnpj(d) for d in cnpjs)
    assert all(c["phoneNumber"][0].isdigit() for c in first)
    assert all(" - " in c["address"] and "-" in c["address"].rsplit(",", 1)[1] for c in first)
