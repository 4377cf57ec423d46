"""The in-process mechanics of applying saved options: which pieces restart, what stays up.

On the embedded bus and SQLite (no broker needed): a running tenant whose options change gets
new poll loops (a newly enabled flow is polled, a disabled one is not), restarts its consumer
threads only when they read a changed setting, keeps no dead thread where `wait_for_signal`
looks, and records the revision it applied.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from auvo_bling.company_options import options_applied, process_id, save_options, tenant_settings
from auvo_bling.options_reload import OptionsWatcher, changed_settings, consumers_affected
from auvo_bling.runtime import start
from auvo_bling.wiring import App
from infra.settings import Settings
from tests.support import Simulators, build_settings, wait_until

pytestmark = pytest.mark.integration


def test_changed_settings_name_the_options_and_tell_poller_only_ones_apart() -> None:
    base = Settings(amqp_url="memory://", tasks={"enabled": True})
    status = base.model_copy(update={"tasks": base.tasks.model_copy(update={"status": "not_finished"})})
    assert changed_settings(base, status) == {"tasks.status"}
    assert not consumers_affected(base, status)
    target = base.model_copy(update={"quotes": base.quotes.model_copy(update={"target": "pedido_de_venda"})})
    assert changed_settings(base, target) == {"quotes.target"} and consumers_affected(base, target)
    assert changed_settings(base, base) == set()


def test_the_watcher_applies_only_a_moved_revision(tmp_path: Path) -> None:
    bootstrap = Settings(
        amqp_url="memory://",
        database_url=f"sqlite:///{tmp_path / 's.sqlite3'}",
        secret_key="k" * 20,
        poll={"interval_seconds": 0.5},
    )
    app = App(bootstrap.for_tenant(), bootstrap=bootstrap)
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
