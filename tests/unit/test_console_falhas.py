"""The Falhas pages over the index (no broker): groups and their live JSON, a group's messages, a
message in full with the link to its story, the count shown before an action, export, and roles."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.bus.dlq_index import entry_of
from infra.bus.dlq_records import DeadLetter
from infra.store import Store
from tests.console_support import add_users, client_for, console_settings, csrf_of, sign_in

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    store = Store(f"sqlite:///{tmp_path}/console.sqlite3")
    add_users(store)
    yield store
    store.dispose()


@pytest.fixture
def settings(store: Store) -> Any:
    return console_settings(store.url, tenants={"acme": {"enabled": True}, "beta": {"enabled": True}})


def index(
    store: Store, n: int, *, tenant: str = "acme", cls: str = "AuvoApiDeactivated", age: int = 60
) -> None:
    body = json.dumps(
        {
            "event_id": f"ev-{tenant}-{n}",
            "type": "auvo.task.status_reached",
            "entity_id": str(4000 + n),
            "tenant": tenant,
            "payload": {"taskID": 4000 + n},
        }
    )
    headers = {
        "x-consumer": "to-bling.orders",
        "x-error-class": cls,
        "x-error-message": f"task {4000 + n}: Object reference not set to an instance of an object.",
        "x-hint": "a API do Auvo está desativada",
        "x-attempts": 1,
        "x-dead-lettered-at": (NOW - timedelta(seconds=age)).isoformat(),
    }
    store.index_dead_letters([entry_of(DeadLetter.from_message(body.encode(), headers))])


def test_groups_page_and_its_json_count_one_cause_across_companies(settings: Any, store: Store) -> None:
    for n in range(3):
        index(store, n)
    index(store, 9, tenant="beta")
    index(store, 5, cls="BlingValidation", age=7200)
    client = client_for(settings, store)
    sign_in(client, "vera")
    page = client.get("/falhas")
    assert page.status_code == 200
    assert (
        "AuvoApiDeactivated" in page.text and "acme, beta" in page.text and "/static/falhas.js" in page.text
    )
    data = client.get("/falhas/groups.json").json()
    assert [(g["error_class"], g["count"], g["tenants"]) for g in data["groups"]] == [
        ("AuvoApiDeactivated", 4, ["acme", "beta"]),
        ("BlingValidation", 1, ["acme"]),
    ]
    assert data["total"] == 5
    assert client.get("/falhas/groups.json?company=beta").json()["total"] == 1
    assert client.get("/falhas/groups.json?age=1h").json()["total"] == 1  # older than an hour
    assert client.get("/falhas/groups.json?q=4009").json()["total"] == 1
    assert client.get("/companies/beta/falhas").text.count('data-fingerprint="') == 1
    index(store, 3)
    assert client.get("/falhas/groups.json").json()["groups"][0]["count"] == 5  # what the page polls


def test_a_group_opens_to_its_messages_and_a_message_to_its_detail(settings: Any, store: Store) -> None:
    index(store, 1)
    client = client_for(settings, store)
    sign_in(client, "vera")
    [group] = client.get("/falhas/groups.json").json()["groups"]
    listing = client.get(f"/falhas/group/{group['fingerprint']}")
    assert "ev-acme-1" in listing.text and "4001" in listing.text
    assert 'name="key"' not in listing.text  # a viewer gets no selection nor buttons
    detail = client.get(
        "/falhas/letter", params={"tenant": "acme", "consumer": "to-bling.orders", "id": "ev-acme-1"}
    )
    assert detail.status_code == 200
    assert "&#34;taskID&#34;: 4001" in detail.text and "x-error-class" in detail.text
    assert 'href="/companies/acme/why?q=4001"' in detail.text
    assert (
        client.get("/falhas/letter", params={"tenant": "acme", "consumer": "x", "id": "y"}).status_code == 404
    )
    export = client.get("/falhas/export.jsonl")
    [line] = export.text.splitlines()
    assert json.loads(line)["id"] == "ev-acme-1"


def test_an_operator_sees_the_count_before_confirming_and_a_viewer_cannot_act(
    settings: Any, store: Store
) -> None:
    for n in range(4):
        index(store, n)
    index(store, 8, tenant="beta")
    client = client_for(settings, store)
    sign_in(client, "vera")
    fp = client.get("/falhas/groups.json").json()["groups"][0]["fingerprint"]
    form = {"csrf_token": csrf_of(client, "/falhas"), "scope": "group", "fingerprint": fp, "action": "replay"}
    assert client.post("/falhas/actions", data=form).status_code == 403
    operator = client_for(settings, store)
    sign_in(operator, "otto")
    form["csrf_token"] = csrf_of(operator, "/falhas")
    confirm = operator.post("/falhas/actions", data=form)
    assert confirm.status_code == 200
    assert (
        '<strong class="confirm-count">5</strong>' in confirm.text
        and 'name="confirm" value="yes"' in confirm.text
    )
    selected = operator.post(
        "/falhas/actions", data={**form, "scope": "selected", "key": ["acme|to-bling.orders|ev-acme-1"]}
    )
    assert '<strong class="confirm-count">1</strong>' in selected.text
    assert store.dlq_operations_recent() == []  # nothing ran before the confirm
