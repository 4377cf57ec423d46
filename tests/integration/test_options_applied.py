"""A running `auvo-bling run` applies a saved company option without a restart.

A finished task is left out by the saved option `tasks.status = not_finished`; `options set
tasks.status all` changes it while `run` runs; `run` applies the new revision within one poll
interval (plus the margin a loaded machine needs), `options_applied` names it and the `run`
process as "host:pid", and the task's pedido reaches the Bling simulator (the time is printed).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.company_options import options_applied
from auvo_bling.tenancy import Deployment
from infra.settings import load_settings
from tests.integration.test_tasks_quotes import orders, product_line, service_line
from tests.ops_support import Cli, config_file_is_the_truth, write_config
from tests.support import Simulators, wait_until

pytestmark = pytest.mark.integration

POLL_SECONDS = 3.0
# what a loaded CI machine adds to "one poll interval" (process scheduling, the restart's joins)
MARGIN_SECONDS = 4.0


def config(tmp_path: Path, amqp_url: str, pg_url: str, prefix: str, sims: Simulators) -> Path:
    sim = sims.settings_overrides()
    return write_config(
        tmp_path / "auvo-bling.toml",
        {
            "amqp_url": amqp_url,
            "database_url": pg_url,
            "secret_key": "test-secret-key-for-token-encryption",
            "log_format": "json",
            "bus": {"prefix": prefix, "retry_delays_seconds": [0.3, 0.6, 1.0]},
            "poll": {"interval_seconds": POLL_SECONDS, "overlap_seconds": 5.0},
            "tasks": {"enabled": True},  # pinned by the file; tasks.status is the console's
            "auvo": {k: sim["auvo"][k] for k in ("base_url", "api_key", "api_token")},
            "bling": {k: sim["bling"][k] for k in ("base_url", "client_id", "client_secret", "redirect_uri")},
        },
    )


def options(config_file: Path, *args: str) -> str:
    result = Cli(config_file)(*args)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_saved_option_reaches_a_running_run_within_one_poll_interval(
    amqp_url: str,
    pg_url: str,
    bus_prefix: str,
    sims: Simulators,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config_file_is_the_truth(monkeypatch)
    customer = sims.auvo.add_customer("Cliente Opções", cpfCnpj="")
    task = sims.auvo.add_task(
        customer["id"], finished=True, products=[product_line()], services=[service_line()]
    )
    config_file = config(tmp_path, amqp_url, pg_url, bus_prefix, sims)
    deployment = Deployment.of(load_settings(config_file))
    store = deployment.store
    try:
        authorize_headless(deployment.apps[0])
        deployment.apps[0].declare_topology()  # here, so the fixture records (and deletes) the names
        assert "saved revision 1" in options(config_file, "options", "set", "tasks.status", "not_finished")

        env = {k: v for k, v in os.environ.items() if k not in ("AMQP_URL", "DATABASE_URL")}
        env = {k: v for k, v in env.items() if not k.startswith("AUVO_BLING_")}
        log = tmp_path / "run.log"
        with log.open("wb") as out:
            run = subprocess.Popen(
                [sys.executable, "-m", "auvo_bling.cli", "run", "--config", str(config_file)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=out,
            )
        try:
            run_process = f"{socket.gethostname()}:{run.pid}"
            wait_until(
                lambda: options_applied(store, "default").by_process == run_process,
                60,
                "run applied revision 1",
            )
            assert options_applied(store, "default").revision_applied == 1
            time.sleep(2 * POLL_SECONDS)  # polls that leave the finished task out
            assert orders(sims) == [], "the old option should have left the finished task out"
            assert run.poll() is None, log.read_text()

            shown = options(config_file, "options", "show")
            assert "tasks.status" in shown and "not_finished" in shown and "console" in shown

            saved_at = time.monotonic()
            assert "saved revision 2" in options(config_file, "options", "set", "tasks.status", "all")
            wait_until(lambda: len(orders(sims)) == 1, 20, "the task's pedido")  # measured, printed below
            latency = time.monotonic() - saved_at
            [order] = orders(sims)
            assert order["numeroLoja"] == f"AUVO-TASK-{task['taskID']}"

            state = options_applied(store, "default")
            assert (state.revision_saved, state.revision_applied, state.by_process) == (2, 2, run_process)
            assert state.up_to_date and state.applied_at is not None
            saved = store.options_revision("default").saved_at
            assert saved is not None
            applied_after = (state.applied_at - saved).total_seconds()
            print(
                f"\noption saved -> applied by `run`: {applied_after:.2f} s; "
                f"-> pedido in Bling: {latency:.2f} s (poll every {POLL_SECONDS:.0f} s)"
            )
            assert 0 <= applied_after <= POLL_SECONDS + MARGIN_SECONDS
            assert "revision 2 applied" in options(config_file, "options", "show")
            audit = options(config_file, "audit")
            assert '"not_finished" -> "all"' in audit and "cli:" in audit

            run.send_signal(signal.SIGTERM)
            assert run.wait(40) == 0, log.read_text()
        finally:
            if run.poll() is None:
                run.kill()
                run.wait(10)
    finally:
        deployment.close()
