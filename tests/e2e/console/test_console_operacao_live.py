"""In a real headless Chromium: the Operação page of a running `auvo-bling run --console-port` follows
the integration live (a customer typed into Auvo moves the process's last event and the flow's
counters on the open page, without a reload), a process that stopped beating shows as stale, and
an operator's "Retomar" lifts a company's pause."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.tenancy import Deployment
from infra.settings import load_settings
from infra.store import ProcessBeat
from tests.console_support import add_users, open_page, shot, sign_in_browser
from tests.e2e.console.test_console_applies_options import _answers, _free_port
from tests.ops_support import config_file_is_the_truth, write_config
from tests.support import Simulators, wait_until

pytestmark = pytest.mark.integration

POLL_SECONDS = 1.0


def _contacts_created(sims: Simulators) -> int:
    return sum(n for (m, resource), n in sims.bling.writes.items() if m == "POST" and "contatos" in resource)


def test_the_operacao_page_follows_a_running_integration_live(
    chromium: Any,
    amqp_url: str,
    pg_url: str,
    bus_prefix: str,
    sims: Simulators,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config_file_is_the_truth(monkeypatch)
    sim = sims.settings_overrides()
    config_file = write_config(
        tmp_path / "auvo-bling.toml",
        {
            "amqp_url": amqp_url,
            "database_url": pg_url,
            "secret_key": "test-secret-key-for-token-encryption",
            "log_format": "json",
            "heartbeat_seconds": 1.0,
            "bus": {"prefix": bus_prefix, "retry_delays_seconds": [0.3, 0.6, 1.0]},
            "poll": {"interval_seconds": POLL_SECONDS, "overlap_seconds": 5.0},
            "console": {"live_seconds": 1.0},
            "auvo": {k: sim["auvo"][k] for k in ("base_url", "api_key", "api_token")},
            "bling": {k: sim["bling"][k] for k in ("base_url", "client_id", "client_secret", "redirect_uri")},
        },
    )
    bootstrap = load_settings(config_file)
    deployment = Deployment.of(bootstrap)
    store = deployment.store
    add_users(store)
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    store.beat(ProcessBeat("gone-host:4242", "consume", 1, ("default",), long_ago, long_ago))
    sims.auvo.add_customer("Cliente Operação Um", cpfCnpj="")
    console_port = _free_port()
    console_url = f"http://127.0.0.1:{console_port}"
    run = None
    try:
        authorize_headless(deployment.apps[0])
        deployment.apps[0].declare_topology()  # here, so the fixture records (and deletes) the names
        env = {k: v for k, v in os.environ.items() if k not in ("AMQP_URL", "DATABASE_URL")}
        env = {k: v for k, v in env.items() if not k.startswith("AUVO_BLING_")}
        log = tmp_path / "run.log"
        with log.open("wb") as out:
            run = subprocess.Popen(
                [
                    *(sys.executable, "-m", "auvo_bling.cli", "run", "--config", str(config_file)),
                    *("--console-port", str(console_port)),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=out,
            )
        run_process = f"{socket.gethostname()}:{run.pid}"
        wait_until(lambda: _contacts_created(sims) == 1, 60, "the first customer's contato in Bling")
        wait_until(lambda: _answers(f"{console_url}/healthz"), 30, "the console served by run")
        wait_until(
            lambda: any(b.process == run_process and b.last_event_id for b in store.process_beats()),
            10,
            "run's heartbeat with its last event",
        )

        page = open_page(chromium)
        sign_in_browser(page, console_url, "otto")
        page.goto(f"{console_url}/operacao")
        page.evaluate("window.notReloaded = true")
        gone = page.locator('tr[data-process="gone-host:4242"] .proc-state')
        assert gone.get_attribute("data-state") == "stale" and gone.inner_text() == "sem sinal"
        mine = page.locator(f'tr[data-process="{run_process}"]')
        assert mine.locator(".proc-state").inner_text() == "ativo"
        last = mine.locator(f'[data-op="proc/{run_process}/last"]')
        first_event = last.inner_text()
        handled = page.locator('[data-op="co/default/flow/customers.auvo_to_bling/handled"]')
        handled_before = int(handled.inner_text())
        page.wait_for_function("Number(document.querySelector('[data-live]').dataset.updates || 0) >= 1")
        shot(page, "operacao")

        sims.auvo.add_customer("Cliente Operação Dois", cpfCnpj="")
        wait_until(lambda: _contacts_created(sims) == 2, 30, "the second customer's contato in Bling")
        page.wait_for_function(
            "([el, before]) => el.textContent !== before", arg=[last.element_handle(), first_event]
        )
        page.wait_for_function(
            "([el, before]) => Number(el.textContent) > before",
            arg=[handled.element_handle(), handled_before],
        )
        assert page.evaluate("window.notReloaded") is True  # the numbers moved on the open page
        assert gone.get_attribute("data-state") == "stale"

        # a paused company: the operator's "Retomar" lifts it, and the audit log says who
        store.pause_tenant("default", "AuthExpired", "o token do Bling foi recusado", "autorize de novo")
        page.click('form.resume button[type="submit"]')  # the page reloads itself when a pause begins
        page.wait_for_selector("p.done")
        assert store.tenant_pause("default") is None
        assert [e.action for e in store.audit_entries(tenant="default", limit=1)] == ["resume"]
        page.context.close()
        assert run.poll() is None, log.read_text()
        run.send_signal(signal.SIGTERM)
        assert run.wait(40) == 0, log.read_text()
        assert run_process not in [b.process for b in store.process_beats()]  # a clean stop leaves
    finally:
        if run is not None and run.poll() is None:
            run.kill()
            run.wait(10)
        deployment.close()
