""" "Por que não integrou?" end to end: both simulators, the embedded bus, a SQLite store and the real
pollers and consumers; then `auvo-bling why` tells each record's story (auvo_bling/story).

Five tasks meet five fates: one is left out by its type, one by its status (Auvo's status filter
keeps it from the poller: `why` looks it up in Auvo), one for having no valued items, one becomes a
pedido, and one is dead-lettered because its customer's CPF is invalid (Bling refuses the contato).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from auvo_bling.authorize import authorize_headless
from auvo_bling.runtime import start
from auvo_bling.wiring import App
from infra.store.retention import prune
from tests.ops_support import Cli, write_config
from tests.support import CLIENT_ID, CLIENT_SECRET, Simulators, build_settings, wait_until

CNPJ = "11444777000161"
BAD_CPF = "52998224724"  # the check digit is wrong: Bling refuses the contato


def line(unit: float) -> dict[str, Any]:
    return {
        "productId": "p-1",
        "code": "FA-01",
        "name": "Filtro de ar",
        "quantity": 2.0,
        "unitaryValue": unit,
        "totalValue": 2 * unit,
    }


def orders(sims: Simulators) -> list[dict[str, Any]]:
    with sims.bling.lock:
        return [dict(r) for r in sims.bling.records["pedidos/vendas"].values()]


def kinds(app: App, subject: str, entity_id: object) -> list[str]:
    return [str(r.kind) for r in app.store.history_of(app.tenant, subject, str(entity_id))]


def test_why_names_the_rule_shows_the_pedido_and_the_diagnosis(sims: Simulators, tmp_path: Path) -> None:
    sims.bling.validate_documents = True
    installs = sims.auvo.add_record("taskTypes", {"description": "Instalação"})
    visits = sims.auvo.add_record("taskTypes", {"description": "Visita"})
    good = sims.auvo.add_customer("Clínica Sorriso Ltda", cpfCnpj=CNPJ)
    bad = sims.auvo.add_customer("Maria Souza", cpfCnpj=BAD_CPF)
    by_type = sims.auvo.add_task(good["id"], visits["id"], finished=True, products=[line(35.9)])
    by_status = sims.auvo.add_task(good["id"], installs["id"], finished=False, products=[line(35.9)])
    no_values = sims.auvo.add_task(good["id"], installs["id"], finished=True, products=[line(0.0)])
    integrated = sims.auvo.add_task(good["id"], installs["id"], finished=True, products=[line(35.9)])
    dead = sims.auvo.add_task(bad["id"], installs["id"], finished=True, products=[line(35.9)])

    tasks = {"enabled": True, "status": "finished_auto_or_manual", "task_types": [installs["id"]]}
    db = tmp_path / "store.sqlite3"
    settings = build_settings(
        "memory://",
        f"sqlite:///{db}",
        sims,
        customers={"direction": "auvo_to_bling"},
        tasks=tasks,
        bus={"retry_delays_seconds": [0.2, 0.4], "max_attempts": 3},
    )
    app = App(settings)
    try:
        authorize_headless(app)
        running = start(app, worker_threads=2)
        try:
            wait_until(lambda: len(orders(sims)) == 1, 30, "the pedido of the integrated task")
            wait_until(
                lambda: "dead_lettered" in kinds(app, "auvo.task", dead["taskID"]), 30, "the dead letter"
            )
            wait_until(lambda: "handled" in kinds(app, "auvo.customer", good["id"]), 30, "the good customer")
        finally:
            running.stop()
        config = write_config(
            tmp_path / "why.toml",
            {
                "amqp_url": "memory://",
                "database_url": f"sqlite:///{db}",
                "secret_key": "test-secret-key-for-token-encryption",
                "tasks": tasks,
                "auvo": {
                    "base_url": sims.auvo_url,
                    "api_key": sims.auvo.api_key,
                    "api_token": sims.auvo.api_token,
                },
                "bling": {"base_url": sims.bling_url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            },
        )
        cli = Cli(config)

        def why(*args: str) -> str:
            result = cli("why", *args)
            assert result.exit_code == 0, (result.output, result.exception)
            return result.stdout

        # left out by its type: the poller recorded the decision and what the rule looked at
        text = why(str(by_type["taskID"]))
        assert "NÃO INTEGRADO: Deixado de fora pela regra 'Tipos de tarefa'" in text, text
        assert "status finalizada automaticamente" in text
        assert f"tipo {visits['id']}" in text and "Inclua o tipo desta tarefa" in text
        assert "task type" in why(str(by_type["taskID"]), "--lang", "en")

        # left out by its status: Auvo's filter kept it from the poller; `why` reads it in Auvo
        text = why(str(by_status["taskID"]))
        assert "'Status das tarefas'" in text and "verificado agora no Auvo" in text, text
        assert "NÃO VISTO" in why(str(by_status["taskID"]), "--no-auvo")

        text = why(str(no_values["taskID"]))
        assert "'sem produtos/serviços com valores'" in text and "Inclua produtos ou serviços" in text, text

        # integrated: the pedido, with its link in Bling's web app
        [order] = orders(sims)
        data = json.loads(why(str(integrated["taskID"]), "--json"))
        assert data["verdict"]["kind"] == "integrated"
        [written] = [w for w in data["verdict"]["written"] if w["what_en"].startswith("sales order")]
        assert written["record_id"] == str(order["id"])
        assert written["link"]["url"] == f"https://www.bling.com.br/vendas.php#edit/{order['id']}"
        assert [s["kind"] for s in data["steps"]] == ["published", "handled"]
        text = why(str(integrated["taskID"]))
        assert "INTEGRADO" in text and f"vendas.php#edit/{order['id']}" in text
        assert f"relatorioTarefas/DetalheTarefa/{integrated['taskID']}" in text
        # the Bling pedido's id finds the task too
        assert f"Tarefa do Auvo {integrated['taskID']}" in why(str(order["id"]))

        # dead-lettered: the diagnosis, the field Bling refused, the hint and the replay to run
        text = why(str(dead["taskID"]))
        assert "FALHOU: ApiRejected" in text and "numeroDocumento" in text, text
        assert "dica: the API refused the data" in text and "auvo-bling dlq replay" in text

        # a customer by its CNPJ, formatted: the contato written in Bling
        [contato] = [c for c in sims.bling.contacts.values() if c.get("numeroDocumento") == CNPJ]
        text = why("11.444.777/0001-61")
        assert f"Cliente do Auvo {good['id']}" in text and "INTEGRADO" in text, text
        assert f"contatos.php#edit/{contato['id']}" in text

        # retention: the history goes with the processed events; the id map stays
        report = prune(app.store, retention_days=30, now=datetime.now(UTC) + timedelta(days=31))
        assert report.removed["record_history"] >= 6
        assert "NÃO VISTO" in why(str(by_type["taskID"]), "--no-auvo")
        assert "INTEGRADO" in why(str(integrated["taskID"]), "--no-auvo")
    finally:
        app.close()


def test_a_retried_task_is_pending_with_its_diagnosis_then_integrated(
    sims: Simulators, tmp_path: Path
) -> None:
    from auvo_bling.story import VerdictKind
    from auvo_bling.story.for_app import story_of

    customer = sims.auvo.add_customer("Padaria Pão Quente", cpfCnpj=CNPJ)
    task = sims.auvo.add_task(customer["id"], finished=True, products=[line(35.9)])
    settings = build_settings(
        "memory://",
        f"sqlite:///{tmp_path / 'store.sqlite3'}",
        sims,
        tasks={"enabled": True},
        bus={"retry_delays_seconds": [0.3], "max_attempts": 50},
    )
    app = App(settings)
    try:
        authorize_headless(app)
        sims.bling.faults.configure(error_rate=1.0, error_statuses=(503,))  # Bling answers 503 to all
        running = start(app, worker_threads=1)
        try:
            wait_until(lambda: "retried" in kinds(app, "auvo.task", task["taskID"]), 30, "a retry")
            story = story_of(app, str(task["taskID"]), ask_auvo=False)
            assert story.verdict.kind is VerdictKind.pending, story
            assert story.verdict.diagnosis is not None and story.verdict.diagnosis["attempts"] >= 1
            assert "Falha temporária" in story.steps[-1].summary_pt
            sims.bling.faults.reset()
            wait_until(lambda: len(orders(sims)) == 1, 30, "the pedido once Bling answers again")
            wait_until(lambda: "handled" in kinds(app, "auvo.task", task["taskID"]), 10, "the handled row")
        finally:
            running.stop()
            sims.bling.faults.reset()
        story = story_of(app, str(task["taskID"]), ask_auvo=False)
        assert story.verdict.kind is VerdictKind.integrated
        steps = [s.kind for s in story.steps]
        assert steps[0] == "published" and "retried" in steps and steps[-1] == "handled"
    finally:
        app.close()
