"""The providers' API documents the simulators follow, read from the installed package.

They are package data (`simulators/specs/`), found through `importlib.resources`, so a plain
`pip install .` (a wheel, a container image) serves the same simulators as the source tree; the
contract tests read the very same files, so a simulator and its tests cannot follow two copies.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

BLING_OPENAPI = "bling-v3-openapi.json"
AUVO_BLUEPRINT = "auvo-v2.apib"


def spec_file(name: str) -> Traversable:
    """One of the documents in `simulators/specs/`."""
    return files("simulators") / "specs" / name


@cache
def bling_openapi() -> dict[str, Any]:
    """Bling's v3 OpenAPI document, parsed once per process; callers only read it."""
    return json.loads(spec_file(BLING_OPENAPI).read_text(encoding="utf-8"))


def auvo_blueprint() -> str:
    """Auvo's v2 API blueprint (API Blueprint text)."""
    return spec_file(AUVO_BLUEPRINT).read_text(encoding="utf-8")
