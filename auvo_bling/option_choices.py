"""The choices the guide's panel fills from Auvo: "Tipos de tarefa" and "Grupo de clientes".

The option table (contracts/option_fields.py) names them by `choices_source`; here they are read
from Auvo through the client the caller has (the console, a CLI command), so a person picks a
name instead of typing Auvo's numeric ids. Auvo has no list of quotation stages: "Status dos
orçamentos" stays a text field (matched by name, case and accents ignored).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from auvo_bling.option_checks import AuvoCatalog
from contracts.option_fields import Choice, OptionField


def _choices(records: Iterable[dict[str, Any]]) -> tuple[Choice, ...]:
    found = []
    for record in records:
        if record.get("id") is None:
            continue
        label = str(record.get("description") or record["id"])
        found.append(Choice(str(int(record["id"])), label, label))
    return tuple(sorted(found, key=lambda c: c.label_pt.casefold()))


def auvo_choices(option: OptionField, auvo: AuvoCatalog) -> tuple[Choice, ...]:
    """The option's fixed choices, or those Auvo lists for it (one paged read)."""
    if option.choices_source == "auvo.task_types":
        return _choices(auvo.iter_task_types())
    if option.choices_source == "auvo.customer_groups":
        return _choices(auvo.iter_customer_groups())
    return option.choices
