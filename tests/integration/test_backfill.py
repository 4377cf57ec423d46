"""`auvo-bling backfill` through both simulators, on the real PostgreSQL.

The bus is not involved (the backfill writes directly), so these tests use the in-memory
transport URL and need no RabbitMQ.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.backfill.run import Backfill
from auvo_bling.backfill.summary import BackfillSummary
from auvo_bling.wiring import App
from consumers.customers.auvo_customer_writer import BlingContactToAuvoCustomer
from consumers.customers.contato_writer import AuvoCustomerToBlingContact
from consumers.customers.mapping import AUVO_MARKER_PREFIX
from consumers.customers.matching import Write, WriteKind
from contracts.envelope import Envelope
from infra.errors import ApiUnavailable
from producers import auvo_customers, bling_contacts
from simulators.seed import format_cnpj, format_cpf, format_phone, make_cnpj, make_cpf, make_party
from tests.support import Simulators, build_settings

pytestmark = pytest.mark.integration


# --- a world of customers that already exist on one or both sides --------------------------------


class World:
    """Builds customers and contatos that read the same through our mapping when paired."""

    def __init__(self, sims: Simulators, seed: int = 7) -> None:
        self.sims = sims
        self.rng = random.Random(seed)
        self.n = 0

    def _person(self, *, document: bool) -> dict[str, Any]:
        self.n += 1
        p = make_party(self.rng)
        doc = ""
        if document:
            doc = make_cpf(self.rng) if self.rng.random() < 0.5 else make_cnpj(self.rng)
        return {
            "name": f"{p.name} {self.n}",
            "document": doc,
            "email": f"cliente{self.n}@example.com.br",
            "phone": p.landline_digits,
            "mobile": p.mobile_digits,
            "street": p.street,
            "number": p.number,
            "bairro": p.bairro,
            "municipio": p.municipio,
            "uf": p.uf,
            "cep": p.cep,
            "complement": p.complement,
        }

    def auvo(self, p: dict[str, Any], **extra: Any) -> str:
        line = f"{p['street']}, {p['number']}, {p['bairro']}, {p['municipio']} - {p['uf']}, CEP {p['cep']}"
        fields = {
            "cpfCnpj": p["document"],
            "phoneNumber": [p["phone"], p["mobile"]],
            "email": [p["email"]],
            "address": line,
            "adressComplement": p["complement"],
            "active": True,
            **extra,
        }
        return str(self.sims.auvo.add_customer(p["name"], **fields)["id"])

    def bling(self, p: dict[str, Any], *, formatted: bool = False, **extra: Any) -> str:
        doc = p["document"]
        if doc and formatted:
            doc = format_cpf(doc) if len(doc) == 11 else format_cnpj(doc)
        address = {
            "endereco": p["street"],
            "numero": p["number"],
            "bairro": p["bairro"],
            "municipio": p["municipio"],
            "uf": p["uf"],
            "cep": p["cep"],
            "complemento": p["complement"],
        }
        fields = {
            "nome": p["name"],
            "situacao": "A",
            "numeroDocumento": doc,
            "telefone": format_phone(p["phone"]),
            "celular": format_phone(p["mobile"]),
            "tipo": "J" if len(p["document"]) == 14 else "F",
            "email": p["email"],
            "endereco": {"geral": address},
            **extra,
        }
        return str(self.sims.bling.add_contact(**fields)["id"])

    def on_both(self, *, document: bool = True, formatted: bool = False) -> tuple[str, str]:
        p = self._person(document=document)
        return self.auvo(p), self.bling(p, formatted=formatted)

    def auvo_only(self, **extra: Any) -> str:
        return self.auvo(self._person(document=True), **extra)

    def bling_only(self, *, document: bool = True) -> str:
        return self.bling(self._person(document=document))


# --- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture
def make_app(pg_url: str, sims: Simulators) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def make(direction: str = "both", **overrides: Any) -> App:
        settings = build_settings("memory://", pg_url, sims, customers={"direction": direction}, **overrides)
        app = App(settings)
        if not apps:
            authorize_headless(app)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def backfill(app: App, **kwargs: Any) -> BackfillSummary:
    return Backfill(
        app.store,
        app.auvo,
        app.bling,
        tenant=app.tenant,
        direction=app.direction,
        bling_quota_per_second=app.settings.bling.requests_per_second,
        **kwargs,
    ).run()


def writes(sims: Simulators) -> Counter[str]:
    out: Counter[str] = Counter()
    for (method, resource), n in sims.bling.writes.items():
        if resource == "contatos":
            out[f"bling {method}"] += n
    for (method, resource), n in sims.auvo.writes.items():
        if resource == "customers":
            out[f"auvo {method}"] += n
    return out


def bling_contact_calls(sims: Simulators) -> int:
    return sum(n for (_, resource), n in sims.bling.calls.items() if resource == "contatos")


def markers(sims: Simulators) -> Counter[str]:
    with sims.bling.lock:
        return Counter(
            c["codigo"]
            for c in sims.bling.contacts.values()
            if str(c.get("codigo")).startswith(AUVO_MARKER_PREFIX)
        )


def assert_one_to_one(app: App, sims: Simulators) -> None:
    """Every customer has exactly one contato and the other way round, all linked."""
    pairs = app.store.id_pairs(app.tenant, "customer")
    assert len(pairs) == len(sims.auvo.customers) == len(sims.bling.contacts)
    assert {p.auvo_id for p in pairs} == {str(i) for i in sims.auvo.customers}
    assert {p.bling_id for p in pairs} == {str(i) for i in sims.bling.contacts}
    assert all(n == 1 for n in markers(sims).values()), markers(sims).most_common(3)


# --- tests ---------------------------------------------------------------------------------------


def test_pre_existing_customers_are_linked_with_zero_creates_and_missing_ones_created_once(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    world = World(sims)
    by_document = [world.on_both(formatted=i % 3 == 0) for i in range(30)]  # a third formatted in Bling
    by_email = [world.on_both(document=False) for _ in range(10)]
    foreign_erp = world.auvo_only(externalId="ERP-3-17")  # another ERP's key is no Bling id
    auvo_only = [world.auvo_only() for _ in range(14)] + [foreign_erp]
    bling_only = [world.bling_only(document=i % 2 == 0) for i in range(12)]
    app = make_app("both")

    summary = backfill(app)

    assert summary.paired["document"] == 30
    assert summary.paired["email"] == 10
    assert summary.created_bling == len(auvo_only) == 15
    assert summary.created_auvo == len(bling_only) == 12
    assert summary.updated_bling == summary.updated_auvo == summary.differ_left == 0
    assert summary.held == {} and summary.failed == []
    assert writes(sims) == {"bling POST": 15, "auvo PUT": 12}  # nothing written for the 40 pairs
    links = {p.auvo_id: p.bling_id for p in app.store.id_pairs(app.tenant, "customer")}
    assert all(links[a] == b for a, b in by_document + by_email)
    assert_one_to_one(app, sims)
    # the Bling contatos read for e-mail matching are the document-less unpaired ones; those that
    # stayed unpaired were created in Auvo from that same read (not read twice)
    assert summary.email_reads == 10 + 6
    assert summary.extra_reads == 10
    assert summary.bling_calls == bling_contact_calls(sims)


def test_a_second_run_writes_nothing(make_app: Callable[..., App], sims: Simulators) -> None:
    world = World(sims, seed=11)
    for i in range(20):
        world.on_both(formatted=i % 2 == 0)
    for _ in range(5):
        world.on_both(document=False)
    for _ in range(8):
        world.auvo_only()
    for i in range(8):
        world.bling_only(document=i % 2 == 0)
    app = make_app("both")
    first = backfill(app)
    assert first.written == 16
    before, calls_before = writes(sims), bling_contact_calls(sims)

    second = backfill(make_app("both"))

    assert writes(sims) == before
    assert second.written == 0 and second.extra_reads == 0
    assert second.paired == {"id_map": 41, "marker": 0, "external_id": 0, "document": 0, "email": 0}
    assert bling_contact_calls(sims) - calls_before == second.bling_pages == 2  # one page and the empty one
    assert_one_to_one(app, sims)


def test_bling_calls_per_written_entity_stay_close_to_one(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    world = World(sims, seed=3)
    for _ in range(120):
        world.auvo_only()
    for _ in range(120):
        world.bling_only()
    app = make_app("both")

    summary = backfill(app)

    assert summary.written == 240
    ratio = bling_contact_calls(sims) / summary.written
    assert ratio <= 1.2, ratio
    assert summary.bling_calls == bling_contact_calls(sims)
    assert_one_to_one(app, sims)


def test_auvo_to_bling_writes_auvo_over_differing_contatos_and_leaves_bling_only_alone(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    world = World(sims, seed=5)
    same = [world.on_both() for _ in range(5)]
    renamed = [world.on_both() for _ in range(3)]
    for _, bling_id in renamed:
        sims.bling.update_contact(int(bling_id), nome="Nome antigo no Bling")
    email_only_diff = world.on_both()
    sims.bling.update_contact(int(email_only_diff[1]), email="outro@example.com")
    missing = [world.auvo_only() for _ in range(4)]
    lonely = world.bling_only()
    app = make_app("auvo_to_bling")

    summary = backfill(app)

    assert summary.paired["document"] == 9
    assert summary.created_bling == len(missing)
    assert summary.updated_bling == len(renamed)
    assert summary.created_auvo == summary.updated_auvo == 0
    assert summary.bling_only_not_written == 1
    assert writes(sims) == {"bling POST": 4, "bling PUT": 3}
    for auvo_id, bling_id in renamed:
        assert sims.bling.contacts[int(bling_id)]["nome"] == sims.auvo.customers[int(auvo_id)]["description"]
    # documented limit: a difference only in e-mail or address is not visible in Bling's list
    assert sims.bling.contacts[int(email_only_diff[1])]["email"] == "outro@example.com"
    assert app.store.auvo_id_for(app.tenant, "customer", lonely) is None
    assert len(same) == 5
    assert app.store.cursor(app.tenant, auvo_customers.CURSOR) is not None
    assert app.store.cursor(app.tenant, bling_contacts.CURSOR) is None  # its poller does not run


def test_bling_to_auvo_creates_and_updates_in_auvo_only(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    world = World(sims, seed=9)
    for _ in range(4):
        world.on_both(formatted=True)
    changed = world.on_both()
    sims.bling.update_contact(int(changed[1]), celular="(11) 91234-5678")
    new = [world.bling_only(document=i % 2 == 0) for i in range(5)]
    world.auvo_only()
    app = make_app("bling_to_auvo")

    summary = backfill(app)

    assert summary.created_auvo == len(new)
    assert summary.updated_auvo == 1
    assert summary.created_bling == summary.updated_bling == 0
    assert summary.auvo_only_not_written == 1
    assert writes(sims) == {"auvo PUT": 6}
    assert "11912345678" in sims.auvo.customers[int(changed[0])]["phoneNumber"]
    for bling_id in new:
        created = sims.auvo.find_customer_by_external_id(bling_id)
        assert created is not None
    start = datetime.fromisoformat(app.store.cursor(app.tenant, bling_contacts.CURSOR) or "")
    assert abs((datetime.now(UTC) - start).total_seconds()) < 60


class Crash(BaseException):
    """The process dies (not an error the run could handle)."""


def test_a_crash_between_create_and_commit_is_resumed_without_duplicates(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    world = World(sims, seed=13)
    for _ in range(6):
        world.on_both()
    for _ in range(25):
        world.auvo_only()
    for _ in range(5):
        world.bling_only()
    app = make_app("both")
    real_create = app.bling.create_contact
    created: list[int] = []

    def create_then_die_at_the_tenth(body: dict[str, Any]) -> int:
        contact_id = real_create(body)
        created.append(contact_id)
        if len(created) == 10:
            raise Crash  # Bling has it, our commit never happened
        return contact_id

    app.bling.create_contact = create_then_die_at_the_tenth  # type: ignore[method-assign]
    with pytest.raises(Crash):
        backfill(app)
    assert len(app.store.id_pairs(app.tenant, "customer")) == 6 + 9
    assert app.store.cursor(app.tenant, "backfill.phase") == "write"

    again = make_app("both")
    summary = backfill(again)

    assert summary.resumed_from is not None and summary.resumed_from.startswith("write")
    assert summary.paired["marker"] == 1  # the orphan of the crash, found by its AUVO-<id> code
    assert summary.created_bling == 25 - 10
    assert writes(sims)["bling POST"] == 25
    assert_one_to_one(again, sims)
    assert again.store.cursor(again.tenant, "backfill.phase") == "done"


def test_bling_failing_midway_stops_the_run_and_a_rerun_finishes_it(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    world = World(sims, seed=17)
    for _ in range(20):
        world.auvo_only()
    app = make_app("auvo_to_bling")
    real_create = app.bling.create_contact
    count = [0]

    def outage_after_eight(body: dict[str, Any]) -> int:
        count[0] += 1
        if count[0] == 8:
            sims.bling.faults.configure(error_rate=1.0, error_statuses=(503,))
        return real_create(body)

    app.bling.create_contact = outage_after_eight  # type: ignore[method-assign]
    with pytest.raises(ApiUnavailable):
        backfill(app, attempts=2, backoff_seconds=0.01)
    sims.bling.faults.reset()

    summary = backfill(make_app("auvo_to_bling"))

    assert summary.created_bling + 7 == 20
    assert writes(sims)["bling POST"] == 20
    assert all(n == 1 for n in markers(sims).values()) and len(markers(sims)) == 20


def test_a_create_that_timed_out_but_happened_is_found_by_marker_not_repeated(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    """Bling stored the contato but the answer never came (a read timeout): the retry looks first.

    The answer is lost in the client wrapper: the simulator's timeout fault reads the request body
    only after its delay, so a client that gave up leaves it nothing to store.
    """
    world = World(sims, seed=19)
    for _ in range(3):
        world.auvo_only()
    app = make_app("auvo_to_bling")
    real_create = app.bling.create_contact
    first = [True]

    def answer_lost_once(body: dict[str, Any]) -> int:
        contact_id = real_create(body)
        if first[0]:
            first[0] = False
            raise ApiUnavailable("Bling POST /contatos timed out (ReadTimeout)")
        return contact_id

    app.bling.create_contact = answer_lost_once  # type: ignore[method-assign]
    summary = backfill(app, backoff_seconds=0.01)

    assert summary.recovered_after_crash == 1
    assert summary.created_bling == 2
    assert writes(sims)["bling POST"] == 3
    assert len(markers(sims)) == 3 and all(n == 1 for n in markers(sims).values())


def test_a_noted_intent_looks_the_contato_up_before_creating(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    """A contato created after the index was read (by an interrupted run, or by the live consumer:
    the intent is the consumer's own) is found, not duplicated."""
    world = World(sims, seed=23)
    auvo_id = world.auvo_only()
    app = make_app("auvo_to_bling")
    job = Backfill(app.store, app.auvo, app.bling, tenant=app.tenant, direction=app.direction)
    job._index_auvo()
    job._index_bling()
    assert app.store.note_intent(app.tenant, AuvoCustomerToBlingContact.record, auvo_id) is False
    orphan = sims.bling.add_contact(nome="x", codigo=f"AUVO-{auvo_id}", situacao="A", tipo="F")

    job._apply(Write(WriteKind.CREATE_BLING, auvo_id=auvo_id))

    assert writes(sims)["bling POST"] == 0
    assert app.store.bling_id_for(app.tenant, "customer", auvo_id) == str(orphan["id"])
    assert job.summary.recovered_after_crash == 1


def test_after_the_backfill_the_pollers_echoes_are_dropped(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    world = World(sims, seed=29)
    for i in range(8):
        world.on_both(formatted=i % 2 == 0)
    for _ in range(6):
        world.auvo_only()
    for _ in range(6):
        world.bling_only()
    app = make_app("both")
    backfill(app)
    after_backfill = writes(sims)

    class Collect:
        def __init__(self) -> None:
            self.envelopes: list[Envelope] = []

        def publish(self, envelope: Envelope) -> None:
            self.envelopes.append(envelope)

    bus = Collect()
    auvo_customers.AuvoCustomerPoller(app.auvo, bus, app.store, overlap_seconds=5).poll_once()
    bling_contacts.BlingContactPoller(app.bling, bus, app.store, overlap_seconds=5).poll_once()
    to_bling = AuvoCustomerToBlingContact(app.store, app.bling)
    to_auvo = BlingContactToAuvoCustomer(app.store, app.auvo)
    outcomes = Counter((to_bling if e.type.startswith("auvo.") else to_auvo)(e) for e in bus.envelopes)

    assert bus.envelopes, "the overlap window re-reads the records the backfill just wrote"
    assert set(outcomes) <= {"skipped_echo", "unchanged"}, outcomes
    assert writes(sims) == after_backfill


def test_the_command_prints_a_json_summary_and_progress_on_stderr(
    make_app: Callable[..., App], sims: Simulators, pg_url: str
) -> None:
    world = World(sims, seed=31)
    for _ in range(3):
        world.on_both()
    for _ in range(4):
        world.auvo_only()
    make_app("both")  # authorizes Bling into this database
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUVO_BLING_")}
    env.update(
        sims.env(),
        DATABASE_URL=pg_url,
        AMQP_URL="memory://",
        AUVO_BLING_SECRET_KEY="test-secret-key-for-token-encryption",
        AUVO_BLING_CUSTOMERS__DIRECTION="auvo_to_bling",
        AUVO_BLING_LOG_LEVEL="warning",
    )
    result = subprocess.run(
        [sys.executable, "-m", "auvo_bling.cli", "backfill", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["created_bling"] == 4 and summary["paired"]["document"] == 3
    assert "[write] 4/4" in result.stderr
    dry = subprocess.run(
        [sys.executable, "-m", "auvo_bling.cli", "backfill", "--dry-run", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dry.returncode == 0, dry.stderr
    assert "would write nothing" in dry.stdout
    assert dry.stderr == ""


def test_an_ambiguous_document_is_held_by_the_backfill_as_by_the_consumers(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    """The same `match_key` as the live paths (tests/e2e/test_matching_paths.py): held, not created."""
    world = World(sims)
    p = world._person(document=True)
    customer = world.auvo(p)
    first, second = world.bling(p), world.bling({**p, "name": p["name"] + " (filial)"})
    app = make_app("auvo_to_bling")

    summary = backfill(app)

    assert set(summary.held) == {f"auvo {customer}", f"bling {first}", f"bling {second}"}
    assert summary.created_bling == 0 and writes(sims) == {}
    assert app.store.bling_id_for(app.tenant, "customer", customer) is None
