"""The fingerprint of a dead letter's cause, by table: what must and must not group together."""

from __future__ import annotations

import pytest

from infra.bus.dlq_fingerprint import diagnosis_shape, fingerprint


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        (REF := "Object reference not set to an instance of an object.", REF),
        ("task 12345 not found", "task <n> not found"),
        ("contato 9f1c2e4a-1b2c-4d5e-8f90-123456789abc exists", "contato <uuid> exists"),
        ("e-mail ana.silva+x@empresa.com.br inválido", "e-mail <email> inválido"),
        ("at 2026-12-02T14:03:11+00:00 the API said no", "at <date> the API said no"),
        ("vencimento 02/12/2026 anterior à emissão", "vencimento <date> anterior à emissão"),
        ("retry at 14:03:11", "retry at <time>"),
        ("event sha256:0123456789abcdef0123 dead", "event <hex> dead"),
        ("HTTP 400:   campo   'numero' inválido", "HTTP <n>: campo 'numero' inválido"),
        ("id a-17 and b2c", "id <n> and <n>"),
        ("", ""),
    ],
)
def test_what_varies_per_record_is_stripped(text: str, shape: str) -> None:
    assert diagnosis_shape(text) == shape


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [  # (error class, consumer, diagnosis) twice
        (
            ("AuvoApiDeactivated", "to-bling.orders", "task 1 failed"),
            ("AuvoApiDeactivated", "to-bling.orders", "task 99 failed"),
            True,
        ),
        (
            ("BlingValidation", "to-bling.orders", "CPF 123.456.789-01 inválido"),
            ("BlingValidation", "to-bling.orders", "CPF 987.654.321-00 inválido"),
            True,
        ),
        (("BlingValidation", "to-bling.orders", "x"), ("BlingValidation", "to-bling.contacts", "x"), False),
        (("BlingValidation", "to-bling.orders", "x"), ("BlingScope", "to-bling.orders", "x"), False),
        (
            ("BlingValidation", "to-bling.orders", "nome vazio"),
            ("BlingValidation", "to-bling.orders", "preço vazio"),
            False,
        ),
    ],
)
def test_one_cause_is_one_fingerprint(a: tuple[str, str, str], b: tuple[str, str, str], same: bool) -> None:
    assert (fingerprint(*a) == fingerprint(*b)) is same
    assert fingerprint(*a).startswith("fp:") and len(fingerprint(*a)) == 19
