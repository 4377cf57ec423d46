"""`auvo-bling backfill`: the typer command over one tenant's clients and store."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from auvo_bling.backfill.progress import make_progress
from auvo_bling.backfill.run import Backfill
from auvo_bling.cli_options import ConfigOption, TenantOption, tenant_app
from contracts.options import Direction
from infra.errors import BudgetReservedForWrites, DailyQuota, IntegrationError

if TYPE_CHECKING:
    pass


def backfill_command(
    config: ConfigOption = None,
    tenant: TenantOption = None,
    direction: Annotated[
        Direction | None,
        typer.Option(help="Override customers.direction for this run (default: the setting)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read and pair, print what would be written, write nothing.")
    ] = False,
    max_email_reads: Annotated[
        int,
        typer.Option(
            min=0,
            help="auvo_to_bling only: at most this many document-less Bling contatos read in full "
            "for e-mail matching (1 Bling call each).",
        ),
    ] = 1000,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress; only the summary.")] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON on stdout (progress stays on stderr).")
    ] = False,
) -> None:
    """The initial full customer sync: pair what already exists on both sides, write only what is missing.

    Safe to stop (Ctrl-C) and run again: it re-reads both sides and continues without duplicating.
    """
    app = tenant_app(config, tenant)
    settings = app.settings
    app.require_credentials()
    progress = make_progress(quiet=quiet)
    job = Backfill(
        app.store,
        app.auvo,
        app.bling,
        tenant=app.tenant,
        direction=direction or settings.customers.direction,
        progress=progress,
        max_email_reads=max_email_reads,
        dry_run=dry_run,
        bling_quota_per_second=settings.bling.requests_per_second,
        budget=app.budget,
    )
    code = 0
    try:
        summary = job.run()
        code = 1 if summary.failed else 0
    except KeyboardInterrupt:
        code = 130
    except (BudgetReservedForWrites, DailyQuota) as exc:
        print(f"auvo-bling: backfill stopped at the daily Bling budget: {exc.message}", file=sys.stderr)
        print("run `auvo-bling backfill` again after midnight Brasília: it resumes", file=sys.stderr)
        job.summary.interrupted = job.summary.stopped_at_budget = True
        code = 1
    except IntegrationError as exc:
        print(f"auvo-bling: backfill stopped: {exc.message}", file=sys.stderr)
        job.summary.interrupted = True
        code = 1
    finally:
        closer = getattr(progress, "close", None)
        if closer is not None:
            closer()
        app.close()
    if code and job.summary.interrupted:
        print("run `auvo-bling backfill` again to resume; nothing is duplicated", file=sys.stderr)
    if json_output:
        print(json.dumps(job.summary.as_dict(), ensure_ascii=False, indent=2))
    else:
        print(job.summary.render())
    raise typer.Exit(code)
