"""`auvo-bling why QUERY`: "Por que não integrou?" on the command line (the console shows the same
story): a task, quotation or customer id, or a CPF/CNPJ, and what became of it."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from auvo_bling.cli_options import ConfigOption, TenantOption, tenant_app

QueryArgument = Annotated[str, typer.Argument(help="An Auvo task, quotation or customer id, or a CPF/CNPJ.")]
LangOption = Annotated[str, typer.Option("--lang", help="pt (default, the guide's words) or en.")]
SubjectOption = Annotated[
    str | None,
    typer.Option(
        "--subject",
        help="When a number is several records: auvo.task, auvo.quotation, auvo.customer, bling.contato.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="The story as JSON.")]
NoAuvoOption = Annotated[
    bool,
    typer.Option(
        "--no-auvo", help="Never ask Auvo (by default a task the store knows nothing of is looked up)."
    ),
]


def why_command(
    query: QueryArgument,
    config: ConfigOption = None,
    tenant: TenantOption = None,
    lang: LangOption = "pt",
    subject: SubjectOption = None,
    as_json: JsonOption = False,
    no_auvo: NoAuvoOption = False,
) -> None:
    """Why was this record integrated, left out, or failed? Its story, and what to do next."""
    from auvo_bling.story import record_story, story_lines
    from producers.task_selection import TaskRules

    if lang not in ("pt", "en"):
        raise typer.BadParameter("use pt or en", param_hint="--lang")
    app = tenant_app(config, tenant, log_level="warning")
    try:
        settings = app.settings
        ask_auvo = not no_auvo and settings.auvo.api_key is not None
        group = settings.tasks.customer_group

        def group_members() -> set[int]:
            """The configured group's customers, read only if the task passed every other rule."""
            return {int(c["id"]) for c in app.auvo.iter_group_clients(group or 0) if "id" in c}

        story = record_story(
            app.store,
            app.tenant,
            query,
            subject=subject,
            auvo=app.auvo if ask_auvo else None,
            task_rules=TaskRules.from_settings(settings.tasks) if ask_auvo else None,
            group_members=group_members,
            retention_days=settings.retention_days,
        )
    finally:
        app.close()
    if as_json:
        typer.echo(json.dumps(story.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        typer.echo("\n".join(story_lines(story, lang)))
