"""The "Por que não integrou?" page of a company: what a person types (a task, quotation or customer
id, a CPF/CNPJ) in a GET form, and the record's story from `story_of`, the same code `auvo-bling why`
calls; this module only picks the words of the page's language."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from auvo_bling.console.context import Console
from auvo_bling.story.for_app import story_of
from auvo_bling.story.model import Story, VerdictKind
from auvo_bling.story.render import SUBJECT_LABELS, VERDICT_LABELS
from infra.errors import ConfigurationError, IntegrationError
from infra.logging import scrub
from producers.selection_reasons import reason_name

log = structlog.get_logger("console")

MAX_QUERY = 64  # an id or a formatted CNPJ is far shorter; anything longer is not a record


@dataclass(frozen=True)
class StoryView:
    """The story's words in one language, ready for the template (which stays free of choices)."""

    story: Story
    en: bool

    @property
    def subject_label(self) -> str:
        return SUBJECT_LABELS.get(self.story.subject or "", ("Registro", "Record"))[int(self.en)]

    @property
    def verdict_label(self) -> str:
        return VERDICT_LABELS[self.story.verdict.kind][int(self.en)]

    @property
    def summary(self) -> str:
        return self.story.summary("en" if self.en else "pt")

    @property
    def next_step(self) -> str:
        return self.story.next_step("en" if self.en else "pt")

    @property
    def rule(self) -> str | None:
        """The rule's name in the guide's words, when a rule of the options left the record out."""
        verdict = self.story.verdict
        if verdict.kind is not VerdictKind.left_out or not verdict.reason_code:
            return None
        return reason_name(verdict.reason_code, "en" if self.en else "pt")

    def others(self) -> list[tuple[str, str, str]]:
        """(subject, id, label) of the other records the query matches, each a link to its story."""
        pick = int(self.en)
        return [(s, i, SUBJECT_LABELS.get(s, (s, s))[pick]) for s, i in self.story.others]


def routes(console: Console) -> list[Route]:
    def _story(tenant: str, query: str, subject: str | None) -> Story:
        app = console.tenant_app(tenant)  # the settings the company runs with now, the console's saves too
        try:
            return story_of(app, query, subject=subject)
        finally:
            app.close()

    def why_page(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if not console.knows(tenant):
            return console.render(request, "message.html", status_code=404, message="not_found")
        query = (request.query_params.get("q") or "").strip()[:MAX_QUERY]
        subject = request.query_params.get("subject") or None
        if subject not in SUBJECT_LABELS:
            subject = None
        en = console.language(request) == "en"
        view, error = None, None
        if query:
            try:
                view = StoryView(_story(tenant, query, subject), en)
            except (IntegrationError, ConfigurationError) as exc:  # a tenant's settings or Auvo refused
                error = scrub(str(exc)) or type(exc).__name__
            user = console.session(request).user.name
            log.info(
                "console story looked up",
                tenant=tenant,
                user=user,
                subject=view.story.subject if view else None,
                entity_id=view.story.entity_id if view else None,
                verdict=str(view.story.verdict.kind) if view else None,
            )
        return console.render(
            request,
            "why.html",
            tenant=tenant,
            query=query,
            subject=subject,
            subjects=[(key, labels[int(en)]) for key, labels in SUBJECT_LABELS.items()],
            view=view,
            error=error,
        )

    return [Route("/companies/{tenant}/why", why_page, methods=["GET"], name="why")]
