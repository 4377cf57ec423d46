"""Brazilian tax ids (CPF, CNPJ): the check digits both simulators validate and the seed generates."""

from __future__ import annotations


def cpf_check_digits(base9: str) -> str:
    """The two CPF verifier digits for the first nine digits."""
    digits = [int(c) for c in base9]
    for _ in range(2):
        weight = len(digits) + 1
        total = sum(d * (weight - i) for i, d in enumerate(digits))
        rest = (total * 10) % 11
        digits.append(0 if rest == 10 else rest)
    return "".join(str(d) for d in digits[9:])


def cnpj_check_digits(base12: str) -> str:
    """The two CNPJ verifier digits for the first twelve digits."""
    digits = [int(c) for c in base12]
    for weights in ((5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2), (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)):
        total = sum(d * w for d, w in zip(digits, weights, strict=True))
        rest = total % 11
        digits.append(0 if rest < 2 else 11 - rest)
    return "".join(str(d) for d in digits[12:])


def is_valid_cpf(value: str) -> bool:
    digits = only_digits(value)
    if len(digits) != 11 or digits == digits[0] * 11:
        return False
    return cpf_check_digits(digits[:9]) == digits[9:]


def is_valid_cnpj(value: str) -> bool:
    digits = only_digits(value)
    if len(digits) != 14 or digits == digits[0] * 14:
        return False
    return cnpj_check_digits(digits[:12]) == digits[12:]


def only_digits(value: str | None) -> str:
    return "".join(c for c in (value or "") if c.isdigit())
