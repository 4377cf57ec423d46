"""The matching rule, by table: which customer is which contato, and what is held — for one key
(`match_key`, what every path calls) and for the backfill's bulk pairing built on it."""

from __future__ import annotations

import pytest

from consumers.customers.matching import (
    AuvoEntry,
    BlingEntry,
    MatchKind,
    Pair,
    Pairing,
    Rule,
    Verdict,
    Write,
    WriteKind,
    compare_pair,
    documents_compatible,
    email_reads_wanted,
    match_key,
    pair_customers,
    plan_writes,
)
from contracts.customer_fields import CustomerFields
from contracts.events import AuvoCustomer, BlingContact
from contracts.options import Direction
from infra.errors import AmbiguousMatch

A = AuvoEntry
B = BlingEntry
CPF = "52998224725"
CNPJ = "11222333000181"


def pairs(pairing: Pairing) -> set[tuple[str, str, str]]:
    return {(p.auvo_id, p.bling_id, p.rule.value) for p in pairing.pairs}


CASES = [
    # (name, auvo, bling, links, expected pairs, auvo_only, bling_only, held auvo, held bling)
    (
        "id map wins over every other rule",
        [A("1", document=CPF)],
        [B("100", codigo="AUVO-2", document=CPF), B("101", document=CPF)],
        {"1": "100"},
        {("1", "100", "id_map")},
        [],
        ["101"],
        [],
        [],
    ),
    (
        "marker pairs, whatever the documents say",
        [A("1", document=CPF), A("2")],
        [B("100", codigo="AUVO-2", document=CNPJ)],
        {},
        {("2", "100", "marker")},
        ["1"],
        [],
        [],
        [],
    ),
    (
        "externalId holding a Bling id pairs; another ERP's key does not",
        [A("1", external_id="100"), A("2", external_id="ERP-7-2"), A("3", external_id="999")],
        [B("100"), B("101")],
        {},
        {("1", "100", "external_id")},
        ["2", "3"],
        ["101"],
        [],
        [],
    ),
    (
        "document: digits only, unique on both sides",
        [A("1", document=CPF), A("2", document=CNPJ)],
        [B("100", document=CPF), B("101", document="99999999999")],
        {},
        {("1", "100", "document")},
        ["2"],
        ["101"],
        [],
        [],
    ),
    (
        "document on two Auvo customers and one contato: all held, nothing guessed",
        [A("1", document=CPF), A("2", document=CPF)],
        [B("100", document=CPF)],
        {},
        set(),
        [],
        [],
        ["1", "2"],
        ["100"],
    ),
    (
        "a duplicate on one side only is not ambiguous once the other is linked",
        [A("1", document=CPF)],
        [B("100", document=CPF), B("101", document=CPF, codigo="AUVO-1")],
        {},
        {("1", "101", "marker")},
        [],
        ["100"],
        [],
        [],
    ),
    (
        "e-mail pairs when unique and documents do not contradict",
        [A("1", email="ana@x.com.br"), A("2", email="bob@x.com.br", document=CPF)],
        [B("100", email="ana@x.com.br"), B("101", email="bob@x.com.br", document=CNPJ)],
        {},
        {("1", "100", "email")},
        ["2"],
        ["101"],
        [],
        [],
    ),
    (
        "e-mail unknown (list only) never pairs",
        [A("1", email="ana@x.com.br")],
        [B("100")],
        {},
        set(),
        ["1"],
        ["100"],
        [],
        [],
    ),
    (
        "e-mail shared by two customers and a document-less contato: held",
        [A("1", email="f@x.com", document=CPF), A("2", email="f@x.com", document=CNPJ)],
        [B("100", email="f@x.com")],
        {},
        set(),
        [],
        [],
        ["1", "2"],
        ["100"],
    ),
    (
        "second contato with the marker of a paired customer is a duplicate: held",
        [A("1")],
        [B("100", codigo="AUVO-1"), B("105", codigo="AUVO-1")],
        {},
        {("1", "100", "marker")},
        [],
        [],
        [],
        ["105"],
    ),
    (
        "customer created back from our own contato (a loop's duplicate): held",
        [A("1"), A("2", external_id="100")],
        [B("100", codigo="AUVO-1")],
        {},
        {("1", "100", "marker")},
        [],
        [],
        ["2"],
        [],
    ),
    (
        "marker naming a customer gone from Auvo: the contato stands alone",
        [A("1")],
        [B("100", codigo="AUVO-9")],
        {},
        set(),
        ["1"],
        ["100"],
        [],
        [],
    ),
    (
        "a user's own codigo is no marker",
        [A("1", document=CPF)],
        [B("100", codigo="C010001", document=CPF)],
        {},
        {("1", "100", "document")},
        [],
        [],
        [],
        [],
    ),
]


@pytest.mark.parametrize(
    ("auvo", "bling", "links", "expected", "auvo_only", "bling_only", "held_auvo", "held_bling"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_pairing_rules(
    auvo: list[AuvoEntry],
    bling: list[BlingEntry],
    links: dict[str, str],
    expected: set[tuple[str, str, str]],
    auvo_only: list[str],
    bling_only: list[str],
    held_auvo: list[str],
    held_bling: list[str],
) -> None:
    result = pair_customers(auvo, bling, links)
    assert pairs(result) == expected
    assert result.auvo_only == auvo_only
    assert result.bling_only == bling_only
    assert sorted(result.held_auvo) == held_auvo
    assert sorted(result.held_bling) == held_bling


def test_every_record_lands_in_exactly_one_group() -> None:
    auvo = [A(str(i), document=CPF if i < 3 else "", email=f"c{i % 4}@x.com") for i in range(1, 9)]
    bling = [B(str(100 + i), document=CPF if i == 1 else "", email=f"c{i % 3}@x.com") for i in range(1, 7)]
    result = pair_customers(auvo, bling, {})
    auvo_ids = [p.auvo_id for p in result.pairs] + result.auvo_only + list(result.held_auvo)
    bling_ids = [p.bling_id for p in result.pairs] + result.bling_only + list(result.held_bling)
    assert sorted(auvo_ids) == sorted(a.id for a in auvo)
    assert sorted(bling_ids) == sorted(b.id for b in bling)


def test_stale_links_are_reported_and_the_survivor_pairs_by_other_rules() -> None:
    result = pair_customers([A("1", document=CPF)], [B("200", document=CPF)], {"1": "100", "7": "200"})
    assert result.stale_links == [("1", "100"), ("7", "200")]
    assert pairs(result) == {("1", "200", "document")}


def test_ids_compare_numerically_so_the_oldest_duplicate_wins() -> None:
    result = pair_customers([A("1")], [B("10", codigo="AUVO-1"), B("9", codigo="AUVO-1")], {})
    assert pairs(result) == {("1", "9", "marker")}
    assert list(result.held_bling) == ["10"]


def test_entries_from_records_normalise_documents_and_emails() -> None:
    from contracts.customer_fields import fields_from_auvo

    customer = AuvoCustomer(id=5, externalId=" 16000000001 ", cpfCnpj="529.982.247-25", email=["Ana@X.com"])
    assert AuvoEntry.of(customer, fields_from_auvo(customer)) == A(
        "5", external_id="16000000001", document=CPF, email="ana@x.com"
    )
    contact = BlingContact(id=7, codigo="AUVO-5", numeroDocumento="11.222.333/0001-81", email="X@Y.com")
    assert BlingEntry.of(contact, complete=False) == B("7", codigo="AUVO-5", document=CNPJ, email=None)
    assert BlingEntry.of(contact, complete=True).email == "x@y.com"


@pytest.mark.parametrize(
    ("auvo", "bling", "wanted"),
    [
        ([A("1", email="a@x.com")], [B("100"), B("101", document=CPF), B("102", email="")], ["100"]),
        ([A("1")], [B("100")], []),  # no unpaired customer has an e-mail: no reads
        ([A("1", email="a@x.com", document=CPF)], [B("100", document=CPF), B("101")], []),  # it paired
    ],
)
def test_email_reads_are_only_for_documentless_unpaired_contatos(
    auvo: list[AuvoEntry], bling: list[BlingEntry], wanted: list[str]
) -> None:
    result = pair_customers(auvo, bling, {})
    assert email_reads_wanted(result, auvo, bling) == wanted


BASE = CustomerFields(name="Ana", document=CPF, phone="1133334444", mobile="11999998888", email="a@x.com")


@pytest.mark.parametrize(
    ("auvo", "bling", "last_auvo", "last_bling", "verdict"),
    [
        (BASE, BASE.model_copy(update={"email": "", "address": ""}), None, None, Verdict.SAME),
        (BASE, BASE.model_copy(update={"name": "Ana Maria"}), None, None, Verdict.DIFFERENT),
        (BASE, BASE.model_copy(update={"active": False}), None, None, Verdict.DIFFERENT),
        (BASE, BASE.model_copy(update={"mobile": ""}), None, None, Verdict.DIFFERENT),
        # base fields agree, and our last write to Bling was this very Auvo state
        (BASE, BASE.model_copy(update={"email": ""}), None, BASE.fingerprint(), Verdict.SAME),
        # base fields agree, but Auvo changed since we last wrote it / wrote Bling: read in full
        (BASE, BASE.model_copy(update={"email": ""}), "0" * 64, None, Verdict.CHECK),
        (BASE, BASE.model_copy(update={"email": ""}), None, "f" * 64, Verdict.CHECK),
    ],
)
def test_compare_pair(
    auvo: CustomerFields,
    bling: CustomerFields,
    last_auvo: str | None,
    last_bling: str | None,
    verdict: Verdict,
) -> None:
    assert compare_pair(auvo, bling, last_auvo=last_auvo, last_bling=last_bling) == verdict


def test_plan_writes_per_direction() -> None:
    same, differ = Pair("1", "100", Rule.DOCUMENT), Pair("2", "101", Rule.ID_MAP)
    pairing = Pairing(pairs=[same, differ], auvo_only=["3"], bling_only=["102"])
    verdicts = {same: Verdict.SAME, differ: Verdict.DIFFERENT}
    assert plan_writes(pairing, verdicts, Direction.auvo_to_bling) == [
        Write(WriteKind.CREATE_BLING, auvo_id="3"),
        Write(WriteKind.UPDATE_BLING, auvo_id="2", bling_id="101"),
    ]
    assert plan_writes(pairing, verdicts, Direction.bling_to_auvo) == [
        Write(WriteKind.CREATE_AUVO, bling_id="102"),
        Write(WriteKind.UPDATE_AUVO, auvo_id="2", bling_id="101"),
    ]
    # both: creates on each side, differing pairs left to the live flow
    assert plan_writes(pairing, verdicts, Direction.both) == [
        Write(WriteKind.CREATE_BLING, auvo_id="3"),
        Write(WriteKind.CREATE_AUVO, bling_id="102"),
    ]


# --- the rule every path shares, for one key ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rule", "ours", "theirs", "kind", "counterpart"),
    [
        ("unique by document", Rule.DOCUMENT, ["7"], ["16000000001"], MatchKind.UNIQUE, "16000000001"),
        ("unique by e-mail", Rule.EMAIL, ["7"], ["16000000001"], MatchKind.UNIQUE, "16000000001"),
        ("the same candidate listed twice is one", Rule.DOCUMENT, ["7"], ["5", "5"], MatchKind.UNIQUE, "5"),
        ("two contatos with one document", Rule.DOCUMENT, ["7"], ["5", "6"], MatchKind.AMBIGUOUS, None),
        ("two customers, one contato", Rule.DOCUMENT, ["7", "8"], ["5"], MatchKind.AMBIGUOUS, None),
        ("two contatos with one e-mail", Rule.EMAIL, ["7"], ["5", "6"], MatchKind.AMBIGUOUS, None),
        ("nobody on the other side", Rule.DOCUMENT, ["7"], [], MatchKind.NONE, None),
        ("nobody on the other side, peers here", Rule.EMAIL, ["7", "8"], [], MatchKind.NONE, None),
    ],
)
def test_match_key_links_unique_holds_ambiguous_and_creates_on_none(
    name: str, rule: Rule, ours: list[str], theirs: list[str], kind: MatchKind, counterpart: str | None
) -> None:
    match = match_key(rule, ours, theirs)
    assert (match.kind, match.counterpart) == (kind, counterpart), name


def test_an_ambiguous_match_names_both_sides_ids_and_no_personal_data() -> None:
    match = match_key(Rule.EMAIL, ["7"], ["10", "9"])
    error = match.ambiguity("Auvo customers", "Bling contatos")
    assert isinstance(error, AmbiguousMatch) and not error.transient
    assert error.message == (
        "the same e-mail is on Auvo customers [7] and Bling contatos [9, 10]; none was linked or created"
    )
    assert "replay" in error.hint


@pytest.mark.parametrize(
    ("a", "b", "compatible"),
    [("", "", True), ("123", "", True), ("", "123", True), ("123", "123", True), ("123", "456", False)],
)
def test_an_e_mail_pairs_only_records_whose_documents_agree(a: str, b: str, compatible: bool) -> None:
    assert documents_compatible(a, b) is compatible
