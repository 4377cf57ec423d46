"""The integration's domain options: the activation guide's choices, named once.

Settings read them from the environment or TOML; producers, consumers and the CLI compare against
them. They carry no configuration machinery, so any layer may import them.
"""

from __future__ import annotations

from enum import StrEnum


class Direction(StrEnum):
    """The guide's "Padrão de integração de clientes"."""

    auvo_to_bling = "auvo_to_bling"
    bling_to_auvo = "bling_to_auvo"
    both = "both"


class TaskStatus(StrEnum):
    """The guide's "Status das tarefas"; Auvo's filter values: infra/auvo/wire.py AUVO_STATUS_FILTER."""

    all = "all"
    not_finished = "not_finished"
    finished_automatically = "finished_automatically"
    finished_manually = "finished_manually"
    finished_auto_or_manual = "finished_auto_or_manual"
