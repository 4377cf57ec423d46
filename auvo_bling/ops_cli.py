"""The ops commands: `auvo-bling dlq ...` and `auvo-bling status`.

For the people who run the bridge: see what failed and why, put it back once the cause is fixed,
and see whether everything moves, without opening the RabbitMQ console or reading code.
Readable tables by default; `--json` prints nothing but data on stdout (progress and messages go
to stderr), so scripts can pipe it. Exit codes: 0 done, 1 something asked for could not be done
(not found, not confirmed, a replay failed, a status part is broken), 2 bad usage or settings.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from auvo_bling.cli_options import ConfigOption, TenantOption, tenant_app

if TYPE_CHECKING:
    from rich.console import Console

    from infra.bus.dlq import DlqSession, Held
    from infra.bus.dlq_records import DeadLetter, DeadLetterFilter

dlq_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Inspect, replay, purge, export and import the dead-letter queue.",
)
status_app = typer.Typer(
    add_completion=False,
    help="Queues, dead letters, poller cursors, the Bling token and the last writes, at a glance.",
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print only data (JSON) on stdout; no progress.")]
ErrorClassOption = Annotated[
    list[str] | None,
    typer.Option("--error-class", "--error", "-e", help="Error class (shell pattern, repeatable)."),
]
EventTypeOption = Annotated[
    list[str] | None, typer.Option("--event-type", "-t", help="Event type, e.g. 'auvo.*' (repeatable).")
]
ConsumerOption = Annotated[
    list[str] | None, typer.Option("--consumer", help="Consumer queue, e.g. to-auvo.customers (repeatable).")
]
OlderOption = Annotated[
    str | None, typer.Option("--older-than", help="Dead-lettered more than this long ago (10m, 2h, 1d).")
]
NewerOption = Annotated[
    str | None, typer.Option("--newer-than", help="Dead-lettered less than this long ago (10m, 2h, 1d).")
]
LimitOption = Annotated[int | None, typer.Option("--limit", "-n", min=1, help="At most this many.")]
IdArgument = Annotated[
    str | None, typer.Argument(metavar="ID", help="A dead letter's id (or its first 6+ characters).")
]


# --- plumbing -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _session(config: Path | None, tenant: str | None) -> Iterator[DlqSession]:
    from infra.bus.dlq import DlqSession

    app = tenant_app(config, tenant, log_level="warning")
    try:
        with DlqSession(app.settings.amqp_url, app.topology) as session:
            yield session
    finally:
        app.close()


def _filter(
    *,
    ident: str | None = None,
    error_class: list[str] | None = None,
    event_type: list[str] | None = None,
    consumer: list[str] | None = None,
    older_than: str | None = None,
    newer_than: str | None = None,
) -> DeadLetterFilter:
    from infra.bus.dlq_records import DeadLetterFilter, parse_duration

    def duration(value: str | None, name: str) -> Any:
        if value is None:
            return None
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=name) from None

    return DeadLetterFilter(
        error_classes=tuple(error_class or ()),
        event_types=tuple(event_type or ()),
        consumers=tuple(consumer or ()),
        ids=(ident,) if ident else (),
        older_than=duration(older_than, "--older-than"),
        newer_than=duration(newer_than, "--newer-than"),
    )


def _out(width: int = 200) -> Console:
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else width, highlight=False, soft_wrap=False)


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@contextlib.contextmanager
def _progress(label: str, total: int | None, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (nothing when quiet or not on a terminal)."""
    if quiet or not sys.stderr.isatty():
        yield lambda _n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def _read(session: DlqSession, flt: DeadLetterFilter, limit: int | None, quiet: bool) -> list[Held]:
    from infra.bus.dlq import collect

    with _progress("reading the DLQ", session.depth(), quiet) as tick:
        return collect(session, flt, limit=limit, progress=tick)


def _require_selection(ident: str | None, flt: DeadLetterFilter, all_: bool, verb: str) -> None:
    if ident is None and flt.is_empty and not all_:
        raise typer.BadParameter(f"say what to {verb}: an ID, a filter (see --help) or --all")


def _letters_table(held: list[Held], title: str | None = None) -> Any:
    from rich.table import Table

    from infra.bus.dlq_records import format_age

    now = datetime.now(UTC)
    table = Table(title=title, title_justify="left", show_lines=False)
    for name, kwargs in (
        ("ID", {"no_wrap": True}),
        ("AGE", {"justify": "right", "no_wrap": True}),
        ("EVENT TYPE", {"no_wrap": True}),
        ("ENTITY", {"no_wrap": True}),
        ("CONSUMER", {"no_wrap": True}),
        ("ERROR CLASS", {"no_wrap": True}),
        ("HINT", {"overflow": "fold"}),
    ):
        table.add_column(name, **kwargs)
    for item in held:
        row = item.letter.summary(now)
        table.add_row(
            row["id"],
            format_age(item.letter.age(now)),
            row["event_type"],
            row["entity_id"] or "-",
            row["consumer"] or "-",
            row["error_class"],
            row["hint"] or "-",
        )
    return table


# --- dlq ----------------------------------------------------------------------------------------


@dlq_app.command("list")
def list_(
    config: ConfigOption = None,
    tenant: TenantOption = None,
    error_class: ErrorClassOption = None,
    event_type: EventTypeOption = None,
    consumer: ConsumerOption = None,
    older_than: OlderOption = None,
    newer_than: NewerOption = None,
    limit: LimitOption = None,
    as_json: JsonOption = False,
) -> None:
    """A table of dead letters: id, age, event type, entity, consumer, error class, hint."""
    flt = _filter(
        error_class=error_class,
        event_type=event_type,
        consumer=consumer,
        older_than=older_than,
        newer_than=newer_than,
    )
    with _session(config, tenant) as session:
        held = _read(session, flt, limit, as_json)
        total = session.depth() + len(held)  # what we hold is not "ready" while we hold it
        _index_what_was_read(config, tenant, held)
    if as_json:
        _print_json([h.letter.summary() for h in held])
        return
    if not held:
        typer.echo(f"no dead letters match ({total} in {session.queue_name})")
        return
    _out().print(_letters_table(held))
    typer.echo(f"{len(held)} shown of {total} in {session.queue_name}")


@dlq_app.command()
def show(
    ident: Annotated[
        str, typer.Argument(metavar="ID", help="The dead letter's id (or its first 6+ characters).")
    ],
    config: ConfigOption = None,
    tenant: TenantOption = None,
    as_json: JsonOption = False,
) -> None:
    """One dead letter in full: diagnosis, headers and body (secrets redacted)."""
    with _session(config, tenant) as session:
        held = _read(session, _filter(ident=ident), None, True)
    ids = sorted({h.letter.id for h in held})
    if not held:
        _err(f"no dead letter with id {ident!r}")
        raise typer.Exit(1)
    if len(ids) > 1:
        _err(f"id {ident!r} is ambiguous: {', '.join(ids)}")
        raise typer.Exit(1)
    detail = {**held[0].letter.detail(), "copies": len(held)}
    if as_json:
        _print_json(detail)
        return
    for key in ("id", "event_type", "entity_id", "consumer", "error_class", "error_message", "hint"):
        typer.echo(f"{key + ':':<15}{detail[key] or '-'}")
    typer.echo(f"{'attempts:':<15}{detail['attempts']}")
    typer.echo(f"{'dead-lettered:':<15}{detail['dead_lettered_at'] or '?'}")
    typer.echo(f"{'routing key:':<15}{detail['routing_key']}")
    if len(held) > 1:
        typer.echo(f"{'copies:':<15}{len(held)} (the same event dead-lettered more than once)")
    typer.echo("headers:\n" + json.dumps(detail["headers"], ensure_ascii=False, indent=2, sort_keys=True))
    typer.echo("properties:\n" + json.dumps(detail["properties"], ensure_ascii=False, indent=2))
    typer.echo("body:\n" + json.dumps(detail["body"], ensure_ascii=False, indent=2))


@dlq_app.command()
def replay(
    ident: IdArgument = None,
    config: ConfigOption = None,
    tenant: TenantOption = None,
    error_class: ErrorClassOption = None,
    event_type: EventTypeOption = None,
    consumer: ConsumerOption = None,
    older_than: OlderOption = None,
    newer_than: NewerOption = None,
    limit: LimitOption = None,
    all_: Annotated[bool, typer.Option("--all", help="Every dead letter.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be replayed, change nothing.")
    ] = False,
    group: Annotated[
        str | None, typer.Option("--group", "-g", help="A group's fingerprint (`dlq groups`): one operation.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Republish dead letters to their consumer's queue; each leaves the DLQ only after the confirm."""
    from infra.bus.dlq import replay_all

    if group is not None and not dry_run:
        from auvo_bling.failures_cli import replay_group

        replay_group(config, tenant, group, as_json)
        return

    flt = _filter(
        ident=ident,
        error_class=error_class,
        event_type=event_type,
        consumer=consumer,
        older_than=older_than,
        newer_than=newer_than,
    )
    _require_selection(ident, flt, all_, "replay")
    with _session(config, tenant) as session:
        held = _read(session, flt, limit, as_json)
        if dry_run:
            plan = [{**h.letter.summary(), "target": _target(session, h)} for h in held]
        else:
            with _progress("replaying", len(held), as_json) as tick:
                report = replay_all(session, held, progress=tick)
            done = {i for i, _ in report.replayed}
            _mark_in_index(config, tenant, [h.letter for h in held if h.letter.id in done], "replayed")
    if dry_run:
        if as_json:
            _print_json({"dry_run": True, "would_replay": plan})
        else:
            for row in plan:
                typer.echo(f"would replay {row['id']}  {row['error_class']}  -> {row['target']}")
            typer.echo(f"{len(plan)} would be replayed (dry run: nothing changed)")
        return
    if as_json:
        _print_json(
            {
                "replayed": [{"id": i, "target": t} for i, t in report.replayed],
                "failed": [{"id": i, "error": e} for i, e in report.failed],
            }
        )
    else:
        for i, error in report.failed:
            _err(f"FAILED {i}: {error} (still in the DLQ)")
        typer.echo(f"replayed {len(report.replayed)}, failed {len(report.failed)}")
    if report.failed or (ident is not None and not held):
        if ident is not None and not held:
            _err(f"no dead letter with id {ident!r}")
        raise typer.Exit(1)


def _index_what_was_read(config: Path | None, tenant: str | None, held: list[Held]) -> None:
    """A read of the queue puts what it saw into the index: how the broker's own dead letters get
    their rows between `dlq reindex` runs (a failing store never fails the list)."""
    from infra.bus.dlq_index import entry_of

    app = tenant_app(config, tenant, log_level="warning")
    try:
        entries = [entry_of(h.letter, tenant=app.tenant) for h in held]
        app.store.index_dead_letters([replace(e, replay_operation=None) for e in entries])
    except Exception as exc:
        _err(f"(the dead-letter index was not updated: {exc})")
    finally:
        app.close()


def _mark_in_index(config: Path | None, tenant: str | None, letters: list[DeadLetter], state: str) -> None:
    """A replay or purge by id or filter tells the index what left the queue (as `dlq replay --group`
    does through auvo_bling/failures.py); a failing store never fails the command: reindex settles it."""
    from infra.store import LetterState

    app = tenant_app(config, tenant, log_level="warning")
    try:
        keys = [(letter.tenant or app.tenant, letter.consumer, letter.id) for letter in letters]
        app.store.mark_dead_letters(keys, LetterState(state))
    except Exception as exc:
        _err(f"(the dead-letter index was not updated: {exc})")
    finally:
        app.close()


def _target(session: DlqSession, held: Held) -> str:
    exchange, key = session.replay_target(held.letter)
    return key if not exchange else f"{exchange} [{key}]"


@dlq_app.command()
def purge(
    ident: IdArgument = None,
    config: ConfigOption = None,
    tenant: TenantOption = None,
    error_class: ErrorClassOption = None,
    event_type: EventTypeOption = None,
    consumer: ConsumerOption = None,
    older_than: OlderOption = None,
    newer_than: NewerOption = None,
    limit: LimitOption = None,
    all_: Annotated[bool, typer.Option("--all", help="Every dead letter.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete dead letters for good (asks first unless --yes); export them first if in doubt."""
    flt = _filter(
        ident=ident,
        error_class=error_class,
        event_type=event_type,
        consumer=consumer,
        older_than=older_than,
        newer_than=newer_than,
    )
    _require_selection(ident, flt, all_, "purge")
    with _session(config, tenant) as session:
        held = _read(session, flt, limit, as_json)
        if held and not yes:
            if not as_json:
                _out().print(_letters_table(held, title="to purge"))
            if not typer.confirm(f"Purge these {len(held)} dead letters for good?", err=True):
                _err("nothing purged")
                raise typer.Exit(1)
        for item in held:
            session.remove(item)
    _mark_in_index(config, tenant, [h.letter for h in held], "purged")
    if as_json:
        _print_json({"purged": [h.letter.id for h in held]})
    else:
        typer.echo(f"purged {len(held)}")
    if ident is not None and not held:
        _err(f"no dead letter with id {ident!r}")
        raise typer.Exit(1)


@dlq_app.command("export")
def export(
    file: Annotated[Path, typer.Argument(help="JSON Lines file to write ('-' for stdout).")],
    config: ConfigOption = None,
    tenant: TenantOption = None,
    error_class: ErrorClassOption = None,
    event_type: EventTypeOption = None,
    consumer: ConsumerOption = None,
    older_than: OlderOption = None,
    newer_than: NewerOption = None,
    limit: LimitOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write dead letters (body, headers, routing key) to JSON Lines; they stay in the DLQ."""
    from infra.bus.dlq import write_export

    flt = _filter(
        error_class=error_class,
        event_type=event_type,
        consumer=consumer,
        older_than=older_than,
        newer_than=newer_than,
    )
    to_stdout = str(file) == "-"
    with _session(config, tenant) as session:
        held = _read(session, flt, limit, as_json or to_stdout)
        if to_stdout:
            count = write_export(held, sys.stdout)
        else:
            with file.open("w", encoding="utf-8") as out:
                count = write_export(held, out)
    if to_stdout:
        return
    if as_json:
        _print_json({"exported": count, "file": str(file)})
    else:
        typer.echo(f"exported {count} dead letters to {file}")


@dlq_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="JSON Lines file written by `dlq export`.", exists=True)],
    config: ConfigOption = None,
    tenant: TenantOption = None,
    as_json: JsonOption = False,
) -> None:
    """Put exported dead letters back into the DLQ (each publish confirmed); replay them from there."""
    from infra.bus.dlq import read_export

    try:
        letters = read_export(file)  # the whole file first: a bad line publishes nothing
    except ValueError as exc:
        raise typer.BadParameter(f"not a dlq export: {exc}", param_hint="FILE") from None
    with _session(config, tenant) as session, _progress("importing", len(letters), as_json) as tick:
        for letter in letters:
            session.put(letter)
            tick(1)
    if as_json:
        _print_json({"imported": len(letters), "file": str(file)})
    else:
        typer.echo(f"imported {len(letters)} dead letters into {session.queue_name}")


# --- status ------------------------------------------------------------------------------------


@status_app.callback(invoke_without_command=True)
def status(
    config: ConfigOption = None,
    tenant: TenantOption = None,
    as_json: JsonOption = False,
    dlq_scan_limit: Annotated[
        int, typer.Option(min=0, help="Read at most this many dead letters to count them by error class.")
    ] = 10_000,
) -> None:
    """Per queue ready/unacked/consumers, the DLQ by error class, cursors, token expiry, last writes."""
    from auvo_bling.status import collect_status

    app = tenant_app(config, tenant, log_level="warning")
    try:
        data = collect_status(app, max_dlq_scan=dlq_scan_limit)
    finally:
        app.close()
    if as_json:
        _print_json(data)
    else:
        _render_status(data)
    if data["errors"]:
        raise typer.Exit(1)


def _render_status(data: dict[str, Any]) -> None:
    from rich.table import Table

    from infra.bus.dlq_records import format_age

    def num(value: Any) -> str:
        return "-" if value is None else (f"{value:.1f}" if isinstance(value, float) else str(value))

    def ago(seconds: float | None) -> str:
        return "-" if seconds is None else format_age(_td(seconds)) + " ago"

    out = _out()
    paused = data.get("paused")
    budget = data.get("bling_budget")
    if paused and paused.get("daily_quota"):
        out.print(
            f"tenant {data['tenant']} waits for the DAILY QUOTA since {paused['since']}: "
            f"{paused['error_class']}: {paused['reason']}\n  it resumes by itself (a probe answers, or the "
            "Bling day turns at midnight Brasília); its events wait in its queues"
        )
    elif paused:
        resume = f"auvo-bling tenants resume {data['tenant']}"
        out.print(
            f"tenant {data['tenant']} is PAUSED since {paused['since']}: {paused['error_class']}: "
            f"{paused['reason']}\n  fix: {paused['hint'] or '-'}; then `{resume}`"
        )
    if budget is not None:
        out.print(
            f"daily quota ({budget['day']}): {budget['used']} of {budget['budget']} Bling calls used, "
            f"{budget['remaining']} remaining ({budget['reserve']} kept for live writes), "
            f"projected {budget['projected']} at the current pace"
            + (" - SPENT" if budget["exhausted"] else "")
        )
    queues = Table(title=f"queues (source: {data.get('source') or 'unavailable'})", title_justify="left")
    for col in ("QUEUE", "READY", "UNACKED", "CONSUMERS", "RETRYING", "IN/S", "ACK/S"):
        queues.add_column(col, justify="left" if col == "QUEUE" else "right", no_wrap=True)
    for q in data.get("queues", []):
        if not q["exists"]:
            queues.add_row(q["queue"], "absent", "", "", "", "", "")
            continue
        queues.add_row(
            q["queue"],
            num(q["ready"]),
            num(q["unacked"]),
            num(q["consumers"]),
            num(q["retrying"]),
            num(q["publish_rate"]),
            num(q["ack_rate"]),
        )
    out.print(queues)

    dlq = data.get("dlq")
    if dlq is not None:
        scanned = "" if dlq["scanned"] >= dlq["total"] else f", first {dlq['scanned']} read"
        out.print(f"dead letters: {dlq['total']} in {dlq['queue']}{scanned}")
        table = Table()
        table.add_column("ERROR CLASS", no_wrap=True)
        table.add_column("COUNT", justify="right")
        for name, count in dlq["by_error_class"].items():
            table.add_row(name, str(count))
        out.print(table)

    pollers = Table(title="poller cursors", title_justify="left")
    for col in ("CURSOR", "VALUE", "ADVANCED"):
        pollers.add_column(col, no_wrap=True)
    for p in data.get("pollers") or []:
        pollers.add_row(p["cursor"], p["value"], ago(p["seconds_since_advanced"]))
    out.print(pollers if data.get("pollers") else "poller cursors: none yet (no poll has completed)")

    schedule = Table(title="poll schedule (stretched while idle)", title_justify="left")
    for col in ("POLLER", "INTERVAL", "NEXT PASS"):
        schedule.add_column(col, no_wrap=True)
    for row in data.get("schedule") or []:
        left = row["seconds_to_next_pass"]
        when = f"in {left:.0f}s" if left >= 0 else f"due {-left:.0f}s ago"
        schedule.add_row(row["poller"], f"{row['interval_seconds']:g}s", when)
    if data.get("schedule"):
        out.print(schedule)

    heard = Table(title="last heard from", title_justify="left")
    for col in ("SOURCE", "BY WEBHOOK", "BY POLL"):
        heard.add_column(col, no_wrap=True)
    for h in data.get("heard") or []:
        heard.add_row(h["stream"], ago(h["seconds_since_webhook"]), ago(h["seconds_since_poll"]))
    if data.get("heard"):
        out.print(heard)

    token = data.get("bling_token")
    if token is not None:
        if token["authorized"]:
            left = token["expires_in_seconds"]
            when = (
                f"in {format_age(_td(left))}"
                if left >= 0
                else f"{format_age(_td(-left))} ago (refreshed on use)"
            )
            out.print(
                f"bling token: expires {token['expires_at']} ({when}), refreshed from {token['refresh_from']}"
            )
        else:
            out.print("bling token: not authorized (run `auvo-bling authorize`)")
    egress = data.get("egress")
    if egress is not None:
        spent = ", ".join(
            f"{label} {egress[key]['used']}/{egress[key]['limit']}"
            for key, label in (
                ("token_calls_60s", "token calls in 60 s"),
                ("requests_10s", "requests in 10 s"),
                ("errors_10s", "errors in 10 s"),
            )
        )
        out.print(f"bling egress group {egress['group']}: {spent}")

    flows = Table(title="flows", title_justify="left")
    for col in ("FLOW", "QUEUE", "LAST WRITE", "LAST HANDLED", "COUNTS"):
        flows.add_column(col, no_wrap=col != "COUNTS", overflow="fold")
    for f in data.get("flows") or []:
        counts = ", ".join(f"{k}={v}" for k, v in sorted(f["counters"].items()))
        flows.add_row(
            f["flow"],
            f["queue"] or "-",
            ago(f["seconds_since_write"]),
            f["last_handled_at"] or "-",
            counts or "-",
        )
    out.print(flows if data.get("flows") else "flows: nothing handled yet")

    for part, error in (data.get("errors") or {}).items():
        _err(f"status: {part} unavailable: {error}")


def _td(seconds: float) -> Any:
    from datetime import timedelta

    return timedelta(seconds=seconds)
