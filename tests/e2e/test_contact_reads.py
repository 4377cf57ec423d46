"""The Bling contatos poller against the Bling simulator: at most 1.5 full reads (`GET /contatos/{id}`)
per changed contato, and never a missed change, including one committed late into a window already read.

The simulator and the poller share a hand-moved clock, so "5 s later" is exact and nothing sleeps.
Every request goes over HTTP to the simulator, which filters the lists by `dataAlteracao` itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.wiring import App
from contracts.envelope import Envelope
from producers.bling_contacts import BlingContactPoller
from simulators.seed import seed_bling_contacts
from tests.support import Simulators, build_settings

BRASILIA = timedelta(hours=-3)
OVERLAP = 30


class Capture:
    def __init__(self) -> None:
        self.published: list[Envelope] = []

    def publish(self, envelope: Envelope) -> None:
        self.published.append(envelope)

    def contents(self, contact_id: int) -> list[dict[str, object]]:
        return [e.payload["contact"] for e in self.published if e.entity_id == str(contact_id)]


class SharedClock:
    """UTC for the poller, naive Brasília time for the simulator."""

    def __init__(self) -> None:
        self.utc = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)

    def brasilia(self) -> datetime:
        return (self.utc + BRASILIA).replace(tzinfo=None)

    def tick(self, seconds: float) -> None:
        self.utc += timedelta(seconds=seconds)


@pytest.fixture
def setup(sims: Simulators, tmp_path: Path) -> Iterator[tuple[BlingContactPoller, Capture, SharedClock]]:
    clock = SharedClock()
    sims.bling.set_clock(clock.brasilia)
    seed_bling_contacts(sims.bling, 20, rng_seed=3)
    app = App(build_settings("memory://", f"sqlite:///{tmp_path / 'store.sqlite3'}", sims))
    authorize_headless(app)
    capture = Capture()
    poller = BlingContactPoller(
        app.bling_client(throttled=False),
        capture,
        app.store,
        tenant=app.tenant,
        overlap_seconds=OVERLAP,
        clock=lambda: clock.utc,
    )
    poller.poll_once()  # the first pass reads everything (the backfill of the poller)
    for _ in range(2):  # past the first pass's overlap (its settle re-read) and out of the memory
        clock.tick(OVERLAP + 5)
        poller.poll_once()
    assert not poller.memory.seen
    try:
        yield poller, capture, clock
    finally:
        app.close()


def passes(poller: BlingContactPoller, clock: SharedClock, count: int, every: float = 5.0) -> None:
    for _ in range(count):
        clock.tick(every)
        poller.poll_once()


def test_a_changed_contato_is_read_once_while_its_change_stays_in_the_overlap(
    setup: tuple[BlingContactPoller, Capture, SharedClock], sims: Simulators
) -> None:
    poller, capture, clock = setup
    ids = sorted(sims.bling.contacts)[:4]
    before = poller.full_reads
    clock.tick(2)
    for contact_id in ids:
        sims.bling.update_contact(contact_id, email="novo@exemplo.com.br")
    passes(poller, clock, count=10)  # 50 s at the fast interval: the changes are listed for 30 s
    reads = poller.full_reads - before
    assert reads / len(ids) <= 1.5, f"{reads} full reads for {len(ids)} changed contatos"
    for contact_id in ids:
        assert capture.contents(contact_id)[-1]["email"] == "novo@exemplo.com.br"


def test_a_change_committed_late_into_a_window_already_read_is_still_published(
    setup: tuple[BlingContactPoller, Capture, SharedClock], sims: Simulators
) -> None:
    poller, capture, clock = setup
    late, early = sorted(sims.bling.contacts)[5:7]
    sims.bling.update_contact(early, fantasia="Lida a tempo")  # read by the next pass
    stamp = sims.bling.contacts[early]["_dataAlteracao"]
    passes(poller, clock, count=2)  # both windows cover `stamp`; `late` is not visible yet
    assert capture.contents(early)[-1]["fantasia"] == "Lida a tempo"
    # ...now the other transaction commits, stamped inside the windows already read
    sims.bling.update_contact(late, fantasia="Commit atrasado")
    sims.bling.contacts[late]["_dataAlteracao"] = stamp
    passes(poller, clock, count=6)
    assert capture.contents(late), "the late-committed change was never published"
    assert capture.contents(late)[-1]["fantasia"] == "Commit atrasado"


def test_a_second_change_the_list_cannot_show_is_read_even_when_it_comes_within_the_overlap(
    setup: tuple[BlingContactPoller, Capture, SharedClock], sims: Simulators
) -> None:
    poller, capture, clock = setup
    contact_id = sorted(sims.bling.contacts)[8]
    sims.bling.update_contact(contact_id, email="primeiro@exemplo.com.br")
    passes(poller, clock, count=1)  # read at P, in the window ending at P - 2 s
    clock.tick(1)
    # e-mail is not in the list's fields: the list entry looks the same as at the first read; and
    # the windows' starts step over its stamp (P + 1; the first start after P - 2 is P + 3), so
    # only the settle check of the memory can see it
    sims.bling.update_contact(contact_id, email="segundo@exemplo.com.br")
    clock.tick(4)
    passes(poller, clock, count=9)
    assert capture.contents(contact_id)[-1]["email"] == "segundo@exemplo.com.br"


def test_a_change_of_a_listed_field_is_read_at_once(
    setup: tuple[BlingContactPoller, Capture, SharedClock], sims: Simulators
) -> None:
    poller, capture, clock = setup
    contact_id = sorted(sims.bling.contacts)[9]
    sims.bling.update_contact(contact_id, nome="Primeiro Nome")
    passes(poller, clock, count=1)
    sims.bling.update_contact(contact_id, nome="Segundo Nome")
    passes(poller, clock, count=1)
    assert capture.contents(contact_id)[-1]["nome"] == "Segundo Nome"


def test_a_contato_changed_again_after_a_quiet_spell_is_read_again(
    setup: tuple[BlingContactPoller, Capture, SharedClock], sims: Simulators
) -> None:
    poller, capture, clock = setup
    contact_id = sorted(sims.bling.contacts)[10]
    sims.bling.update_contact(contact_id, email="a@exemplo.com.br")
    passes(poller, clock, count=1)
    passes(poller, clock, count=3, every=32.0)  # stretched interval
    sims.bling.update_contact(contact_id, email="b@exemplo.com.br")
    passes(poller, clock, count=1, every=32.0)
    assert capture.contents(contact_id)[-1]["email"] == "b@exemplo.com.br"


def test_a_late_commit_for_a_contato_read_just_before_is_still_published(
    setup: tuple[BlingContactPoller, Capture, SharedClock], sims: Simulators
) -> None:
    """The hard case: the contato is in the memory (read a pass earlier), its new change is stamped
    inside a window already read and commits after that window's pass, touching no listed field."""
    poller, capture, clock = setup
    contact_id = sorted(sims.bling.contacts)[12]
    clock.tick(1)
    sims.bling.update_contact(contact_id, email="antes@exemplo.com.br")
    passes(poller, clock, count=1)  # read now (P), in the window ending at P - 2 s
    clock.tick(1)
    stamp = clock.brasilia()  # the second change is stamped here (P + 1)...
    clock.tick(4)
    passes(poller, clock, count=1)  # ...this pass's window covers it, but it is not committed yet
    sims.bling.update_contact(contact_id, email="depois@exemplo.com.br")
    sims.bling.contacts[contact_id]["_dataAlteracao"] = stamp  # ...and commits now
    passes(poller, clock, count=8)
    assert capture.contents(contact_id)[-1]["email"] == "depois@exemplo.com.br"
