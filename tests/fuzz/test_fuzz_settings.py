"""Generated TOML files (and values in them) against the settings loader and the CLI that uses it.

The rule: a file is either loaded or refused with one line (ConfigurationError; the CLI prints it and
exits 2), never a traceback, and a secret given in the file never appears in that line.
"""

from __future__ import annotations

import io
import json
import math
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from infra.errors import ConfigurationError
from infra.settings import Settings, load_settings
from tests.fuzz.support import CRASHES, INPUTS, fuzz_settings
from tests.ops_support import config_file_is_the_truth

SECRET = "fuzz-secret-value-0123456789abcdef"
EXAMPLES = 300
CLI_EXAMPLES = 60


def _sections() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"": []}
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out[name] = list(annotation.model_fields)
        else:
            out[""].append(name)
    return out


SECTIONS = _sections()
SECRET_KEYS = ("client_secret", "api_token", "api_key", "secret_key", "password")
leaf = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    # a URL's password is a secret wherever the URL is given
    st.sampled_from(
        [f"http://guest:{SECRET}@broker/", f"postgres://app:{SECRET}@db:5432/x", f"amqp://u:{SECRET}@h"]
    ),
    st.sampled_from(
        ["both", "auvo_to_bling", "amqp://x", "postgresql://u:p@h/db", "sqlite:///x", "[1, 2]", ""]
    ),
)
toml_value = st.recursive(
    leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=2),
    max_leaves=5,
)


def toml_of(value: Any) -> str:
    """`value` as a TOML value (a test-side writer: the loader must meet what the writer cannot make too)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_of(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_of(v)}" for k, v in value.items()) + "}"


@st.composite
def toml_file(draw: st.DrawFn) -> bytes:
    lines: list[str] = []
    for section in draw(
        st.lists(st.sampled_from(sorted(SECTIONS)) | st.text(max_size=6), max_size=4, unique=True)
    ):
        if section:
            lines.append(f"[{json.dumps(section) if not section.isidentifier() else section}]")
        keys = SECTIONS.get(section, []) + list(SECRET_KEYS)
        for key in draw(st.lists(st.sampled_from(keys) | st.text(max_size=6), max_size=4, unique=True)):
            value = SECRET if key in SECRET_KEYS and draw(st.booleans()) else draw(toml_value)
            lines.append(f"{json.dumps(key)} = {toml_of(value)}")
    text = "\n".join(lines).encode("utf-8", "surrogatepass")
    how = draw(st.sampled_from(["clean"] * 6 + ["truncated", "bom", "binary", "latin1"]))
    if how == "truncated":
        return text[: draw(st.integers(0, len(text)))]
    if how == "bom":
        return b"\xef\xbb\xbf" + text
    if how == "binary":
        return draw(st.binary(max_size=60))
    if how == "latin1":
        return text + b'\nnote = "\xe9"'
    return text


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        config_file_is_the_truth(monkeypatch)
        yield tmp_path_factory.mktemp("fuzz-settings") / "auvo-bling.toml"


def refused_line(parser: str, message: str) -> None:
    try:
        assert message and "\n" not in message.strip(), message
        assert "Traceback" not in message
        assert SECRET not in message, "a secret from the file was echoed"
    except AssertionError:
        CRASHES[parser] += 1
        raise


@fuzz_settings(EXAMPLES)
@given(raw=toml_file())
def test_loader(config_path: Path, raw: bytes) -> None:
    config_path.write_bytes(raw)
    INPUTS["settings file"] += 1
    try:
        load_settings(config_path)
    except ConfigurationError as exc:
        refused_line("settings file", str(exc))
    except Exception:
        CRASHES["settings file"] += 1
        raise


class _Reached(Exception):
    """The CLI got past its settings: what it does next is not this test's business."""


@fuzz_settings(CLI_EXAMPLES)
@given(raw=toml_file())
def test_cli_run_with_the_file(config_path: Path, raw: bytes) -> None:
    from auvo_bling import cli
    from auvo_bling.tenancy import Deployment

    config_path.write_bytes(raw)
    INPUTS["settings cli"] += 1
    stderr = io.StringIO()
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(
            Deployment, "of", classmethod(lambda cls, *a, **k: (_ for _ in ()).throw(_Reached()))
        )
        monkeypatch.setattr(cli, "configure_logging", lambda *a, **k: None)
        monkeypatch.setattr(sys, "argv", ["auvo-bling", "run", "--config", str(config_path)])
        try:
            with redirect_stderr(stderr):
                cli.main()
        except _Reached:
            return
        except SystemExit as exit_:
            assert exit_.code == 2, (exit_.code, stderr.getvalue())
            refused_line("settings cli", stderr.getvalue())
            return
    CRASHES["settings cli"] += 1
    raise AssertionError("the CLI neither exited nor went on")


ENV_NAMES = sorted(
    {"AMQP_URL", "DATABASE_URL"}
    | {
        f"AUVO_BLING_{section.upper()}__{key.upper()}"
        for section, keys in SECTIONS.items()
        if section
        for key in keys
    }
    | {f"AUVO_BLING_{key.upper()}" for key in SECTIONS[""]}
)
ENV_VALUES = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=16),
    st.sampled_from(
        ["[1, 2]", "{", "[", "null", "nan", "1e400", "-1", f"http://u:{SECRET}@h", '{"a": 1}', "true"]
    ),
)


@fuzz_settings(EXAMPLES)
@given(env=st.dictionaries(st.sampled_from(ENV_NAMES), ENV_VALUES, min_size=1, max_size=3))
def test_environment_values(config_path: Path, env: dict[str, str]) -> None:
    """The same rule for settings given in the environment (a deployment's usual way)."""
    INPUTS["settings environment"] += 1
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        try:
            load_settings()
        except ConfigurationError as exc:
            refused_line("settings environment", str(exc))
        except Exception:
            CRASHES["settings environment"] += 1
            raise
