"""The Falhas pages: dead letters grouped by cause, a group's messages, one message in full, and the
replay / park / purge operations, all from the store's index (the queue is never read to show a
page). Actions go through auvo_bling/failures.py, the code `auvo-bling dlq` runs, one operation per
company the selection touches, in a background thread so the page follows its progress.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from auvo_bling.console.context import Console
from auvo_bling.console.falhas_words import FALHAS_MESSAGES
from auvo_bling.console.forms import Form, read_form
from auvo_bling.console.i18n import MESSAGES
from auvo_bling.failures import Key, Selection, failures_of
from infra.bus.dlq_records import DeadLetter, format_age, parse_duration
from infra.logging import scrub
from infra.store import FailureGroup, IndexQuery, LetterState

log = structlog.get_logger("console")

MESSAGES.update(FALHAS_MESSAGES)
ACTIONS = ("replay", "park", "purge", "restore")
FILTER_FIELDS = ("company", "event_type", "error_class", "age", "q", "state")
PAGE_ROWS = 200


def query_of(params: Any, *, fingerprint: str | None = None) -> IndexQuery:
    """The filters of a page or form as an index query; an unreadable age is no age."""
    age = (params.get("age") or "").strip()
    seen_before = None
    if age:
        try:
            seen_before = datetime.now(UTC) - parse_duration(age)
        except ValueError:
            seen_before = None
    state = params.get("state") or LetterState.dead.value
    return IndexQuery(
        state=state if state in {s.value for s in LetterState} else LetterState.dead.value,
        tenant=params.get("company") or None,
        fingerprint=fingerprint or params.get("fingerprint") or None,
        event_type=params.get("event_type") or None,
        error_class=params.get("error_class") or None,
        seen_before=seen_before,
        text=(params.get("q") or "").strip()[:100] or None,
    )


def group_json(g: FailureGroup, now: datetime) -> dict[str, Any]:
    return {
        "fingerprint": g.fingerprint,
        "error_class": g.error_class,
        "consumer": g.consumer,
        "event_type": g.event_type,
        "count": g.count,
        "first_seen": g.first_seen.isoformat(timespec="seconds"),
        "last_seen": g.last_seen.isoformat(timespec="seconds"),
        "last_age": format_age(now - g.last_seen),
        "hint": g.hint,
        "example": scrub(g.example),
        "tenants": list(g.tenants),
    }


def _key(text: str) -> Key | None:
    parts = text.split("|", 2)
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else None


class Operations:
    """The actions the console started, each in its own thread (the operation rows tell the rest)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.threads: list[threading.Thread] = []

    def start(self, action: str, by_tenant: dict[str, Selection], actor: str) -> None:
        thread = threading.Thread(target=self._run, args=(action, by_tenant, actor), daemon=True)
        self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()

    def _run(self, action: str, by_tenant: dict[str, Selection], actor: str) -> None:
        for tenant, selection in by_tenant.items():
            app = self.console.tenant_app(tenant)
            try:
                failures = failures_of(app)
                if action == "restore":
                    failures.restore(failures.keys_of(selection, LetterState.parked), actor)
                else:
                    getattr(failures, action)(selection, actor)
            except Exception:
                log.exception("console dlq operation failed", tenant=tenant, action=action, actor=actor)
            finally:
                app.close()


def routes(console: Console) -> list[Route]:
    operations = Operations(console)
    store = console.store

    def _page(request: Request, tenant: str | None = None) -> Response:
        params = dict(request.query_params)
        if tenant is not None:
            if not console.knows(tenant):
                return console.render(request, "message.html", status_code=404, message="not_found")
            params["company"] = tenant
        now = datetime.now(UTC)
        query = query_of(params)
        return console.render(
            request,
            "falhas.html",
            groups=[group_json(g, now) for g in store.failure_groups(query)],
            operations=[op.as_json() for op in store.dlq_operations_recent(10)],
            filters={k: params.get(k, "") for k in FILTER_FIELDS},
            total=store.count_dead_letters(query),
            may_act=console.session(request).user.role in ("admin", "operator"),
        )

    def falhas(request: Request) -> Response:
        return _page(request)

    def falhas_company(request: Request) -> Response:
        return _page(request, request.path_params["tenant"])

    def falhas_json(request: Request) -> Response:
        """What the open page polls every 2 s: the groups of its filters and the last operations."""
        now = datetime.now(UTC)
        query = query_of(request.query_params)
        return JSONResponse(
            {
                "groups": [group_json(g, now) for g in store.failure_groups(query)],
                "total": store.count_dead_letters(query),
                "operations": [op.as_json() for op in store.dlq_operations_recent(10)],
            },
            headers={"cache-control": "no-store"},
        )

    def falhas_group(request: Request) -> Response:
        fingerprint = request.path_params["fingerprint"]
        query = query_of(request.query_params, fingerprint=fingerprint)
        rows = store.dead_letters_of(query, limit=PAGE_ROWS)
        [group] = store.failure_groups(query, limit=1) or [None]
        return console.render(
            request,
            "falhas_group.html",
            fingerprint=fingerprint,
            group=group_json(group, datetime.now(UTC)) if group else None,
            rows=rows,
            shown=len(rows),
            filters={k: request.query_params.get(k, "") for k in FILTER_FIELDS},
            may_act=console.session(request).user.role in ("admin", "operator"),
        )

    def falhas_letter(request: Request) -> Response:
        p = request.query_params
        row = store.dead_letter_row(p.get("tenant", ""), p.get("consumer", ""), p.get("id", ""))
        if row is None:
            return console.render(request, "message.html", status_code=404, message="not_found")
        detail = None
        if row.get("message"):
            detail = DeadLetter.from_export(json.loads(row["message"])).detail()
        headers = (detail or {}).get("headers", {})
        return console.render(
            request,
            "falhas_letter.html",
            row=row,
            detail=detail,
            body=json.dumps((detail or {}).get("body"), ensure_ascii=False, indent=2),
            headers_text=json.dumps(
                {k: v for k, v in headers.items() if k != "x-death"},
                ensure_ascii=False,
                indent=2,
                sort_keys=True,
            ),
            x_death=json.dumps(headers.get("x-death"), ensure_ascii=False, indent=2)
            if "x-death" in headers
            else None,
            may_act=console.session(request).user.role in ("admin", "operator"),
        )

    def falhas_export(request: Request) -> Response:
        """The filtered letters as JSON Lines, from the messages the index keeps (the queue untouched)."""
        keys = store.dead_letter_keys(query_of(request.query_params))
        console.record_change(
            request, request.query_params.get("company") or "", "dlq.export", {}, {"count": len(keys)}
        )

        def lines() -> Any:
            for start in range(0, len(keys), 500):
                for message in store.dead_letter_messages(keys[start : start + 500]):
                    yield message + "\n"

        return StreamingResponse(
            lines(),
            media_type="application/x-ndjson",
            headers={"content-disposition": 'attachment; filename="falhas.jsonl"'},
        )

    def _selections(form: Form) -> dict[str, Selection]:
        """The form's selection, split by company (each company's letters are in its own queue)."""
        scope = form.get("scope")
        if scope == "selected":
            by_tenant: dict[str, list[Key]] = defaultdict(list)
            for text in form.all("key"):
                key = _key(text)
                if key is not None:
                    by_tenant[key[0]].append(key)
            return {t: Selection(keys=tuple(keys)) for t, keys in by_tenant.items()}
        fields = {k: form.get(k) for k in (*FILTER_FIELDS, "fingerprint")}
        if scope != "group":
            fields["fingerprint"] = ""
        query = query_of(fields)
        if form.get("action") == "restore":
            query = IndexQuery(**{**query.__dict__, "state": LetterState.parked.value})
        tenants = [query.tenant] if query.tenant else console.bootstrap.tenant_names()
        out = {}
        for tenant in tenants:
            q = IndexQuery(**{**query.__dict__, "tenant": tenant})
            if store.count_dead_letters(q):
                out[tenant] = Selection(query=IndexQuery(**{**q.__dict__, "state": LetterState.dead.value}))
        return out

    async def falhas_action(request: Request) -> Response:
        form = await read_form(request)
        action = form.get("action")
        if action not in ACTIONS:
            return console.render(request, "message.html", status_code=400, message_text="unknown action")
        selections = _selections(form)
        count = 0
        for tenant, selection in selections.items():
            if selection.keys:
                count += len(selection.keys)
            else:
                state = LetterState.parked if action == "restore" else LetterState.dead
                count += store.count_dead_letters(
                    IndexQuery(
                        **{
                            **(selection.query or IndexQuery()).__dict__,
                            "state": state.value,
                            "tenant": tenant,
                        }
                    )
                )
        if form.get("confirm") != "yes":
            hidden = [(k, v) for k, values in form.fields.items() if k != "csrf_token" for v in values]
            return console.render(request, "falhas_confirm.html", action=action, count=count, hidden=hidden)
        user = console.session(request).user.name
        for tenant, selection in selections.items():
            console.record_change(
                request, tenant, f"dlq.{action}", {}, {"selection": selection.describe(), "count": count}
            )
        log.info("console dlq action", action=action, user=user, count=count, tenants=sorted(selections))
        operations.start(action, selections, f"console:{user}")
        return RedirectResponse("/falhas?done=falhas_op_started", status_code=303)

    return [
        Route("/falhas", falhas, methods=["GET"], name="falhas"),
        Route("/falhas/groups.json", falhas_json, methods=["GET"], name="falhas_json"),
        Route("/falhas/group/{fingerprint}", falhas_group, methods=["GET"], name="falhas_group"),
        Route("/falhas/letter", falhas_letter, methods=["GET"], name="falhas_letter"),
        Route("/falhas/export.jsonl", falhas_export, methods=["GET"], name="falhas_export"),
        Route("/falhas/actions", falhas_action, methods=["POST"], name="falhas_actions"),
        Route("/companies/{tenant}/falhas", falhas_company, methods=["GET"], name="falhas_company"),
    ]
