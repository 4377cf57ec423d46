"""Which Auvo customer is which Bling contato, before anything is written: one rule, pure.

Every path that looks for a counterpart decides with `match_key` — the backfill's bulk pairing
below, the live consumers in both directions and the contato a pedido needs on demand — so "is this
the same customer?" has one answer whichever path saw the record first: a unique match links, an
ambiguous one is held for a person (never guessed, never duplicated), no match creates.

The first full sync meets two address books that grew apart for years. Linking a customer that
exists on both sides is harmless; creating it again is a duplicate someone must merge by hand in
two systems. So pairing is a pure function of what was read (and the id map), tested by table,
and it refuses to guess: records that could pair with more than one counterpart are *held*
(neither paired nor written) and listed for a person.

Rules, in order; a record paired by one rule takes no part in the later ones:

1. `id_map`: the link we already recorded (both records must still exist; a link whose record is
   gone on one side is reported as stale, and the survivor goes through the other rules).
2. `marker`: the Bling `codigo` `AUVO-<auvo id>` we give every contato we create.
3. `external_id`: the Auvo `externalId` holding a Bling id, which we give every customer we
   create from Bling. Only digits that are the id of a listed Bling contato count: Auvo customers
   may carry another ERP's key ("ERP-123", or digits that are no Bling id).
4. `document`: the CPF/CNPJ (digits only, so "123.456.789-09" == "12345678909") when exactly one
   unpaired record on each side carries it.
5. `email`: the e-mail (lower-cased) when exactly one unpaired record on each side carries it and
   the two documents do not contradict each other (equal, or one of them empty). Bling's list does
   not carry e-mails: only contatos read in full take part (see `email_reads_wanted`).

Held: a second contato carrying the marker of an already paired customer, a customer whose
externalId names a contato already paired with someone else (the duplicates a looping integration
leaves behind), and records sharing a document or e-mail with more than one candidate.

`compare_pair` then says whether a pair's data already agrees, from what the lists carry.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from consumers.customers.mapping import auvo_id_from_marker, auvo_marker
from contracts.customer_fields import CustomerFields, digits
from contracts.events import AuvoCustomer, BlingContact
from contracts.options import Direction
from infra.errors import AmbiguousMatch

# What both lists carry in full: Bling's `GET /contatos` gives id, nome, codigo, situacao,
# numeroDocumento, telefone and celular; e-mail and address need `GET /contatos/{id}`.
BASE_FIELDS = ("name", "document", "phone", "mobile", "active")


class Rule(StrEnum):
    ID_MAP = "id_map"
    MARKER = "marker"
    EXTERNAL_ID = "external_id"
    DOCUMENT = "document"
    EMAIL = "email"


@dataclass(frozen=True)
class AuvoEntry:
    """What pairing needs of an Auvo customer (the list carries the full record)."""

    id: str
    external_id: str = ""
    document: str = ""
    email: str = ""

    @classmethod
    def of(cls, customer: AuvoCustomer, fields: CustomerFields) -> AuvoEntry:
        return cls(str(customer.id), (customer.externalId or "").strip(), fields.document, fields.email)


@dataclass(frozen=True)
class BlingEntry:
    """What pairing needs of a Bling contato; `email` is None while only the list was read."""

    id: str
    codigo: str = ""
    document: str = ""
    email: str | None = None

    @classmethod
    def of(cls, contact: BlingContact, *, complete: bool) -> BlingEntry:
        email = (contact.email or "").strip().lower() if complete else None
        return cls(str(contact.id), contact.codigo or "", digits(contact.numeroDocumento), email)


class MatchKind(StrEnum):
    UNIQUE = "unique"  # exactly one counterpart, and no other record on our side claims it: link
    AMBIGUOUS = "ambiguous"  # several could be the same customer: hold for a person
    NONE = "none"  # nobody carries the key: the next rule, else create


@dataclass(frozen=True)
class KeyMatch:
    """What one key (a CPF/CNPJ, an e-mail) says about one record's counterpart."""

    kind: MatchKind
    rule: Rule
    counterpart: str | None = None  # set when UNIQUE
    ours: tuple[str, ...] = ()  # the free records on the record's own side carrying the key
    theirs: tuple[str, ...] = ()  # the free records on the other side carrying it

    def ambiguity(self, ours: str, theirs: str) -> AmbiguousMatch:
        """The error that holds the event: ids only (documents and e-mails are personal data)."""
        return AmbiguousMatch(
            f"the same {'CPF/CNPJ' if self.rule is Rule.DOCUMENT else 'e-mail'} is on {ours} "
            f"[{', '.join(self.ours)}] and {theirs} [{', '.join(self.theirs)}]; none was linked or created"
        )


def match_key(rule: Rule, ours: Iterable[str], theirs: Iterable[str]) -> KeyMatch:
    """The matching rule for one key, given the *free* records (not linked to another) carrying it.

    `ours` are the records on the side being matched (the record itself included), `theirs` the
    candidates on the other side, each as far as the caller can see them. One each: the same
    customer. Nobody on the other side: no match by this key. Anything else is ambiguous: two
    contatos for one customer, or two customers for one contato, and picking one is a guess.
    """
    ours_t = tuple(sorted(set(ours), key=id_order))
    theirs_t = tuple(sorted(set(theirs), key=id_order))
    if not theirs_t:
        return KeyMatch(MatchKind.NONE, rule, None, ours_t, theirs_t)
    if len(theirs_t) == 1 and len(ours_t) <= 1:
        return KeyMatch(MatchKind.UNIQUE, rule, theirs_t[0], ours_t, theirs_t)
    return KeyMatch(MatchKind.AMBIGUOUS, rule, None, ours_t, theirs_t)


def documents_compatible(a: str, b: str) -> bool:
    """Two records with an e-mail in common may be one customer unless their documents differ."""
    return not a or not b or a == b


@dataclass(frozen=True)
class Pair:
    auvo_id: str
    bling_id: str
    rule: Rule


@dataclass
class Pairing:
    """The outcome of `pair_customers`; every listed record is in exactly one of the groups."""

    pairs: list[Pair] = field(default_factory=list)
    auvo_only: list[str] = field(default_factory=list)  # no counterpart: a Bling contato may be created
    bling_only: list[str] = field(default_factory=list)  # no counterpart: an Auvo customer may be created
    held_auvo: dict[str, str] = field(default_factory=dict)  # id -> why it is left to a person
    held_bling: dict[str, str] = field(default_factory=dict)
    stale_links: list[tuple[str, str]] = field(default_factory=list)  # (auvo id, bling id), one side gone

    def by_rule(self) -> dict[str, int]:
        counts = Counter(p.rule.value for p in self.pairs)
        return {rule.value: counts.get(rule.value, 0) for rule in Rule}


def id_order(value: str) -> tuple[int, str]:
    """Numeric order for numeric ids kept as strings ("9" before "10"), so ties break the same way."""
    return (len(value), value)


def _compatible(a: AuvoEntry, b: BlingEntry) -> bool:
    return documents_compatible(a.document, b.document)


def pair_customers(
    auvo: Iterable[AuvoEntry], bling: Iterable[BlingEntry], links: Mapping[str, str]
) -> Pairing:
    """Pair what already corresponds; `links` is the id map (auvo id -> bling id)."""
    auvo_by_id = {e.id: e for e in auvo}
    bling_by_id = {e.id: e for e in bling}
    out = Pairing()
    paired_auvo: dict[str, Pair] = {}
    paired_bling: dict[str, Pair] = {}

    def take(auvo_id: str, bling_id: str, rule: Rule) -> None:
        pair = Pair(auvo_id, bling_id, rule)
        out.pairs.append(pair)
        paired_auvo[auvo_id] = pair
        paired_bling[bling_id] = pair

    def free_auvo() -> list[AuvoEntry]:
        return [
            auvo_by_id[i]
            for i in sorted(auvo_by_id, key=id_order)
            if i not in paired_auvo and i not in out.held_auvo
        ]

    def free_bling() -> list[BlingEntry]:
        return [
            bling_by_id[i]
            for i in sorted(bling_by_id, key=id_order)
            if i not in paired_bling and i not in out.held_bling
        ]

    # 1. the id map
    for auvo_id, bling_id in sorted(links.items(), key=lambda kv: id_order(kv[0])):
        if auvo_id in auvo_by_id and bling_id in bling_by_id:
            take(auvo_id, bling_id, Rule.ID_MAP)
        elif auvo_id in auvo_by_id or bling_id in bling_by_id:
            out.stale_links.append((auvo_id, bling_id))

    # 2. the AUVO-<id> marker in the contato's codigo
    by_marker: dict[str, list[BlingEntry]] = defaultdict(list)
    for entry in free_bling():
        marked = auvo_id_from_marker(entry.codigo)
        if marked is not None:
            by_marker[marked].append(entry)
    for auvo_id, entries in sorted(by_marker.items(), key=lambda kv: id_order(kv[0])):
        if auvo_id in paired_auvo:
            for entry in entries:
                out.held_bling[entry.id] = (
                    f"codigo {auvo_marker(auvo_id)} names Auvo customer {auvo_id}, "
                    f"already paired with Bling contato {paired_auvo[auvo_id].bling_id}"
                )
            continue
        if auvo_id not in auvo_by_id or auvo_id in out.held_auvo:
            continue  # its customer is gone from Auvo: the contato stands alone
        first, *rest = entries
        take(auvo_id, first.id, Rule.MARKER)
        for entry in rest:
            out.held_bling[entry.id] = f"same codigo {auvo_marker(auvo_id)} as Bling contato {first.id}"

    # 3. the Auvo externalId holding a Bling id
    for entry in free_auvo():
        external = entry.external_id
        if not external.isdigit() or str(int(external)) not in bling_by_id:
            continue  # another ERP's key, or no contato of ours
        bling_id = str(int(external))
        if bling_id in paired_bling:
            out.held_auvo[entry.id] = (
                f"externalId {bling_id} is the Bling contato already paired with Auvo customer "
                f"{paired_bling[bling_id].auvo_id}"
            )
        elif bling_id in out.held_bling:
            out.held_auvo[entry.id] = f"externalId {bling_id} is a held Bling contato"
        else:
            take(entry.id, bling_id, Rule.EXTERNAL_ID)

    # 4. the CPF/CNPJ, unique on both sides
    auvo_docs: dict[str, list[AuvoEntry]] = defaultdict(list)
    bling_docs: dict[str, list[BlingEntry]] = defaultdict(list)
    for a in free_auvo():
        if a.document:
            auvo_docs[a.document].append(a)
    for b in free_bling():
        if b.document:
            bling_docs[b.document].append(b)
    for document in sorted(auvo_docs.keys() & bling_docs.keys()):
        same_a, same_b = auvo_docs[document], bling_docs[document]
        match = match_key(Rule.DOCUMENT, [a.id for a in same_a], [b.id for b in same_b])
        if match.kind is MatchKind.UNIQUE:
            take(same_a[0].id, same_b[0].id, Rule.DOCUMENT)
            continue
        reason = _shared("CPF/CNPJ", same_a, same_b)
        for a in same_a:
            out.held_auvo[a.id] = reason
        for b in same_b:
            out.held_bling[b.id] = reason

    # 5. the e-mail, unique on both sides, documents not contradicting
    auvo_mails: dict[str, list[AuvoEntry]] = defaultdict(list)
    bling_mails: dict[str, list[BlingEntry]] = defaultdict(list)
    for a in free_auvo():
        if a.email:
            auvo_mails[a.email].append(a)
    for b in free_bling():
        if b.email:
            bling_mails[b.email].append(b)
    for email in sorted(auvo_mails.keys() & bling_mails.keys()):
        same_a, same_b = auvo_mails[email], bling_mails[email]
        # only those that could be the same customer as one on the other side take part
        candidates_a = [a for a in same_a if any(_compatible(a, b) for b in same_b)]
        candidates_b = [b for b in same_b if any(_compatible(a, b) for a in same_a)]
        match = match_key(Rule.EMAIL, [a.id for a in candidates_a], [b.id for b in candidates_b])
        if match.kind is MatchKind.UNIQUE:
            take(candidates_a[0].id, candidates_b[0].id, Rule.EMAIL)
            continue
        if match.kind is MatchKind.NONE:
            continue  # different documents: two customers sharing an address
        reason = _shared("e-mail", candidates_a, candidates_b)
        for a in candidates_a:
            out.held_auvo[a.id] = reason
        for b in candidates_b:
            out.held_bling[b.id] = reason

    out.auvo_only = [a.id for a in free_auvo()]
    out.bling_only = [b.id for b in free_bling()]
    return out


def _shared(what: str, auvo: Sequence[AuvoEntry], bling: Sequence[BlingEntry]) -> str:
    """Why records are held; names ids only (documents and e-mails are personal data)."""
    return (
        f"the same {what} is on Auvo customers [{', '.join(a.id for a in auvo)}] "
        f"and Bling contatos [{', '.join(b.id for b in bling)}]"
    )


def email_reads_wanted(pairing: Pairing, auvo: Iterable[AuvoEntry], bling: Iterable[BlingEntry]) -> list[str]:
    """Bling contatos worth reading in full so the e-mail rule can see them.

    Only unpaired contatos without a document (one with a document that found no partner could
    only pair by e-mail with a customer lacking one; that case is left out to keep reads bounded),
    and only when some unpaired Auvo customer has an e-mail at all.
    """
    auvo_only = set(pairing.auvo_only)
    if not any(a.email for a in auvo if a.id in auvo_only):
        return []
    bling_only = set(pairing.bling_only)
    return sorted(
        (b.id for b in bling if b.id in bling_only and not b.document and b.email is None), key=id_order
    )


# --- does a pair already agree? ---------------------------------------------------------------


class Verdict(StrEnum):
    SAME = "same"  # nothing to write, as far as the lists and our last writes tell
    DIFFERENT = "different"  # the base fields differ
    CHECK = "check"  # the base fields agree, but our last write says one side changed since


def base_of(fields: CustomerFields) -> tuple[object, ...]:
    return tuple(getattr(fields, name) for name in BASE_FIELDS)


def compare_pair(
    auvo: CustomerFields,
    bling_listed: CustomerFields,
    *,
    last_auvo: str | None = None,
    last_bling: str | None = None,
) -> Verdict:
    """Whether a paired customer and contato hold the same data, without reading the contato.

    `auvo` is the full Auvo record's fields; `bling_listed` the contato's fields as its list entry
    gives them (no e-mail, no address); `last_auvo` / `last_bling` are the fingerprints we stored
    for each side (what we last wrote there, or found equal). The base fields decide first. When
    they agree, a stored fingerprint other than Auvo's current one means something changed since
    our last sync, so the caller should read the contato in full (CHECK). What this misses: a pair
    never synced before (or synced and then changed in Bling) whose only difference is e-mail or
    address; those are decided by the live flow on their next change.
    """
    if base_of(auvo) != base_of(bling_listed):
        return Verdict.DIFFERENT
    current = auvo.fingerprint()
    if any(last is not None and last != current for last in (last_auvo, last_bling)):
        return Verdict.CHECK
    return Verdict.SAME


# --- what to write ------------------------------------------------------------------------------


class WriteKind(StrEnum):
    CREATE_BLING = "create_bling"
    CREATE_AUVO = "create_auvo"
    UPDATE_BLING = "update_bling"
    UPDATE_AUVO = "update_auvo"


@dataclass(frozen=True)
class Write:
    kind: WriteKind
    auvo_id: str | None = None
    bling_id: str | None = None


def plan_writes(pairing: Pairing, verdicts: Mapping[Pair, Verdict], direction: Direction) -> list[Write]:
    """Creates for records without a counterpart, updates for differing pairs (source side wins).

    In `both` there is no source side: differing pairs are linked and left to the live flow's
    conflict policy, which decides on their next change with both sides' timestamps.
    """
    to_bling = direction in (Direction.auvo_to_bling, Direction.both)
    to_auvo = direction in (Direction.bling_to_auvo, Direction.both)
    plan: list[Write] = []
    if to_bling:
        plan += [Write(WriteKind.CREATE_BLING, auvo_id=a) for a in pairing.auvo_only]
    if to_auvo:
        plan += [Write(WriteKind.CREATE_AUVO, bling_id=b) for b in pairing.bling_only]
    if direction != Direction.both:
        kind = WriteKind.UPDATE_BLING if to_bling else WriteKind.UPDATE_AUVO
        plan += [
            Write(kind, auvo_id=p.auvo_id, bling_id=p.bling_id)
            for p in pairing.pairs
            if verdicts.get(p, Verdict.SAME) != Verdict.SAME
        ]
    return plan
