"""The choices the guide's panel fills from Auvo: "Tipos de tarefa" and "Grupo de clientes".

The option table (contracts/option_fields.py) names them by `choices_source`; here they are read
from Auvo through the client the caller has (the console, a CLI command), so a person picks a
name instead of typing Auvo's numeric ids. Auvo has no list of quotation stages: for "Status dos
orçamentos" the choices are the stages the quotations requested in the lookback are in (the
setting matches by name, case and accents ignored, so a stage not listed can still be typed).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from auvo_bling.option_checks import AuvoCatalog
from contracts.option_fields import Choice, OptionField
from infra.auvo.wire import to_auvo_datetime


def _choices(records: Iterable[dict[str, Any]]) -> tuple[Choice, ...]:
    found = []
    for record in records:
        if record.get("id") is None:
            continue
        label = str(record.get("description") or record["id"])
        found.append(Choice(str(int(record["id"])), label, label))
    return tuple(sorted(found, key=lambda c: c.label_pt.casefold()))


def _stages(quotations: Iterable[dict[str, Any]]) -> tuple[Choice, ...]:
    seen: dict[str, Choice] = {}
    for quotation in quotations:
        stage = quotation.get("CurrentStage") or {}
        name = str(stage.get("description") or "").strip() if isinstance(stage, dict) else ""
        if name and name.casefold() not in seen:
            seen[name.casefold()] = Choice(name, name, name)
    return tuple(sorted(seen.values(), key=lambda c: c.label_pt.casefold()))


def auvo_choices(
    option: OptionField, auvo: AuvoCatalog, *, lookback_days: int = 90, now: datetime | None = None
) -> tuple[Choice, ...]:
    """The option's fixed choices, or those Auvo lists for it (one paged read)."""
    if option.choices_source == "auvo.task_types":
        return _choices(auvo.iter_task_types())
    if option.choices_source == "auvo.customer_groups":
        return _choices(auvo.iter_customer_groups())
    iter_quotations = getattr(auvo, "iter_quotations", None)
    if option.choices_source == "auvo.quote_stages" and iter_quotations is not None:
        since = (now or datetime.now(UTC)) - timedelta(days=lookback_days)
        return _stages(iter_quotations({"requestStartDate": to_auvo_datetime(since)}))
    return option.choices
