"""The store: replays, parks and purges of dead letters as operations a person can follow.

An operation row is written before the first message moves and advanced while it runs, so the
console lists its progress; a replayed copy carries the operation's id (`x-replay-operation`), and
when that copy is dead-lettered again the runner counts it in the operation's `failed_again`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from infra.store.base import StoreBase, utcnow
from infra.store.tables import dlq_operations


@dataclass(frozen=True)
class DlqOperation:
    id: int
    kind: str
    actor: str
    tenant: str | None
    selection: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None
    total: int
    done: int
    failed: int
    failed_again: int
    state: str
    detail: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            **{k: getattr(self, k) for k in self.__dataclass_fields__},
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


def _aware(at: datetime | None) -> datetime | None:
    return None if at is None else at if at.tzinfo else at.replace(tzinfo=UTC)


def _operation(r: Any) -> DlqOperation:
    return DlqOperation(
        id=r.id,
        kind=r.kind,
        actor=r.actor,
        tenant=r.tenant,
        selection=json.loads(r.selection),
        started_at=_aware(r.started_at) or utcnow(),
        finished_at=_aware(r.finished_at),
        total=r.total,
        done=r.done,
        failed=r.failed,
        failed_again=r.failed_again,
        state=r.state,
        detail=r.detail,
    )


class DlqOperations(StoreBase):
    def start_operation(
        self, kind: str, actor: str, selection: dict[str, Any], total: int, *, tenant: str | None = None
    ) -> int:
        with self.transaction() as conn:
            result = conn.execute(
                dlq_operations.insert().values(
                    kind=kind,
                    actor=actor[:200],
                    tenant=tenant,
                    selection=json.dumps(selection, ensure_ascii=False, default=str, sort_keys=True),
                    started_at=utcnow(),
                    total=total,
                    done=0,
                    failed=0,
                    failed_again=0,
                    state="running",
                )
            )
            return int(result.inserted_primary_key[0])

    def advance_operation(self, op_id: int, *, done: int, failed: int) -> None:
        with self.transaction() as conn:
            conn.execute(
                update(dlq_operations).where(dlq_operations.c.id == op_id).values(done=done, failed=failed)
            )

    def finish_operation(self, op_id: int, *, done: int, failed: int, detail: str | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                update(dlq_operations)
                .where(dlq_operations.c.id == op_id)
                .values(
                    done=done,
                    failed=failed,
                    finished_at=utcnow(),
                    state="failed" if failed else "done",
                    detail=None if detail is None else detail[:2000],
                )
            )

    def dlq_operation(self, op_id: int) -> DlqOperation | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(dlq_operations).where(dlq_operations.c.id == op_id)).first()
        return None if r is None else _operation(r)

    def dlq_operations_recent(self, limit: int = 20) -> list[DlqOperation]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(dlq_operations).order_by(dlq_operations.c.id.desc()).limit(limit)
            ).fetchall()
        return [_operation(r) for r in rows]
