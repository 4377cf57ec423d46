"""What is shipped must be enough on its own: the image and the wheel carry what the code reads.

No Docker engine runs here, so the container file is checked by reading it: every package the
wheel ships is copied in, and nothing from `tests/` (the simulators' documents are package data,
not test files). The wheel itself is built, installed and run by `.ci/newcomer`.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from simulators.documents import AUVO_BLUEPRINT, BLING_OPENAPI, auvo_blueprint, bling_openapi, spec_file

ROOT = Path(__file__).resolve().parents[2]


def shipped_packages() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    return {name.removesuffix("*") for name in include}


def containerfile_copies() -> list[str]:
    lines = (ROOT / "infra" / "deploy" / "Containerfile").read_text("utf-8").splitlines()
    return [line.split()[1] for line in lines if line.startswith("COPY ")]


def test_the_image_copies_every_shipped_package_and_no_test_files() -> None:
    copied = containerfile_copies()
    assert shipped_packages() <= set(copied)
    assert not [c for c in copied if c.startswith("tests")]


def test_the_simulators_documents_are_package_data_declared_in_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    patterns = project["tool"]["setuptools"]["package-data"]["simulators"]
    for name in (BLING_OPENAPI, AUVO_BLUEPRINT, "README.md"):
        assert spec_file(name).is_file()
        assert any(Path("specs", name).match(p) for p in patterns), name


def test_the_documents_read_through_importlib_resources_are_the_providers() -> None:
    doc = bling_openapi()
    assert doc["openapi"].startswith("3.0")
    assert "/contatos" in doc["paths"]
    assert "FORMAT: 1A" in auvo_blueprint()[:200]
    assert json.loads(spec_file(BLING_OPENAPI).read_text("utf-8")) == doc


def test_the_runtime_dependencies_bring_what_the_simulators_import() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    runtime = {dep.split(">")[0].split("[")[0].strip() for dep in project["project"]["dependencies"]}
    assert {"openapi-schema-validator", "jsonschema", "starlette", "uvicorn"} <= runtime
