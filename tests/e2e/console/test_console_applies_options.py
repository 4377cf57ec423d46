"""In a real headless Chromium: an option changed in the console that `auvo-bling run --console-port`
serves reaches that running `run` within one poll interval, without a restart (a task the old
option left out reaches Bling), and the page then says when and by which process it was applied."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.company_options import options_applied, save_options
from auvo_bling.tenancy import Deployment
from infra.settings import load_settings
from tests.console_support import add_users, open_page, shot, sign_in_browser
from tests.integration.test_options_applied import MARGIN_SECONDS, POLL_SECONDS, config
from tests.integration.test_tasks_quotes import orders, product_line, service_line
from tests.ops_support import config_file_is_the_truth
from tests.support import Simulators, wait_until

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_an_option_saved_in_the_browser_reaches_a_running_run_within_one_poll_interval(
    chromium: Any,
    amqp_url: str,
    pg_url: str,
    bus_prefix: str,
    sims: Simulators,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config_file_is_the_truth(monkeypatch)
    customer = sims.auvo.add_customer("Cliente Console", cpfCnpj="")
    task = sims.auvo.add_task(
        customer["id"], finished=True, products=[product_line()], services=[service_line()]
    )
    config_file = config(tmp_path, amqp_url, pg_url, bus_prefix, sims)  # tasks.enabled pinned by the file
    bootstrap = load_settings(config_file)
    deployment = Deployment.of(bootstrap)
    store = deployment.store
    add_users(store)
    console_port = _free_port()
    console_url = f"http://127.0.0.1:{console_port}"
    run = None
    try:
        authorize_headless(deployment.apps[0])
        deployment.apps[0].declare_topology()  # here, so the fixture records (and deletes) the names
        save_options(store, bootstrap, "default", {"tasks.status": "not_finished"}, "test")
        env = {k: v for k, v in os.environ.items() if k not in ("AMQP_URL", "DATABASE_URL")}
        env = {k: v for k, v in env.items() if not k.startswith("AUVO_BLING_")}
        log = tmp_path / "run.log"
        with log.open("wb") as out:
            run = subprocess.Popen(
                # `run` serves the console itself: the page and the pollers are one process
                [
                    sys.executable,
                    "-m",
                    "auvo_bling.cli",
                    "run",
                    "--config",
                    str(config_file),
                    "--console-port",
                    str(console_port),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=out,
            )
        run_process = f"{socket.gethostname()}:{run.pid}"
        wait_until(
            lambda: options_applied(store, "default").by_process == run_process, 60, "run applied rev 1"
        )
        time.sleep(2 * POLL_SECONDS)  # polls that leave the finished task out
        assert orders(sims) == [], "the old option should have left the finished task out"

        wait_until(lambda: _answers(f"{console_url}/healthz"), 30, "the console served by run")
        page = open_page(chromium)
        sign_in_browser(page, console_url, "ana")
        page.goto(f"{console_url}/companies/default/options")
        pinned = page.inner_text('[id="tasks.enabled"]')
        assert "Habilitado — fixado por TOML tasks.enabled" in pinned  # the file pins it: read-only
        page.select_option('select[name="tasks.status"]', "all")
        page.click('form.options button[type="submit"]')
        page.wait_for_selector("p.done")
        saved_at = time.monotonic()
        wait_until(
            lambda: len(orders(sims)) == 1, POLL_SECONDS + MARGIN_SECONDS, "the task's pedido in Bling"
        )
        print(f"\nsaved in the browser -> pedido in Bling: {time.monotonic() - saved_at:.2f} s")
        [order] = orders(sims)
        assert order["numeroLoja"] == f"AUVO-TASK-{task['taskID']}"
        wait_until(lambda: options_applied(store, "default").up_to_date, MARGIN_SECONDS, "revision 2 applied")
        # the page follows by itself (its script asks every second) until the change is applied
        page.wait_for_selector('#applied-status[data-pending="false"]', timeout=10_000)
        status = page.inner_text("#applied-status")
        assert "aplicado às" in status and run_process in status
        shot(page, "options-applied")
        page.context.close()
        assert run.poll() is None, log.read_text()
        run.send_signal(signal.SIGTERM)
        assert run.wait(40) == 0, log.read_text()
    finally:
        if run is not None and run.poll() is None:
            run.kill()
            run.wait(10)
        deployment.close()
