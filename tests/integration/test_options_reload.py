"""The in-process mechanics of applying saved options: which pieces restart, what stays up.

On the embedded bus and SQLite (no broker needed): a running tenant whose options change gets
new poll loops (a newly enabled flow is polled, a disabled one is not), restarts its consumer
threads only when they read a changed setting, keeps no dead thread where `wait_for_signal`
looks, and records the revision it applied.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.company_options import options_applied, process_id, save_options, tenant_settings
from auvo_bling.options_reload import OptionsWatcher, changed_settings, consumers_affected
from auvo_bling.runtime import start
from auvo_bling.wiring import App
from infra.settings import Settings
from producers.auvo_tasks import CURSOR as TASKS_CURSOR
from tests.integration.test_tasks_quotes import orders, product_line, service_line
from tests.support import Clock, Simulators, build_settings, wait_until

pytestmark = pytest.mark.integration


def test_changed_settings_name_the_options_and_tell_poller_only_ones_apart() -> None:
    base = Settings(amqp_url="memory://", tasks={"enabled": True})
    status = base.model_copy(update={"tasks": base.tasks.model_copy(update={"status": "not_finished"})})
    assert changed_settings(base, status) == {"tasks.status"}
    assert not consumers_affected(base, status)
    target = base.model_copy(update={"quotes": base.quotes.model_copy(update={"target": "pedido_de_venda"})})
    assert changed_settings(base, target) == {"quotes.target"} and consumers_affected(base, target)
    assert changed_settings(base, base) == set()


def _embedded(tmp_path: Path) -> tuple[Settings, App]:
    """A bootstrap on the embedded bus and a SQLite store, and the default tenant's App."""
    bootstrap = Settings(
        amqp_url="memory://",
        database_url=f"sqlite:///{tmp_path / 's.sqlite3'}",
        secret_key="k" * 20,
        poll={"interval_seconds": 0.5},
    )
    return bootstrap, App(bootstrap.for_tenant(), bootstrap=bootstrap)


def test_the_watcher_applies_only_a_moved_revision(tmp_path: Path) -> None:
    bootstrap, app = _embedded(tmp_path)
    applied: list[Settings] = []
    try:
        watcher = OptionsWatcher(app, bootstrap, applied.append, process="host:1")
        assert watcher.check_seconds == 0.5  # never longer than the poll interval
        assert watcher.check_once() is False  # revision 0, same settings: nothing to restart
        assert options_applied(app.store, "default").revision_applied == 0
        save_options(app.store, bootstrap, "default", {"tasks.status": "finished_manually"}, "test")
        assert watcher.check_once() is True
        assert applied[-1].tasks.status == "finished_manually"
        assert watcher.check_once() is False and len(applied) == 1  # the same revision: one read only
        state = options_applied(app.store, "default")
        assert (state.revision_applied, state.by_process) == (1, "host:1")
    finally:
        app.close()


def test_an_apply_that_raised_halfway_is_done_again_not_recorded_as_applied(tmp_path: Path) -> None:
    """The database went away while the consumers restarted: the next check applies the same
    revision again (the first attempt had already swapped app.settings) instead of noting it."""
    bootstrap, app = _embedded(tmp_path)
    attempts: list[Settings] = []

    def apply(settings: Settings) -> None:
        app.apply_settings(settings)  # as the runtime's restart does, before the part that fails
        attempts.append(settings)
        if len(attempts) == 1:
            raise OSError("database is locked")

    try:
        watcher = OptionsWatcher(app, bootstrap, apply, process="host:1")
        watcher.check_once()
        save_options(app.store, bootstrap, "default", {"tasks.status": "finished_manually"}, "test")
        watcher.tick()  # raised inside: logged, the revision not recorded
        assert options_applied(app.store, "default").revision_applied == 0
        assert watcher.check_once() is True and len(attempts) == 2
        assert attempts[-1].tasks.status == "finished_manually"
        assert options_applied(app.store, "default").revision_applied == 1
        assert watcher.check_once() is False and len(attempts) == 2
    finally:
        app.close()


def test_a_running_tenant_restarts_its_pollers_and_consumers_on_new_options(
    sims: Simulators, tmp_path: Path
) -> None:
    bootstrap = build_settings("memory://", f"sqlite:///{tmp_path / 'store.sqlite3'}", sims)
    app = App(bootstrap.for_tenant(), bootstrap=bootstrap)
    try:
        app.apply_settings(tenant_settings(app.store, bootstrap, "default"))
        running = start(app)
        try:

            def pollers() -> set[str]:
                return {p.name for p in running.pollers}

            def threads_alive() -> bool:
                return all(t.is_alive() for t in running.threads)

            assert "auvo.tasks" not in pollers()
            wait_until(
                lambda: options_applied(app.store, "default").by_process == process_id(), 10, "revision 0"
            )
            workers_before = len(running.workers)

            save_options(app.store, bootstrap, "default", {"tasks.enabled": True}, "test")
            wait_until(lambda: "auvo.tasks" in pollers(), 10, "the task poller")
            wait_until(lambda: options_applied(app.store, "default").revision_applied == 1, 10, "revision 1")
            assert app.settings.tasks.enabled is True
            assert len(running.workers) > workers_before  # tasks.enabled adds a queue: consumers restarted
            assert threads_alive()  # the old poll threads left running.threads before they ended
            poll_threads = {t.name for t in running.threads if t.name.startswith("poller-")}
            assert poll_threads == {f"poller-default-{name}" for name in pollers()}

            workers_before = len(running.workers)
            save_options(app.store, bootstrap, "default", {"tasks.status": "not_finished"}, "test")
            wait_until(lambda: options_applied(app.store, "default").revision_applied == 2, 10, "revision 2")
            assert app.settings.tasks.status == "not_finished"
            assert len(running.workers) == workers_before  # a poller-only option leaves consumers alone
            assert threads_alive() and "auvo.tasks" in pollers()
            assert len(running.poll_health) == len(running.pollers)
        finally:
            running.stop()
        assert not [t for t in running.threads if t.is_alive()]
    finally:
        app.close()


def test_a_widened_task_status_brings_the_tasks_the_cursor_went_past(
    sims: Simulators, clock: Clock, tmp_path: Path
) -> None:
    """ "Status das tarefas" from not_finished to all: a finished task the cursor went past (another
    task changed after it) reaches Bling once, through the one re-read the save asked for."""
    bootstrap = build_settings(
        "memory://", f"sqlite:///{tmp_path / 'store.sqlite3'}", sims, tasks={"enabled": True}
    )
    app = App(bootstrap.for_tenant(), bootstrap=bootstrap)
    try:
        authorize_headless(app)
        save_options(app.store, bootstrap, "default", {"tasks.status": "not_finished"}, "test")
        customer = sims.auvo.add_customer("Cliente Cursor", cpfCnpj="")
        left_out = sims.auvo.add_task(customer["id"], finished=True, products=[product_line()])
        clock.tick(600)  # well past the poll overlap
        still_open = sims.auvo.add_task(customer["id"], products=[product_line()], services=[service_line()])
        app.options_revision = app.store.options_revision("default").revision
        app.apply_settings(tenant_settings(app.store, bootstrap, "default"))
        running = start(app)
        try:
            wait_until(lambda: len(orders(sims)) == 1, 20, "the open task's pedido")
            assert app.store.cursor("default", TASKS_CURSOR) is not None  # past the finished task
            save_options(app.store, bootstrap, "default", {"tasks.status": "all"}, "test")
            wait_until(lambda: len(orders(sims)) == 2, 20, "the finished task the old status left out")
            time.sleep(1.5)  # more passes: the re-read happened once, nothing is written twice
        finally:
            running.stop()
        assert sorted(o["numeroLoja"] for o in orders(sims)) == sorted(
            f"AUVO-TASK-{t['taskID']}" for t in (left_out, still_open)
        )
        assert app.store.claim_reread("default", 99, [TASKS_CURSOR]) is None  # carried out already
    finally:
        app.close()


def test_the_panels_auvo_lists_come_from_the_auvo_simulator(sims: Simulators, tmp_path: Path) -> None:
    from auvo_bling.option_choices import auvo_choices
    from contracts.option_fields import FIELDS_BY_KEY
    from tests.integration.test_tasks_quotes import seed_quote

    customer = sims.auvo.add_customer("Cliente Estágios", cpfCnpj="")
    for stage in ("Aprovado", "Em negociação", "aprovado"):
        seed_quote(sims, customer["id"], stage=stage)
    app = App(build_settings("memory://", f"sqlite:///{tmp_path / 's.sqlite3'}", sims))
    try:
        auvo = app.auvo_client(throttled=False)
        stages = auvo_choices(FIELDS_BY_KEY["quotes.stage"], auvo)
        assert [c.value for c in stages] == ["Aprovado", "Em negociação"]  # one per name, case ignored
        visita = sims.auvo.add_record("taskTypes", {"description": "Visita"})
        instalacao = sims.auvo.add_record("taskTypes", {"description": "Instalação"})
        types = auvo_choices(FIELDS_BY_KEY["tasks.task_types"], auvo)
        assert [(c.value, c.label_pt) for c in types] == [
            (str(instalacao["id"]), "Instalação"),
            (str(visita["id"]), "Visita"),
        ]
    finally:
        app.close()


def test_the_watcher_keeps_running_when_the_database_is_away(tmp_path: Path) -> None:
    import threading

    bootstrap = Settings(
        amqp_url="memory://",
        database_url=f"sqlite:///{tmp_path / 's.sqlite3'}",
        poll={"interval_seconds": 0.1},
    )
    app = App(bootstrap.for_tenant(), bootstrap=bootstrap)
    calls = {"n": 0}
    real = app.store.options_revision

    def flaky(tenant: str) -> Any:
        calls["n"] += 1
        if calls["n"] <= 3:
            raise ConnectionError("database away")
        return real(tenant)

    try:
        app.store.options_revision = flaky  # type: ignore[method-assign]
        stop = threading.Event()
        watcher = OptionsWatcher(app, bootstrap, lambda _: None, process="host:2")
        thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
        thread.start()
        wait_until(lambda: watcher.applied == 0, 10, "the first revision applied after the errors")
        stop.set()
        thread.join(5)
        assert not thread.is_alive() and calls["n"] >= 4
    finally:
        app.close()


def test_webhooks_serve_follows_the_options_in_its_receiver(sims: Simulators, tmp_path: Path) -> None:
    from auvo_bling.options_reload import follow_in_receiver

    bootstrap = build_settings("memory://", f"sqlite:///{tmp_path / 's.sqlite3'}", sims)
    app = App(bootstrap.for_tenant(), bootstrap=bootstrap)
    try:
        receiver = app.webhook_receiver()
        assert receiver.auvo_events.task_rules.enabled is False
        watcher = OptionsWatcher(app, bootstrap, follow_in_receiver(app, receiver), process="host:3")
        watcher.check_once()
        save_options(
            app.store,
            bootstrap,
            "default",
            {"tasks.enabled": True, "tasks.status": "not_finished", "customers.direction": "bling_to_auvo"},
            "test",
        )
        assert watcher.check_once() is True
        rules = receiver.auvo_events.task_rules
        assert rules.enabled is True and rules.status == "not_finished"
        assert receiver.auvo_events.customers_enabled is False  # Auvo customers no longer go to Bling
    finally:
        app.close()
