"""Which listed Bling contatos need a full read (`GET /contatos/{id}`): the pure part of the poller.

Bling has no contatos webhook and its list (`ContatosDadosBaseDTO`: id, nome, codigo, situacao,
numeroDocumento, telefone, celular) carries no change stamp. The poller lists the window
[cursor - overlap, now - LAG] on every pass, because a change can be committed after the pass that
covered its stamp; so a contato changed once is listed on every pass for `overlap` seconds.
Reading each of them in full every time cost 7 reads per change. What the list does tell:

- a contato is in the window only if its stamp is in it: listed in a window starting after the
  end of the window in which we last read it, its stamp moved since that read;
- a list entry that differs from the one seen at the read means the contato changed.

Otherwise the contato is "ambiguous": either the change we read, or a later one that touched only
fields the list does not show. Those are not read at once; the memory marks them pending, and once
`overlap` seconds have passed since the read (so a change stamped after the read has been
committed), one list call per group of them, `idsContatos[]` with `dataAlteracaoInicial` just
after the read's window end, says which stamps moved: only those are read. (What stays unseen: a
second change of a contato just read that is stamped at or before the read's window end, which
means committed more than a second after its stamp, or stamped by a Bling clock more than a second
behind ours.)
A late-committed change of a contato not read since its stamp is listed unseen or after its read
window, and is always read. Forgetting is safe (an unknown contato is read), so the memory is
pruned to the reads whose window still overlaps the next one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

# A pass's window ends LAG before the pass (whole seconds, as Bling stamps): the change a read
# got is stamped at or before that end, so the settle check starts one second after it and never
# counts that change again, while a later change stamped down to a second *before* the read's
# pass is still caught (the allowance for Bling's clock running behind ours, or a commit landing
# a moment after the stamp). The price: a contato change waits LAG longer for its pass.
LAG = timedelta(seconds=2)
SETTLE_FROM = timedelta(seconds=1)
SETTLE_BATCH = 50  # ids per `idsContatos[]` list call


def entry_fingerprint(entry: dict[str, Any]) -> str:
    """What the list shows of a contato, hashed: a different entry is a change."""
    canonical = json.dumps(entry, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass
class Seen:
    fingerprint: str  # of the list entry at the read
    read_until: datetime  # the end of the window of the pass that read it
    pending: bool = False  # listed again while ambiguous: its stamp must be checked once settled


@dataclass
class SettleCheck:
    """One `idsContatos[]` list call: which of `ids` changed at or after `since`."""

    ids: list[int]
    since: datetime


@dataclass
class PassPlan:
    read: list[int] = field(default_factory=list)
    settle: list[SettleCheck] = field(default_factory=list)


class ReadMemory:
    """Contatos read recently, with what the list showed then; decides reads, pass by pass."""

    def __init__(self, overlap: timedelta) -> None:
        self.overlap = overlap
        self.seen: dict[int, Seen] = {}

    def plan(
        self, listed: dict[int, dict[str, Any]], window_start: datetime | None, window_end: datetime
    ) -> PassPlan:
        """What to read for a pass whose list (window [window_start, window_end]) gave `listed`."""
        plan = PassPlan()
        for contact_id, entry in listed.items():
            seen = self.seen.get(contact_id)
            if (
                seen is None
                or seen.fingerprint != entry_fingerprint(entry)
                or (window_start is not None and seen.read_until < window_start)
            ):
                plan.read.append(contact_id)
            else:
                seen.pending = True
        due: dict[datetime, list[int]] = {}
        for contact_id, seen in self.seen.items():
            if seen.pending and contact_id not in plan.read and seen.read_until + self.overlap <= window_end:
                due.setdefault(seen.read_until, []).append(contact_id)
        for read_until, ids in sorted(due.items()):
            since = read_until + SETTLE_FROM
            for i in range(0, len(ids), SETTLE_BATCH):
                plan.settle.append(SettleCheck(sorted(ids[i : i + SETTLE_BATCH]), since))
        return plan

    def settled(self, check: SettleCheck) -> None:
        """The check ran: its contatos' stamps are known not to have moved (those that moved are read)."""
        for contact_id in check.ids:
            if contact_id in self.seen:
                self.seen[contact_id].pending = False

    def read(self, contact_id: int, entry: dict[str, Any], window_end: datetime) -> None:
        self.seen[contact_id] = Seen(entry_fingerprint(entry), window_end)

    def forget(self, contact_id: int) -> None:
        self.seen.pop(contact_id, None)

    def prune(self, next_window_start: datetime) -> None:
        """Drop reads the next window starts after: a contato listed then is read anyway."""
        self.seen = {cid: s for cid, s in self.seen.items() if s.pending or s.read_until >= next_window_start}
