"""Coverage-guided fuzzing (atheris) of the parsers of outside input, for longer runs by hand.

    python bench/fuzz_inputs.py auvo     [CORPUS_DIR] [libFuzzer options: -runs=200000 -max_len=4096]
    python bench/fuzz_inputs.py bling    ...
    python bench/fuzz_inputs.py envelope ...

`auvo` and `bling` post the fuzzer's bytes as the body to the webhook route, with the right secret
or signature so the bytes reach past authenticity, through the Starlette app in-process; `envelope`
hands them to the bus runner as one delivery. A CORPUS_DIR is seeded with real bodies first. A broken
rule (a 5xx for a body, a write or a publish for a refused one, a secret in an answer, a crash or a
retry of a malformed message) raises, and libFuzzer keeps the input as crash-*. The hypothesis suite
(tests/fuzz) holds the same rules in CI; this finds what generated shapes do not reach. Needs the
`test` extra (atheris, hypothesis); run from the repository's root with PYTHONPATH=.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports(include=["producers", "contracts", "infra"]):
    import structlog

    from infra.bus.topology import TO_BLING_CONTACTS
    from producers.webhooks.verification import bling_signature
    from tests.fuzz.test_fuzz_bus import Delivery, is_malformed, recording_worker
    from tests.fuzz.world import AUVO_SECRET, SECRET, receiver_app


def _quiet() -> None:
    def drop(*_: Any) -> Any:
        raise structlog.DropEvent

    structlog.configure(processors=[drop])


def webhook_target(route: str) -> Any:
    driver, recorder, store = receiver_app(Path(tempfile.mkdtemp(prefix="fuzz-")) / "store.sqlite3")

    def one(data: bytes) -> None:
        recorder.published.clear()
        store.calls.clear()
        if route == "auvo":
            answer = driver.post(f"/webhooks/auvo/{AUVO_SECRET}", [data], [])
        else:
            headers = [(b"x-bling-signature-256", bling_signature(data, SECRET).encode())]
            answer = driver.post("/webhooks/bling", [data], headers)
        if answer.status >= 500:
            raise AssertionError(f"{answer.status} for a body: {answer.body[:200]!r}")
        if SECRET.encode() in answer.body or AUVO_SECRET.encode() in answer.body:
            raise AssertionError("a secret in the answer")
        if answer.status >= 400 and (recorder.published or store.writes()):
            raise AssertionError(f"a refused body published or wrote {store.writes()}")

    return one


def envelope_target() -> Any:
    worker, published, held = recording_worker()

    def one(data: bytes) -> None:
        published.raw.clear()
        held.scheduled.clear()
        delivery = Delivery(data, {}, TO_BLING_CONTACTS.event_type)
        worker.process(TO_BLING_CONTACTS, worker.handlers[TO_BLING_CONTACTS], delivery)  # type: ignore[arg-type]
        if delivery.acks != 1 or delivery.rejects:
            raise AssertionError("not acked exactly once")
        if is_malformed(data, TO_BLING_CONTACTS.event_type) and (held.scheduled or len(published.raw) != 1):
            raise AssertionError("a malformed message was retried or not dead-lettered once")

    return one


def seeds(name: str) -> list[bytes]:
    """Real bodies to start from: random bytes alone almost never get past `json.loads`."""
    from tests.fuzz.test_fuzz_bus import TEMPLATES
    from tests.fuzz.world import AUVO_NOW, CUSTOMER, TASK

    if name == "envelope":
        return [t.to_json() for t in TEMPLATES]
    if name == "auvo":
        return [
            json.dumps(
                {
                    "result": {
                        "EntityType": kind,
                        "Action": "Alteracao",
                        "EntityId": record.get("id", 1),
                        "Date": AUVO_NOW,
                        "Entities": [record],
                    }
                }
            ).encode()
            for kind, record in (("Cliente", CUSTOMER), ("Tarefas", TASK))
        ]
    return [
        json.dumps({"event": event, "date": "2025-03-10T15:00:00Z", "data": {"id": 16_000_000_001}}).encode()
        for event in ("order.deleted", "product.deleted", "proposal.updated")
    ]


def main() -> None:
    targets = {
        "auvo": lambda: webhook_target("auvo"),
        "bling": lambda: webhook_target("bling"),
        "envelope": envelope_target,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in targets:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(targets)}}} [libFuzzer options]")
    _quiet()
    corpus = [Path(a) for a in sys.argv[2:] if not a.startswith("-")]
    for directory in corpus[:1]:  # libFuzzer reads its first corpus directory and writes finds there
        directory.mkdir(parents=True, exist_ok=True)
        for index, body in enumerate(seeds(sys.argv[1])):
            (directory / f"seed-{index}").write_bytes(body)
    target = targets[sys.argv[1]]()
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
