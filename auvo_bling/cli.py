"""The `auvo-bling` command line: thin commands over the composition root.

Bad configuration is one line on stderr and exit code 2, before anything starts.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from auvo_bling import failures_cli  # noqa: F401  (registers the index's `dlq` commands)
from auvo_bling.backfill.command import backfill_command
from auvo_bling.bus_cli import bus_app
from auvo_bling.cli_options import ConfigOption, TenantOption, tenant_app
from auvo_bling.console_cli import console_app
from auvo_bling.db_cli import db_app
from auvo_bling.ops_cli import dlq_app, status_app
from auvo_bling.options_cli import audit_command, options_app
from auvo_bling.products_cli import products_app
from auvo_bling.tenants_cli import tenants_app
from auvo_bling.webhooks_cli import webhooks_app
from auvo_bling.why_cli import why_command
from infra.errors import ConfigurationError, IntegrationError
from infra.logging import configure_logging, scrub
from infra.settings import load_settings

if TYPE_CHECKING:
    from auvo_bling.runtime import Running
    from auvo_bling.tenancy import Deployment
    from infra.health import Report

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Event-driven Auvo <> Bling integration: pollers publish changes, consumers write them.",
)

app.add_typer(dlq_app, name="dlq")
app.add_typer(status_app, name="status")
app.command("backfill")(backfill_command)
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(tenants_app, name="tenants")
app.add_typer(db_app, name="db")
app.add_typer(bus_app, name="bus")
app.add_typer(console_app, name="console")
app.add_typer(options_app, name="options")
app.command("audit")(audit_command)
app.command("why")(why_command)
app.add_typer(products_app, name="products")

MetricsPortOption = Annotated[
    int | None,
    typer.Option("--metrics-port", help="Serve Prometheus /metrics (and /healthz, /readyz) on this port."),
]
MetricsHostOption = Annotated[
    str | None,
    typer.Option(
        "--metrics-host",
        help="Address --metrics-port binds (default: the metrics_host setting, 127.0.0.1; "
        "0.0.0.0 in a container).",
    ),
]


class _Started:
    """What `/readyz` reads: "starting" until the pieces run, then their readiness.

    The endpoint is up before the pieces start, so a probe during a slow start (a broker that is
    not there yet) gets a 503 with the reason instead of a refused connection.
    """

    def __init__(self) -> None:
        self.running: Running | None = None

    def readiness(self) -> Report:
        from infra.health import Report

        if self.running is None:
            return Report(("starting",))
        return self.running.readiness()


def _serve_metrics(port: int | None, host: str | None, deployment: Deployment) -> _Started:
    started = _Started()
    if port:
        from infra.metrics import start_metrics_server

        bind = host or deployment.settings.metrics_host
        try:
            start_metrics_server(port, bind, ready=started.readiness)
        except OSError as exc:  # a port in use is a setting to fix, not a crash to restart
            deployment.close()
            raise ConfigurationError(
                f"cannot serve metrics on {bind}:{port}: {exc.strerror or exc} "
                "(--metrics-port / metrics_host)"
            ) from None
    return started


def _run_until_signal(started: _Started, running: Running) -> None:
    from auvo_bling.runtime import wait_for_signal

    started.running = running
    wait_for_signal(running)


def _deployment(config: Path | None, **runs: Any) -> Deployment:
    """Every enabled tenant, credentials checked, task options checked against Auvo; `runs`
    (worker_threads, consumers, producers) sizes the database pool for what this process runs."""
    from auvo_bling.tenancy import Deployment

    settings = load_settings(config)
    configure_logging(settings.log_format, settings.log_level)
    deployment = Deployment.of(settings, **runs)
    try:
        for application in deployment.apps:
            application.require_credentials()
    except BaseException:
        deployment.close()
        raise
    return deployment


def _check_options(application: Any) -> None:
    """Unknown task type or customer group ids stop the pollers before they filter out everything."""
    from auvo_bling.option_checks import check_task_options

    check_task_options(application.settings.tasks, application.auvo)


@app.command()
def demo(
    customers: Annotated[int, typer.Option(help="Customers seeded on each side.", min=1)] = 200,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 55.0,
) -> None:
    """Run the whole flow on the embedded default (in-memory bus, SQLite, both simulators)."""
    from auvo_bling.demo import run_demo

    configure_logging("console", "warning")
    result = run_demo(customers, timeout=timeout)
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def run(
    config: ConfigOption = None,
    metrics_port: MetricsPortOption = None,
    metrics_host: MetricsHostOption = None,
    console_port: Annotated[
        int | None,
        typer.Option("--console-port", help="Also serve the web console on this port (on console.host)."),
    ] = None,
) -> None:
    """Producers and consumers of every enabled tenant in one process, until SIGINT/SIGTERM."""
    from auvo_bling.runtime import start

    deployment = _deployment(config)
    for application in deployment.apps:
        _check_options(application)
    started = _serve_metrics(metrics_port, metrics_host, deployment)
    if console_port is not None:
        from auvo_bling.console_cli import start_in_background

        settings = deployment.settings
        start_in_background(settings, deployment.store, config, settings.console.host, console_port)
    _run_until_signal(started, start(deployment.apps, registry=deployment))


@app.command()
def produce(
    config: ConfigOption = None,
    metrics_port: MetricsPortOption = None,
    metrics_host: MetricsHostOption = None,
) -> None:
    """Only the pollers (of every enabled tenant); a second one stands by until the first stops
    (with bus.topology = shared, several share the tenants' polling)."""
    from auvo_bling.runtime import start

    deployment = _deployment(config, consumers=False)
    for application in deployment.apps:
        _check_options(application)
    started = _serve_metrics(metrics_port, metrics_host, deployment)
    _run_until_signal(started, start(deployment.apps, consumers=False, registry=deployment))


@app.command()
def consume(
    config: ConfigOption = None,
    metrics_port: MetricsPortOption = None,
    metrics_host: MetricsHostOption = None,
    threads: Annotated[int, typer.Option(help="Consumer threads in this process.", min=1)] = 1,
    processes: Annotated[
        int,
        typer.Option(
            help="Consumer processes to run and keep running (restarted with backoff; a crash loop "
            "stops them all, exit 1). Child i serves metrics on --metrics-port + i.",
            min=1,
        ),
    ] = 1,
) -> None:
    """Only the consumers (of every enabled tenant): run as many of these processes as you like."""
    from auvo_bling.runtime import start

    deployment = _deployment(config, worker_threads=threads, producers=False)
    if processes > 1:
        from auvo_bling.supervisor import supervise

        deployment.close()
        raise typer.Exit(
            supervise(processes, config, threads, metrics_port=metrics_port, metrics_host=metrics_host)
        )
    started = _serve_metrics(metrics_port, metrics_host, deployment)
    _run_until_signal(
        started, start(deployment.apps, producers=False, worker_threads=threads, registry=deployment)
    )


@app.command()
def simulate(
    auvo_port: Annotated[int, typer.Option(help="Port of the Auvo simulator.")] = 8081,
    bling_port: Annotated[int, typer.Option(help="Port of the Bling simulator.")] = 8082,
    customers: Annotated[int, typer.Option(help="Customers/contacts seeded on each side.")] = 50,
    client_id: Annotated[str, typer.Option(help="Client ID the Bling simulator accepts.")] = "sim-client-id",
    client_secret: Annotated[
        str, typer.Option(help="Client secret the Bling simulator accepts.")
    ] = "sim-client-secret",
    redirect_uri: Annotated[str, typer.Option(help="Redirect URI of the simulated Bling app.")] = (
        "http://127.0.0.1:8765/callback"
    ),
    accounts: Annotated[
        int,
        typer.Option(
            min=1,
            help="Simulated companies, each its own Auvo and Bling account under "
            "the path /tNNNN (more than 1: --customers is per company, --client-* ignored).",
        ),
    ] = 1,
    tenants_toml: Annotated[
        Path | None,
        typer.Option(
            "--tenants-toml",
            help="With --accounts: write the companies' [tenants.*] "
            "sections here (a config file to merge, or to run as is).",
        ),
    ] = None,
) -> None:
    """Serve both simulators on localhost until Ctrl-C, seeded with generated data."""
    if accounts > 1 or tenants_toml is not None:
        servers = _serve_fleet(accounts, customers, auvo_port, bling_port, tenants_toml)
    else:
        from simulators.auvo import AuvoState, create_auvo_app
        from simulators.bling import BlingState, create_bling_app
        from simulators.seed import seed_auvo_customers, seed_bling_contacts
        from simulators.server import serve_in_thread

        auvo_state = AuvoState()
        bling_state = BlingState()
        bling_state.register_app(client_id, client_secret, redirect_uri)
        seed_auvo_customers(auvo_state, customers, rng_seed=1)
        seed_bling_contacts(bling_state, customers, rng_seed=2)
        auvo = serve_in_thread(create_auvo_app(auvo_state), port=auvo_port)
        bling = serve_in_thread(create_bling_app(bling_state), port=bling_port)
        servers = [auvo, bling]
        typer.echo(
            "simulators running (Ctrl-C to stop):\n"
            f"  AUVO_BLING_AUVO__BASE_URL={auvo.url}/v2\n"
            f"  AUVO_BLING_AUVO__API_KEY={auvo_state.api_key}\n"
            f"  AUVO_BLING_AUVO__API_TOKEN={auvo_state.api_token}\n"
            f"  AUVO_BLING_BLING__BASE_URL={bling.url}/Api/v3\n"
            f"  AUVO_BLING_BLING__CLIENT_ID={client_id}\n"
            f"  AUVO_BLING_BLING__CLIENT_SECRET={client_secret}\n"
            f"  AUVO_BLING_BLING__REDIRECT_URI={redirect_uri}"
        )
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.stop()


def _serve_fleet(
    accounts: int, customers: int, auvo_port: int, bling_port: int, tenants_toml: Path | None
) -> list[Any]:
    """Many companies on the two ports (simulators/fleet.py), their settings written as TOML."""
    import tomlkit

    from simulators.fleet import make_fleet
    from simulators.server import serve_in_thread

    fleet = make_fleet(accounts, customers=customers)
    auvo = serve_in_thread(fleet.auvo_app(), port=auvo_port)
    bling = serve_in_thread(fleet.bling_app(), port=bling_port)
    sections = fleet.tenant_sections(auvo.url, bling.url)
    if tenants_toml is not None:
        tenants_toml.write_text(tomlkit.dumps({"tenants": sections}), encoding="utf-8")
    first, last = fleet.accounts[0].name, fleet.accounts[-1].name
    typer.echo(
        f"simulators running for {accounts} companies ({first} .. {last}; Ctrl-C to stop):\n"
        f"  Auvo  {auvo.url}/<company>/v2\n"
        f"  Bling {bling.url}/<company>/Api/v3\n"
        + (
            f"  their [tenants.*] sections: {tenants_toml}"
            if tenants_toml is not None
            else "  pass --tenants-toml FILE for their [tenants.*] sections (credentials included)"
        )
    )
    return [auvo, bling]


@app.command()
def authorize(
    config: ConfigOption = None,
    tenant: TenantOption = None,
    code: Annotated[str | None, typer.Option(help="Authorization code pasted from the callback URL.")] = None,
    state: Annotated[
        str | None, typer.Option(help="The state printed by the run that produced --code.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the browser's callback.")] = 300.0,
) -> None:
    """Authorize the Bling app: open the printed URL, approve, and the callback is taken here."""
    from auvo_bling.authorize import code_from_callback, complete, new_state, start_url, wait_for_callback

    application = tenant_app(config, tenant)
    if code is None:
        expected = new_state()
        typer.echo(f"Open this URL in a browser and approve the app:\n  {start_url(application, expected)}")
        typer.echo(f"waiting for the callback on {application.settings.bling.redirect_uri} ...")
        code = code_from_callback(
            wait_for_callback(application.settings.bling.redirect_uri, timeout), expected
        )
    elif state is not None:
        code = code_from_callback(f"?code={code}&state={state}", state)
    missing = complete(application, code)
    typer.echo("Bling authorized; tokens stored encrypted.")
    if missing:
        typer.echo("missing scopes (add them to the app, then authorize again): " + ", ".join(missing))
        raise typer.Exit(1)


@app.command()
def check(config: ConfigOption = None, tenant: TenantOption = None) -> None:
    """Can it reach the broker, the database, Auvo and Bling? Says which fails and why."""
    from auvo_bling.checks import run_checks

    results = run_checks(tenant_app(config, tenant))
    for name, ok, detail in results:
        typer.echo(f"{'ok  ' if ok else 'FAIL'} {name:<9} {detail}")
    raise typer.Exit(0 if all(ok for _, ok, _ in results) else 1)


def main() -> None:
    try:
        code = app(standalone_mode=False)
    except ConfigurationError as exc:
        print(f"auvo-bling: {exc}", file=sys.stderr)
        sys.exit(2)
    except IntegrationError as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        print(f"auvo-bling: {scrub(str(exc))}{hint}", file=sys.stderr)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:
        # typer >= 0.2x vendors click: its BadParameter is not click's, so match by class name
        if any(cls.__name__ == "ClickException" for cls in type(exc).__mro__):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        raise
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
