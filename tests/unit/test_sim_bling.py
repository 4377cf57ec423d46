"""Behaviour of the Bling simulator: OAuth2, limits, scopes, contatos and the other resources."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from starlette.testclient import TestClient

from simulators.bling import ALL_SCOPES, BlingState, create_bling_app
from simulators.bling.common import FIRST_ID
from simulators.seed import seed_bling_contacts, seed_bling_extras
from simulators.server import serve_in_thread
from simulators.tax_ids import is_valid_cnpj, is_valid_cpf, only_digits

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CLIENT_ID, SECRET, REDIRECT = "app-1", "s3cret", "http://localhost:8765/callback"


class FakeClock:
    """A hand-driven Brasília clock, so expiries, windows and dataAlteracao are exact."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def basic(client_id: str = CLIENT_ID, secret: str = SECRET) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2024, 5, 10, 9, 0, 0))


@pytest.fixture
def state(clock: FakeClock) -> BlingState:
    s = BlingState(clock=clock, rate_limit_per_second=10_000)
    s.register_app(CLIENT_ID, SECRET, REDIRECT)
    return s


@pytest.fixture
def client(state: BlingState) -> Iterator[TestClient]:
    with TestClient(create_bling_app(state)) as c:
        yield c


@pytest.fixture
def auth(state: BlingState) -> dict[str, str]:
    return {"Authorization": f"Bearer {state.grant_tokens(CLIENT_ID)['access_token']}"}


def get_code(client: TestClient, state_param: str = "xyz") -> str:
    r = client.get(
        "/Api/v3/oauth/authorize",
        follow_redirects=False,
        params={"response_type": "code", "client_id": CLIENT_ID, "state": state_param},
    )
    assert r.status_code == 302
    return parse_qs(urlparse(r.headers["location"]).query)["code"][0]


def token_call(client: TestClient, headers: dict[str, str] | None = None, **form: str) -> httpx.Response:
    return client.post("/Api/v3/oauth/token", data=form, headers=headers if headers is not None else basic())


def error_type(r: httpx.Response) -> str:
    return r.json()["error"]["type"]


# --- OAuth2 ---------------------------------------------------------------------------------------


def test_authorize_redirects_with_code_and_state(client: TestClient) -> None:
    r = client.get(
        "/Api/v3/oauth/authorize",
        follow_redirects=False,
        params={"response_type": "code", "client_id": CLIENT_ID, "state": "abc"},
    )
    assert r.status_code == 302
    location = urlparse(r.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["abc"] and query["code"][0]


def test_authorize_rejects_unknown_client_and_response_type(client: TestClient) -> None:
    r = client.get("/Api/v3/oauth/authorize", params={"response_type": "code", "client_id": "nope"})
    assert r.status_code == 400 and error_type(r) == "invalid_client"
    r = client.get("/Api/v3/oauth/authorize", params={"response_type": "token", "client_id": CLIENT_ID})
    assert r.status_code == 400


def test_authorize_can_simulate_a_user_refusing(client: TestClient, state: BlingState) -> None:
    state.deny_authorization = True
    r = client.get(
        "/Api/v3/oauth/authorize",
        follow_redirects=False,
        params={"response_type": "code", "client_id": CLIENT_ID, "state": "s"},
    )
    assert parse_qs(urlparse(r.headers["location"]).query) == {"error": ["access_denied"], "state": ["s"]}


def test_code_exchange_answers_tokens_and_code_is_single_use(client: TestClient, state: BlingState) -> None:
    code = get_code(client)
    r = token_call(client, grant_type="authorization_code", code=code)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "scope", "refresh_token"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 21600
    assert set(body["scope"].split()) == set(ALL_SCOPES)
    again = token_call(client, grant_type="authorization_code", code=code)
    assert again.status_code == 400
    assert again.json() == {
        "error": {
            "type": "invalid_grant",
            "message": "invalid_grant",
            "description": "Invalid authorization code",
        }
    }
    assert state.token_calls == 2


def test_code_expires(client: TestClient, clock: FakeClock) -> None:
    code = get_code(client)
    clock.advance(seconds=61)
    assert error_type(token_call(client, grant_type="authorization_code", code=code)) == "invalid_grant"


def test_bad_client_credentials_are_401_invalid_client(client: TestClient) -> None:
    code = get_code(client)
    for headers in (basic(secret="wrong"), {}, {"Authorization": "Basic !!!"}):
        r = token_call(client, headers=headers, grant_type="authorization_code", code=code)
        assert r.status_code == 401 and error_type(r) == "invalid_client"


def test_token_endpoint_wants_a_form(client: TestClient) -> None:
    r = client.post("/Api/v3/oauth/token", json={"grant_type": "refresh_token"}, headers=basic())
    assert r.status_code == 400 and error_type(r) == "invalid_request"
    r = token_call(client, grant_type="password")
    assert r.status_code == 400 and error_type(r) == "unsupported_grant_type"


def test_refresh_rotates_and_old_refresh_token_dies(client: TestClient) -> None:
    first = token_call(client, grant_type="authorization_code", code=get_code(client)).json()
    second = token_call(client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    reuse = token_call(client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reuse.status_code == 400 and error_type(reuse) == "invalid_grant"
    third = token_call(client, grant_type="refresh_token", refresh_token=second.json()["refresh_token"])
    assert third.status_code == 200


def test_more_than_20_token_calls_a_minute_block_token_calls(
    client: TestClient, state: BlingState, clock: FakeClock
) -> None:
    statuses = [
        token_call(client, grant_type="refresh_token", refresh_token="x").status_code for _ in range(21)
    ]
    assert statuses == [400] * 20 + [429]
    clock.advance(minutes=30)
    blocked = token_call(client, grant_type="refresh_token", refresh_token="x")
    assert blocked.status_code == 429 and error_type(blocked) == "TOO_MANY_REQUESTS"
    clock.advance(minutes=31)
    assert token_call(client, grant_type="refresh_token", refresh_token="x").status_code == 400
    assert state.token_calls == 23


def test_revoked_authorization(client: TestClient, state: BlingState) -> None:
    tokens = token_call(client, grant_type="authorization_code", code=get_code(client)).json()
    state.revoke_authorization()
    r = token_call(client, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert r.status_code == 400 and error_type(r) == "invalid_grant"
    r = client.get("/Api/v3/contatos", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert r.status_code == 401 and error_type(r) == "invalid_token"


# --- auth, scopes and limits on data endpoints ----------------------------------------------------


def test_data_needs_a_valid_bearer(client: TestClient) -> None:
    r = client.get("/Api/v3/contatos")
    assert r.status_code == 401
    assert r.json()["error"] == {
        "type": "invalid_token",
        "message": "invalid_token",
        "description": "The access token provided is invalid",
    }


def test_access_token_expires(client: TestClient, auth: dict[str, str], clock: FakeClock) -> None:
    assert client.get("/Api/v3/contatos", headers=auth).status_code == 200
    clock.advance(seconds=21600)
    r = client.get("/Api/v3/contatos", headers=auth)
    assert r.status_code == 401 and "expired" in r.json()["error"]["description"]


def test_missing_scope_is_403(client: TestClient, state: BlingState) -> None:
    state.register_app("narrow", "x", REDIRECT, scopes=["contatos"])
    headers = {"Authorization": f"Bearer {state.grant_tokens('narrow')['access_token']}"}
    assert client.get("/Api/v3/contatos", headers=headers).status_code == 200
    r = client.get("/Api/v3/produtos", headers=headers)
    assert r.status_code == 403 and error_type(r) == "insufficient_scope"


def test_three_requests_per_second_then_429(clock: FakeClock) -> None:
    state = BlingState(clock=clock)
    state.register_app(CLIENT_ID, SECRET, REDIRECT)
    headers = {"Authorization": f"Bearer {state.grant_tokens(CLIENT_ID)['access_token']}"}
    with TestClient(create_bling_app(state)) as c:
        statuses = [c.get("/Api/v3/contatos", headers=headers).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        r = c.get("/Api/v3/contatos", headers=headers)
        assert set(r.json()["error"]) == {"type", "message", "description"}
        assert error_type(r) == "TOO_MANY_REQUESTS"
        clock.advance(seconds=1)
        assert c.get("/Api/v3/contatos", headers=headers).status_code == 200


def test_daily_cap(clock: FakeClock) -> None:
    state = BlingState(clock=clock, rate_limit_per_second=1000, daily_limit=5)
    state.register_app(CLIENT_ID, SECRET, REDIRECT)
    headers = {"Authorization": f"Bearer {state.grant_tokens(CLIENT_ID)['access_token']}"}
    with TestClient(create_bling_app(state)) as c:
        assert [c.get("/Api/v3/contatos", headers=headers).status_code for _ in range(6)][-1] == 429
        clock.advance(hours=15)  # next day in Brasília (the 6 h token has expired meanwhile)
        headers = {"Authorization": f"Bearer {state.grant_tokens(CLIENT_ID)['access_token']}"}
        assert c.get("/Api/v3/contatos", headers=headers).status_code == 200


# --- contatos -------------------------------------------------------------------------------------


BASE_KEYS = {"id", "nome", "codigo", "situacao", "numeroDocumento", "telefone", "celular"}


def test_list_pages_end_with_an_empty_page(
    client: TestClient, state: BlingState, auth: dict[str, str]
) -> None:
    seed_bling_contacts(state, 23, rng_seed=4)
    seen: list[int] = []
    for page in (1, 2, 3):
        data = client.get("/Api/v3/contatos", headers=auth, params={"pagina": page, "limite": 10}).json()[
            "data"
        ]
        assert all(set(item) == BASE_KEYS for item in data)
        seen += [item["id"] for item in data]
    assert len(seen) == 23 == len(set(seen))
    end = client.get("/Api/v3/contatos", headers=auth, params={"pagina": 4, "limite": 10})
    assert end.status_code == 200 and end.json() == {"data": []}
    assert all(i >= FIRST_ID for i in seen)


def test_limite_is_capped_at_100(client: TestClient, state: BlingState, auth: dict[str, str]) -> None:
    seed_bling_contacts(state, 130, rng_seed=1)
    data = client.get("/Api/v3/contatos", headers=auth, params={"limite": 500}).json()["data"]
    assert len(data) == 100


def test_numero_documento_compares_digits_only(
    client: TestClient, state: BlingState, auth: dict[str, str]
) -> None:
    formatted = state.add_contact(nome="A", tipo="F", numeroDocumento="529.982.247-25")
    plain = state.add_contact(nome="B", tipo="J", numeroDocumento="11444777000161")
    r = client.get("/Api/v3/contatos", headers=auth, params={"numeroDocumento": "52998224725"})
    assert [c["id"] for c in r.json()["data"]] == [formatted["id"]]
    r = client.get("/Api/v3/contatos", headers=auth, params={"numeroDocumento": "11.444.777/0001-61"})
    assert [c["id"] for c in r.json()["data"]] == [plain["id"]]


def test_data_alteracao_window_is_inclusive_and_follows_updates(
    client: TestClient, state: BlingState, auth: dict[str, str], clock: FakeClock
) -> None:
    early = state.add_contact(nome="Cedo", tipo="F")
    clock.advance(hours=1)
    late = state.add_contact(nome="Tarde", tipo="F")
    window = {"dataAlteracaoInicial": "2024-05-10 10:00:00", "dataAlteracaoFinal": "2024-05-10 10:00:00"}
    r = client.get("/Api/v3/contatos", headers=auth, params=window)
    assert [c["id"] for c in r.json()["data"]] == [late["id"]]
    clock.advance(minutes=10)
    state.update_contact(early["id"], email="novo@x.com")
    since = {"dataAlteracaoInicial": "2024-05-10 10:00:00"}
    r = client.get("/Api/v3/contatos", headers=auth, params=since)
    assert {c["id"] for c in r.json()["data"]} == {early["id"], late["id"]}
    bad = client.get("/Api/v3/contatos", headers=auth, params={"dataAlteracaoInicial": "ontem"})
    assert bad.status_code == 400


def test_ids_and_pesquisa(client: TestClient, state: BlingState, auth: dict[str, str]) -> None:
    a = state.add_contact(nome="Padaria Estrela", tipo="J", email="pao@estrela.com")
    b = state.add_contact(nome="Oficina", tipo="J", codigo="OF-9")
    state.add_contact(nome="Outro", tipo="F")
    r = client.get(
        "/Api/v3/contatos", headers=auth, params=[("idsContatos[]", a["id"]), ("idsContatos[]", b["id"])]
    )
    assert {c["id"] for c in r.json()["data"]} == {a["id"], b["id"]}
    assert [
        c["id"]
        for c in client.get("/Api/v3/contatos", headers=auth, params={"pesquisa": "estrela"}).json()["data"]
    ] == [a["id"]]
    assert [
        c["id"]
        for c in client.get("/Api/v3/contatos", headers=auth, params={"pesquisa": "OF-9"}).json()["data"]
    ] == [b["id"]]


def test_get_one_contact_and_404(client: TestClient, state: BlingState, auth: dict[str, str]) -> None:
    c = seed_bling_contacts(state, 1, rng_seed=9)[0]
    r = client.get(f"/Api/v3/contatos/{c['id']}", headers=auth)
    body = r.json()["data"]
    assert r.status_code == 200 and body["id"] == c["id"]
    assert {"email", "tipo", "endereco"} <= set(body) and "municipio" in body["endereco"]["geral"]
    missing = client.get("/Api/v3/contatos/123", headers=auth)
    assert missing.status_code == 404 and error_type(missing) == "RESOURCE_NOT_FOUND"


def test_post_creates_and_tracks_writes(
    client: TestClient, state: BlingState, auth: dict[str, str], clock: FakeClock
) -> None:
    r = client.post(
        "/Api/v3/contatos",
        headers=auth,
        json={
            "nome": "Nova Ltda",
            "tipo": "J",
            "situacao": "A",
            "numeroDocumento": "11444777000161",
            "email": "a@b.com",
            "endereco": {"geral": {"municipio": "Goiânia", "uf": "GO", "cep": "74000-000"}},
        },
    )
    assert r.status_code == 201
    new_id = r.json()["data"]["id"]
    assert isinstance(new_id, int) and new_id >= FIRST_ID
    assert state.contacts[new_id]["endereco"]["geral"]["uf"] == "GO"
    assert state.contacts[new_id]["_dataAlteracao"] == clock.now
    assert state.writes[("POST", "contatos")] == 1


def test_post_without_nome_or_tipo_is_400_validation_error(client: TestClient, auth: dict[str, str]) -> None:
    r = client.post("/Api/v3/contatos", headers=auth, json={"situacao": "A"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "VALIDATION_ERROR" and error["message"] and error["description"]
    assert {f["element"] for f in error["fields"]} == {"nome", "tipo"}
    assert all(set(f) == {"code", "msg", "element", "namespace", "collection"} for f in error["fields"])
    wrong_enum = client.post(
        "/Api/v3/contatos", headers=auth, json={"nome": "X", "tipo": "Z", "situacao": "A"}
    )
    assert wrong_enum.status_code == 400 and wrong_enum.json()["error"]["fields"][0]["element"] == "tipo"


def test_read_only_id_is_neither_required_nor_rejected(client: TestClient, auth: dict[str, str]) -> None:
    body = {"nome": "X", "tipo": "F", "situacao": "A"}
    assert client.post("/Api/v3/contatos", headers=auth, json=body).status_code == 201
    assert client.post("/Api/v3/contatos", headers=auth, json={**body, "id": 5}).status_code == 201


def test_bad_bodies(client: TestClient, auth: dict[str, str]) -> None:
    r = client.post(
        "/Api/v3/contatos",
        headers=auth,
        content=b"{oops",
    )
    assert r.status_code == 400 and error_type(r) == "INVALID_REQUEST_BODY"
    r = client.post("/Api/v3/contatos", headers=auth, content=b"")
    assert r.status_code == 400 and error_type(r) == "EMPTY_REQUEST_BODY"


def test_document_check_digits_when_enabled(
    client: TestClient, state: BlingState, auth: dict[str, str]
) -> None:
    body = {"nome": "X", "tipo": "F", "situacao": "A", "numeroDocumento": "123.456.789-10"}
    assert client.post("/Api/v3/contatos", headers=auth, json=body).status_code == 201
    state.validate_documents = True
    r = client.post("/Api/v3/contatos", headers=auth, json=body)
    assert r.status_code == 400 and r.json()["error"]["fields"][0]["element"] == "numeroDocumento"


def test_put_replaces_the_whole_contact(
    client: TestClient, state: BlingState, auth: dict[str, str], clock: FakeClock
) -> None:
    c = state.add_contact(nome="Antes", tipo="F", email="old@x.com", celular="(11) 99999-0000")
    clock.advance(minutes=5)
    r = client.put(
        f"/Api/v3/contatos/{c['id']}", headers=auth, json={"nome": "Depois", "tipo": "F", "situacao": "A"}
    )
    assert r.status_code == 204 and r.content == b""
    stored = state.contacts[c["id"]]
    assert stored["nome"] == "Depois" and stored["email"] == "" and stored["celular"] == ""
    assert stored["_dataAlteracao"] == clock.now and stored["_dataInclusao"] < clock.now
    missing = client.put("/Api/v3/contatos/1", headers=auth, json={"nome": "X", "tipo": "F", "situacao": "A"})
    assert missing.status_code == 404
    assert state.writes[("PUT", "contatos")] == 1


def test_delete_contact(client: TestClient, state: BlingState, auth: dict[str, str]) -> None:
    c = state.add_contact(nome="Tchau", tipo="F")
    assert client.delete(f"/Api/v3/contatos/{c['id']}", headers=auth).status_code == 204
    assert client.delete(f"/Api/v3/contatos/{c['id']}", headers=auth).status_code == 404


# --- the other resources --------------------------------------------------------------------------


def sale_body(contact_id: int) -> dict[str, Any]:
    return {
        "contato": {"id": contact_id},
        "data": "2024-05-10",
        "dataSaida": "2024-05-10",
        "dataPrevista": "2024-05-12",
        "itens": [
            {
                "codigo": "FA-01",
                "quantidade": 2,
                "valor": 35.9,
                "valorLista": 35.9,
                "descricao": "Filtro de ar",
            }
        ],
        "parcelas": [{"id": 0, "dataVencimento": "2024-06-10", "valor": 71.8, "formaPagamento": {"id": 1}}],
    }


def test_sales_orders(client: TestClient, state: BlingState, auth: dict[str, str]) -> None:
    contact = state.add_contact(nome="Cliente", tipo="F", numeroDocumento="529.982.247-25")
    r = client.post("/Api/v3/pedidos/vendas", headers=auth, json=sale_body(contact["id"]))
    assert r.status_code == 201
    sale_id = r.json()["data"]["id"]
    got = client.get(f"/Api/v3/pedidos/vendas/{sale_id}", headers=auth).json()["data"]
    assert got["totalProdutos"] == 71.8 and got["contato"]["nome"] == "Cliente"
    assert got["contato"]["numeroDocumento"] == "52998224725"
    put = client.put(f"/Api/v3/pedidos/vendas/{sale_id}", headers=auth, json=sale_body(contact["id"]))
    assert put.status_code == 200 and put.json()["data"]["id"] == sale_id
    listed = client.get("/Api/v3/pedidos/vendas", headers=auth, params={"idContato": contact["id"]}).json()[
        "data"
    ]
    assert [s["id"] for s in listed] == [sale_id]
    unknown = client.post("/Api/v3/pedidos/vendas", headers=auth, json=sale_body(42))
    assert unknown.status_code == 400 and unknown.json()["error"]["fields"][0]["element"] == "contato.id"


def test_sales_orders_filter_by_numeros_lojas(
    client: TestClient, state: BlingState, auth: dict[str, str]
) -> None:
    """`numerosLojas[]` (declared by the document's GET /pedidos/vendas) selects by `numeroLoja`."""
    contact = state.add_contact(nome="Cliente", tipo="F")
    ids = {}
    for marker in ("AUVO-TASK-1", "AUVO-TASK-2", ""):
        body = {**sale_body(contact["id"]), "numeroLoja": marker}
        ids[marker] = client.post("/Api/v3/pedidos/vendas", headers=auth, json=body).json()["data"]["id"]

    def listed(*markers: str) -> set[int]:
        params = [("numerosLojas[]", m) for m in markers]
        return {
            s["id"] for s in client.get("/Api/v3/pedidos/vendas", headers=auth, params=params).json()["data"]
        }

    assert listed("AUVO-TASK-2") == {ids["AUVO-TASK-2"]}
    assert listed("AUVO-TASK-1", "AUVO-TASK-2") == {ids["AUVO-TASK-1"], ids["AUVO-TASK-2"]}
    assert listed("AUVO-TASK-3") == set()
    assert listed() == set(ids.values())


def test_sales_order_validation_groups_item_errors(
    client: TestClient, state: BlingState, auth: dict[str, str]
) -> None:
    contact = state.add_contact(nome="Cliente", tipo="F")
    body = sale_body(contact["id"])
    del body["itens"][0]["valorLista"]
    r = client.post("/Api/v3/pedidos/vendas", headers=auth, json=body)
    field = r.json()["error"]["fields"][0]
    assert field["element"] == "itens"
    assert field["collection"][0]["index"] == 0 and field["collection"][0]["element"] == "valorLista"


def test_proposals_and_payables_and_products(
    client: TestClient, state: BlingState, auth: dict[str, str]
) -> None:
    contact = state.add_contact(nome="Cliente", tipo="J")
    proposal = {"contato": {"id": contact["id"]}, "itens": [{"quantidade": 1, "valor": 10.0}], "parcelas": []}
    r = client.post("/Api/v3/propostas-comerciais", headers=auth, json=proposal)
    assert r.status_code == 201
    pid = r.json()["data"]["id"]
    assert client.put(f"/Api/v3/propostas-comerciais/{pid}", headers=auth, json=proposal).status_code == 204
    payable = {"vencimento": "2024-06-01", "valor": 150.5, "contato": {"id": contact["id"]}}
    r = client.post("/Api/v3/contas/pagar", headers=auth, json=payable)
    assert r.status_code == 201
    cid = r.json()["data"]["id"]
    assert client.put(f"/Api/v3/contas/pagar/{cid}", headers=auth, json=payable).json() == {
        "data": {"id": cid}
    }
    product = {"nome": "Filtro", "tipo": "P", "situacao": "A", "formato": "S", "preco": 35.9, "codigo": "FA"}
    r = client.post("/Api/v3/produtos", headers=auth, json=product)
    assert r.status_code == 201
    prod_id = r.json()["data"]["id"]
    assert client.put(f"/Api/v3/produtos/{prod_id}", headers=auth, json=product).status_code == 200
    found = client.get("/Api/v3/produtos", headers=auth, params={"codigos[]": "FA"}).json()["data"]
    assert [p["id"] for p in found] == [prod_id]
    assert client.post("/Api/v3/produtos", headers=auth, json={"nome": "X"}).status_code == 400


def test_produtos_are_found_by_codigo_id_and_gtin_and_the_list_carries_no_gtin(
    client: TestClient, state: BlingState, auth: dict[str, str]
) -> None:
    """What the catalogue matching relies on (ProdutosDadosBaseDTO has no gtin; ProdutosDados has)."""
    base = {"tipo": "P", "situacao": "A", "formato": "S", "preco": 10.0, "nome": "Produto"}
    first = state.add_record("produtos", {**base, "codigo": "FA-01", "gtin": "7891234567895"})
    other = state.add_record("produtos", {**base, "codigo": "GR-410", "gtin": "7891000315507"})

    def ids(**params: object) -> list[int]:
        return [p["id"] for p in client.get("/Api/v3/produtos", headers=auth, params=params).json()["data"]]

    assert set(ids(**{"codigos[]": ["FA-01", "GR-410"]})) == {first["id"], other["id"]}
    assert ids(**{"idsProdutos[]": [str(other["id"])]}) == [other["id"]]
    assert ids(**{"gtins[]": ["7891234567895"]}) == [first["id"]]
    assert ids(**{"gtins[]": ["7890000000000"]}) == []
    listed = client.get("/Api/v3/produtos", headers=auth, params={"codigos[]": "FA-01"}).json()["data"]
    assert "gtin" not in listed[0]
    detail = client.get(f"/Api/v3/produtos/{first['id']}", headers=auth).json()["data"]
    assert detail["gtin"] == "7891234567895"


def test_seeded_extras_are_listed(client: TestClient, state: BlingState, auth: dict[str, str]) -> None:
    seed_bling_contacts(state, 5, rng_seed=2)
    seed_bling_extras(state, rng_seed=2)
    for path in ("produtos", "pedidos/vendas", "propostas-comerciais", "contas/pagar"):
        data = client.get(f"/Api/v3/{path}", headers=auth).json()["data"]
        assert data, path
        assert client.get(f"/Api/v3/{path}/{data[0]['id']}", headers=auth).status_code == 200


# --- faults and real HTTP -------------------------------------------------------------------------


def test_error_fault_uses_blings_envelope(
    client: TestClient, state: BlingState, auth: dict[str, str]
) -> None:
    state.faults.configure(error_rate=1.0, error_statuses=(503,))
    r = client.get("/Api/v3/contatos", headers=auth)
    assert r.status_code == 503 and error_type(r) == "SERVER_ERROR"
    state.faults.reset()
    assert client.get("/Api/v3/contatos", headers=auth).status_code == 200


def test_full_oauth_flow_over_http() -> None:
    state = BlingState()
    state.register_app(CLIENT_ID, SECRET, REDIRECT)
    state.add_contact(nome="Via HTTP", tipo="F")
    with (
        serve_in_thread(create_bling_app(state)) as server,
        httpx.Client(base_url=f"{server.url}/Api/v3") as http,
    ):
        r = http.get(
            "/oauth/authorize", params={"response_type": "code", "client_id": CLIENT_ID, "state": "s"}
        )
        assert r.status_code == 302
        code = parse_qs(urlparse(r.headers["location"]).query)["code"][0]
        tokens = http.post(
            "/oauth/token", data={"grant_type": "authorization_code", "code": code}, auth=(CLIENT_ID, SECRET)
        ).json()
        r = http.get("/contatos", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert r.json()["data"][0]["nome"] == "Via HTTP"


# --- seed data ------------------------------------------------------------------------------------


def test_seeded_contacts_are_deterministic_and_valid() -> None:
    a, b = BlingState(), BlingState()
    first, second = seed_bling_contacts(a, 60, rng_seed=8), seed_bling_contacts(b, 60, rng_seed=8)
    assert first == second
    docs = [only_digits(c["numeroDocumento"]) for c in first]
    assert "" in docs and any(len(d) == 11 for d in docs) and any(len(d) == 14 for d in docs)
    assert all(is_valid_cpf(d) for d in docs if len(d) == 11)
    assert all(is_valid_cnpj(d) for d in docs if len(d) == 14)
    assert any("." in c["numeroDocumento"] for c in first)  # some arrive formatted
    assert all(c["tipo"] in ("F", "J") for c in first)
    assert all(c["endereco"]["geral"]["cep"][5] == "-" for c in first)


def test_pesquisa_by_document_and_not_by_the_digits_of_an_email(
    client: TestClient, state: BlingState, auth: dict[str, str]
) -> None:
    """`pesquisa` finds a CPF/CNPJ typed with or without punctuation, but the digits inside an
    e-mail are not a document: searching `ana23@x.com` must not return every contato whose CPF
    contains 23 (a consumer reads each candidate in full, one request each)."""
    doc = state.add_contact(nome="Cliente Documento", tipo="F", numeroDocumento="12345678909")
    mail = state.add_contact(nome="Ana", tipo="F", email="ana23@x.com", numeroDocumento="11144477735")

    def found(term: str) -> list[int]:
        return [
            c["id"]
            for c in client.get("/Api/v3/contatos", headers=auth, params={"pesquisa": term}).json()["data"]
        ]

    assert found("123.456.789-09") == [doc["id"]]
    assert found("12345678909") == [doc["id"]]
    assert found("ana23@x.com") == [mail["id"]]  # "23" is in the other CPF too: not a match
