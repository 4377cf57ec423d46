"""What one backfill run did; the text and the --json output are both made from it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from auvo_bling.backfill.sides import JsonDict
from consumers.customers.matching import Rule

if TYPE_CHECKING:
    pass


@dataclass
class BackfillSummary:
    """What one run did; the text and the --json output are both made from this."""

    direction: str
    dry_run: bool = False
    resumed_from: str | None = None
    auvo_read: int = 0
    bling_read: int = 0
    auvo_pages: int = 0
    bling_pages: int = 0
    paired: dict[str, int] = field(default_factory=dict)  # by rule
    newly_linked: int = 0
    stale_links_dropped: int = 0
    recovered_from_stale: int = 0  # a linked record the list missed, found by id
    created_bling: int = 0
    created_auvo: int = 0
    updated_bling: int = 0
    updated_auvo: int = 0
    unchanged_after_read: int = 0
    # a create the plan wanted that was found already made (an interrupted run, a create that timed
    # out and landed, a live consumer meanwhile): linked by marker or id map instead of created
    recovered_after_crash: int = 0
    busy_retries: int = 0  # records retried because another writer held them or a create was in doubt
    differ_left: int = 0
    planned: dict[str, int] = field(default_factory=dict)
    held: dict[str, str] = field(default_factory=dict)  # "auvo 12" / "bling 34" -> why
    auvo_only_not_written: int = 0
    bling_only_not_written: int = 0
    full_reads: int = 0
    email_reads: int = 0
    email_reads_skipped: int = 0
    extra_reads: int = 0
    failed: list[str] = field(default_factory=list)
    bling_calls: int = 0
    auvo_calls: int = 0
    retries: int = 0  # transient failures retried (rate limits included)
    rate_limited: int = 0  # 429 / Auvo's 403 rate limit answers seen
    phases: dict[str, dict[str, float]] = field(default_factory=dict)  # seconds and Bling calls per phase
    bling_quota_per_second: float = 3.0
    seconds: float = 0.0
    interrupted: bool = False
    # Bling days the writes need at the daily budget (1: they fit today); None without a budget
    days_at_budget: int | None = None
    stopped_at_budget: bool = False

    @property
    def written(self) -> int:
        return self.created_bling + self.created_auvo + self.updated_bling + self.updated_auvo

    @property
    def bling_calls_per_written(self) -> float | None:
        return round(self.bling_calls / self.written, 3) if self.written else None

    @property
    def bling_rate(self) -> float:
        return round(self.bling_calls / self.seconds, 3) if self.seconds > 0 else 0.0

    def as_dict(self) -> JsonDict:
        out = asdict(self)
        out.update(
            written=self.written,
            bling_calls_per_written=self.bling_calls_per_written,
            bling_calls_per_second=self.bling_rate,
            paired_total=sum(self.paired.values()),
        )
        return out

    def render(self) -> str:
        rules = {
            Rule.ID_MAP: "id map",
            Rule.MARKER: "marker",
            Rule.EXTERNAL_ID: "externalId",
            Rule.DOCUMENT: "CPF/CNPJ",
            Rule.EMAIL: "e-mail",
        }
        by_rule = ", ".join(f"{label} {self.paired.get(rule.value, 0)}" for rule, label in rules.items())
        state = "interrupted" if self.interrupted else ("dry run" if self.dry_run else "finished")
        quota = self.bling_quota_per_second
        lines = [f"backfill ({self.direction}) {state} in {self.seconds:.1f} s"]
        if self.resumed_from:
            lines.append(f"  resumed     after an interrupted run (it stopped in {self.resumed_from})")
        lines += [
            f"  read        Auvo {self.auvo_read} customers ({self.auvo_pages} calls), "
            f"Bling {self.bling_read} contatos ({self.bling_pages} calls)",
            f"  paired      {sum(self.paired.values())}: {by_rule} ({self.newly_linked} newly linked)",
        ]
        if self.dry_run:
            planned = ", ".join(f"{k} {v}" for k, v in self.planned.items()) or "nothing"
            lines.append(f"  would write {planned}")
        else:
            lines += [
                f"  created     in Bling {self.created_bling}, in Auvo {self.created_auvo}",
                f"  updated     in Bling {self.updated_bling}, in Auvo {self.updated_auvo} "
                f"(read in full and found equal: {self.unchanged_after_read})",
            ]
        if self.recovered_after_crash:
            lines.append(
                f"  recovered   {self.recovered_after_crash} contatos an interrupted run had created"
            )
        if self.differ_left:
            lines.append(
                f"  differ      {self.differ_left} pairs differ, left for the live flow (its conflict "
                "policy decides on their next change)"
            )
        not_written = []
        if self.auvo_only_not_written:
            not_written.append(f"{self.auvo_only_not_written} Auvo customers")
        if self.bling_only_not_written:
            not_written.append(f"{self.bling_only_not_written} Bling contatos")
        if not_written:
            lines.append(
                f"  one side   {' and '.join(not_written)} without a counterpart, not in this direction"
            )
        if self.stale_links_dropped or self.recovered_from_stale:
            lines.append(
                f"  stale links {self.stale_links_dropped} dropped (record deleted), "
                f"{self.recovered_from_stale} records the list missed found by id"
            )
        lines.append(
            f"  extra reads {self.extra_reads} contatos read in full without a write "
            f"({self.email_reads} read for e-mail matching"
            + (
                f", {self.email_reads_skipped} over --max-email-reads not read"
                if self.email_reads_skipped
                else ""
            )
            + ")"
        )
        per = self.bling_calls_per_written
        lines += [
            f"  calls       Bling {self.bling_calls} ({self.bling_rate:.2f}/s = "
            f"{self.bling_rate / quota:.2f} of the {quota:g}/s quota), Auvo {self.auvo_calls}"
            + (f"; {self.retries} retried ({self.rate_limited} rate-limited)" if self.retries else ""),
            f"  per write   {per if per is not None else '-'} Bling calls per written record "
            f"({self.written} written)",
        ]
        write = self.phases.get("write")
        if write and write["seconds"] > 0 and write["bling_calls"]:
            rate = write["bling_calls"] / write["seconds"]
            lines.append(
                f"  write phase {write['bling_calls']:g} Bling calls in {write['seconds']:.1f} s = "
                f"{rate:.2f}/s ({rate / quota:.2f} of the quota)"
            )
        if self.held:
            lines.append(
                f"  held        {len(self.held)} records left for a person (ambiguous or duplicates):"
            )
            lines += [f"    {who}: {why}" for who, why in list(self.held.items())[:20]]
            if len(self.held) > 20:
                lines.append(f"    ... and {len(self.held) - 20} more (--json lists all)")
        if self.failed:
            lines.append(
                f"  failed      {len(self.failed)} records (rerun after fixing; nothing is duplicated):"
            )
            lines += [f"    {line}" for line in self.failed[:20]]
        return "\n".join(lines)
