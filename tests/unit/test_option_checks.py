"""Task type and customer group ids in the settings must exist in Auvo."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from auvo_bling.option_checks import check_task_options
from infra.errors import ConfigurationError
from infra.settings import TaskSettings


class FakeAuvo:
    def iter_task_types(self, param_filter: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        yield from ({"id": 201, "description": "Instalação"}, {"id": 202, "description": "Manutenção"})

    def iter_customer_groups(self, param_filter: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        yield from ({"id": 101, "description": "VIP"}, {"id": 102, "description": "Condomínios"})


@pytest.mark.parametrize(
    "tasks",
    [
        TaskSettings(enabled=True),
        TaskSettings(enabled=True, task_types=[201, 202], customer_group=102),
        TaskSettings(enabled=False, task_types=[999], customer_group=999),  # off: nothing to check
    ],
)
def test_known_ids_pass(tasks: TaskSettings) -> None:
    check_task_options(tasks, FakeAuvo())


def test_unknown_task_type_names_it_and_lists_the_existing_ones() -> None:
    with pytest.raises(ConfigurationError) as err:
        check_task_options(TaskSettings(enabled=True, task_types=[201, 299]), FakeAuvo())
    message = str(err.value)
    assert "tasks.task_types [AUVO_BLING_TASKS__TASK_TYPES]: no Auvo task type [299]" in message
    assert "201 (Instalação), 202 (Manutenção)" in message


def test_unknown_group_and_type_are_both_reported() -> None:
    with pytest.raises(ConfigurationError) as err:
        check_task_options(TaskSettings(enabled=True, task_types=[1], customer_group=7), FakeAuvo())
    message = str(err.value)
    assert "no Auvo task type [1]" in message
    assert "no Auvo customer group 7; the groups are: 101 (VIP), 102 (Condomínios)" in message
