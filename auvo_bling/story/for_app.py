"""`story_of(app, query)`: the story with one tenant's App wired in (its store, its Auvo client, its
task options and retention), so the CLI and the console ask the same way."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auvo_bling.story.lookup import record_story
from auvo_bling.story.model import Story
from producers.task_selection import TaskRules

if TYPE_CHECKING:
    from auvo_bling.wiring import App


def story_of(app: App, query: str, *, subject: str | None = None, ask_auvo: bool = True) -> Story:
    """`ask_auvo` False: the store only (no Auvo request, even for a task it never saw)."""
    settings = app.settings
    ask_auvo = ask_auvo and settings.auvo.api_key is not None
    group = settings.tasks.customer_group

    def group_members() -> set[int]:
        """The configured group's customers, read only if the task passed every other rule."""
        return {int(c["id"]) for c in app.auvo.iter_group_clients(group or 0) if "id" in c}

    return record_story(
        app.store,
        app.tenant,
        query,
        subject=subject,
        auvo=app.auvo if ask_auvo else None,
        task_rules=TaskRules.from_settings(settings.tasks) if ask_auvo else None,
        group_members=group_members,
        retention_days=settings.retention_days,
    )
