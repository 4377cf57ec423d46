"""What keeping each record's history (infra/store/history.py) costs the store, measured in one run.

Counted with SQLAlchemy's engine events on a real store (SQLite file, or PostgreSQL with `--pg`):
statements sent and transactions committed

- per handled event: the consumers' shared mechanics (consumers/base.py: processed check, entity
  lock, version check, the one commit), with the history row and without it (the row disabled);
- per task-poller pass over `--tasks` tasks, half of them left out by a rule: the first pass (every
  decision new) and a second pass over the same, unchanged tasks (nothing new: nothing written).

    python bench/history_cost.py [--events 200] [--tasks 500] [--pg postgresql://postgres@127.0.0.1:5432/postgres]

With `--pg` (a server URL) a throw-away database is created on that server and dropped afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from consumers.base import CREATED, HandlerBase, Outcome
from contracts.envelope import Envelope
from contracts.events import auvo_task_status_reached
from contracts.options import TaskStatus
from infra.store import Store, normalise_database_url
from producers.auvo_tasks import AuvoTaskPoller
from producers.task_selection import TaskRules

TENANT = "bench"
ROUNDS = 3


def median_of(runs: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    return tuple(statistics.median(r[i] for r in runs) for i in range(3))  # type: ignore[return-value]


class Counts:
    def __init__(self) -> None:
        self.statements = 0
        self.commits = 0


@contextmanager
def counting(store: Store) -> Iterator[Counts]:
    counts = Counts()

    def on_statement(*_: Any) -> None:
        counts.statements += 1

    def on_commit(*_: Any) -> None:
        counts.commits += 1

    event.listen(store.engine, "before_cursor_execute", on_statement)
    event.listen(store.engine, "commit", on_commit)
    try:
        yield counts
    finally:
        event.remove(store.engine, "before_cursor_execute", on_statement)
        event.remove(store.engine, "commit", on_commit)


class Orders(HandlerBase):
    consumer = "sales.task_to_pedido"

    def apply(self, envelope: Envelope) -> Outcome:
        return Outcome(CREATED, link=("task", envelope.entity_id, f"9{envelope.entity_id}"))


def task(task_id: int, valued: bool) -> dict[str, Any]:
    unit = 10.0 if valued else 0.0
    return {
        "taskID": task_id,
        "customerId": 1,
        "taskType": 1,
        "finished": True,
        "checkOut": True,
        "dateLastUpdate": "2026-12-02T09:00:00",
        "products": [{"code": "FA-01", "quantity": 1, "unitaryValue": unit, "totalValue": unit}],
    }


class Source:
    def __init__(self, tasks: list[dict[str, Any]]) -> None:
        self.tasks = tasks

    def iter_tasks(self, *_: Any, **__: Any) -> Iterator[dict[str, Any]]:
        return iter(self.tasks)

    def iter_group_clients(self, group_id: int | str) -> Iterator[dict[str, Any]]:
        return iter(())


class Nowhere:
    def publish(self, envelope: Envelope) -> None:
        pass


def handled_cost(store: Store, events: int, *, history: bool, offset: int) -> tuple[float, float, float]:
    handler = Orders(store)
    if not history:
        store.add_history = lambda *a, **k: None  # type: ignore[method-assign]
    envelopes = [
        auvo_task_status_reached(task(offset + i, True), "finished_automatically", tenant=TENANT)
        for i in range(events)
    ]
    began = time.perf_counter()
    with counting(store) as counts:
        for envelope in envelopes:
            handler(envelope)
    seconds = time.perf_counter() - began
    if not history:
        del store.add_history  # type: ignore[attr-defined]
    return counts.statements / events, counts.commits / events, 1000 * seconds / events


def poll_cost(store: Store, tasks: int) -> list[tuple[int, int, int]]:
    rules = TaskRules(enabled=True, status=TaskStatus.all)
    source = Source([task(100_000 + i, valued=i % 2 == 0) for i in range(tasks)])
    poller = AuvoTaskPoller(source, Nowhere(), store, rules, tenant=TENANT)
    out = []
    for _ in range(2):
        with counting(store) as counts:
            poller.poll_once()
        out.append((counts.statements, counts.commits, len(store.history_subjects(TENANT, ["100000"]))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--pg", help="a PostgreSQL URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    with database(args.pg) as url:
        run(url, args, backend="postgresql" if args.pg else "sqlite")


@contextmanager
def database(server: str | None) -> Iterator[str]:
    """A temporary SQLite file, or a throw-away PostgreSQL database on `server` (dropped after)."""
    if server is None:
        yield f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.sqlite3'}"
        return
    name = f"history_bench_{int(time.time())}"
    admin = create_engine(normalise_database_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield (
            make_url(normalise_database_url(server)).set(database=name).render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def run(url: str, args: argparse.Namespace, *, backend: str) -> None:
    store = Store(url)
    try:
        # alternating rounds: the time per event drifts with the machine's load and the file's growth
        runs: dict[bool, list[tuple[float, float, float]]] = {False: [], True: []}
        for i in range(2 * ROUNDS):
            runs[i % 2 == 1].append(
                handled_cost(store, args.events, history=i % 2 == 1, offset=i * args.events)
            )
        without, with_history = (median_of(runs[False]), median_of(runs[True]))
        print(
            f"store: {backend}; {ROUNDS} alternating rounds of {args.events} handled events each way (median)"
        )
        print("per handled event          statements  commits  ms")
        print(f"  without the history row   {without[0]:>9.2f}  {without[1]:>7.2f}  {without[2]:.2f}")
        w = with_history
        print(f"  with the history row      {w[0]:>9.2f}  {w[1]:>7.2f}  {w[2]:.2f}")
        first, second = poll_cost(store, args.tasks)
        print(f"task poller, {args.tasks} tasks (half left out by a rule), statements / commits per pass")
        print(f"  first pass (all new)      {first[0]:>9}  {first[1]:>7}")
        print(f"  second pass (unchanged)   {second[0]:>9}  {second[1]:>7}")
    finally:
        store.dispose()


if __name__ == "__main__":
    main()
