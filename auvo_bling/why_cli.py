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
    from auvo_bling.story import story_lines
    from auvo_bling.story.for_app import story_of

    if lang not in ("pt", "en"):
        raise typer.BadParameter("use pt or en", param_hint="--lang")
    app = tenant_app(config, tenant, log_level="warning")
    try:
        story = story_of(app, query, subject=subject, ask_auvo=not no_auvo)
    finally:
        app.close()
    if as_json:
        typer.echo(json.dumps(story.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        typer.echo("\n".join(story_lines(story, lang)))
