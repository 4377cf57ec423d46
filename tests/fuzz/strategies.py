"""Generators of what the outside may send: JSON of any shape, near-valid records, and the ways bytes
go wrong on the wire (encodings, BOMs, truncation, deep nesting, NaN, huge numbers, duplicate keys).

Near-valid inputs matter most: a body that is random bytes stops at the first check, one that is
a real notification with one field turned into something else reaches the code behind it.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

SAFE_TEXT = st.text(max_size=12)
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    SAFE_TEXT,
    st.sampled_from(["", " ", "0", "-1", "1e999", "NaN", "null", "../login/", "\x00", "😀", "12,50"]),
)
json_any = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


@st.composite
def mutated(draw: st.DrawFn, record: dict[str, Any]) -> dict[str, Any]:
    """`record` with a few fields dropped, retyped or added: the shapes a provider changes to."""
    out = dict(record)
    keys = sorted(out)
    for key in draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)) if keys else []:
        if draw(st.booleans()):
            del out[key]
        else:
            out[key] = draw(json_any)
    for key, value in draw(st.dictionaries(st.text(max_size=6), json_any, max_size=2)).items():
        out[key] = value
    return out


def _dump(value: Any) -> str:
    return json.dumps(value, allow_nan=True, ensure_ascii=False)


DAMAGE = ["bom", "utf16", "latin1", "truncated", "nested", "duplicate", "huge", "nan", "raw", "spaces"]


@st.composite
def wire_forms(draw: st.DrawFn, value: Any, count: int = 4) -> list[bytes]:
    """`value` as JSON bytes as it should arrive, then `count - 1` forms of it damaged in the ways
    bodies arrive: each is one input. Several inputs per generated value is what makes 10,000 of them
    affordable in CI (drawing the value costs more than sending it)."""
    text = _dump(value)
    forms = [text.encode("utf-8", "surrogatepass")]
    for how in draw(st.lists(st.sampled_from([*DAMAGE, "clean"]), min_size=count - 1, max_size=count - 1)):
        forms.append(_damaged(draw, value, text, how))
    return forms


def _damaged(draw: st.DrawFn, value: Any, text: str, how: str) -> bytes:
    if how == "bom":
        return b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass")
    if how == "utf16":
        return text.encode("utf-16", "surrogatepass")
    if how == "latin1":
        return text.encode("utf-8", "surrogatepass").replace(b"a", b"\xe1", 1) + b"\xff"
    if how == "truncated":
        raw = text.encode("utf-8", "surrogatepass")
        return raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    if how == "nested":
        depth = draw(st.sampled_from([50, 1_000, 5_000, 30_000]))
        return ("[" * depth + text + "]" * depth).encode("utf-8", "surrogatepass")
    if how == "duplicate" and isinstance(value, dict) and value:
        first = next(iter(value))
        return ("{" + _dump(first) + ": " + _dump(draw(json_any)) + ", " + text[1:]).encode(
            "utf-8", "surrogatepass"
        )
    if how == "huge":
        return text.replace("1", "9" * 5_000, 1).encode("utf-8", "surrogatepass") + b" "
    if how == "nan":
        return text.replace("null", "NaN").replace("0", "-Infinity", 1).encode("utf-8", "surrogatepass")
    if how == "raw":
        return draw(st.binary(max_size=64))
    if how == "spaces":
        return b" \n\t" + text.encode("utf-8", "surrogatepass") + b"\r\n"
    return text.encode("utf-8", "surrogatepass")
