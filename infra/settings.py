"""Settings: every option of the activation guide, from the environment and an optional TOML file.

Environment variables use the prefix `AUVO_BLING_` and `__` for nesting
(`AUVO_BLING_CUSTOMERS__DIRECTION=both`); the broker and the database also accept the
conventional `AMQP_URL` and `DATABASE_URL`. Precedence: environment over the TOML file over
the company options saved in the database (auvo_bling/company_options.py) over defaults, so an
ops team can keep a checked-in file and override secrets from the environment; what these two set
pins the option (the console cannot change it).
Invalid values fail at start with one line that names the setting and the allowed values.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from contracts.options import Direction, TaskStatus
from infra.errors import ConfigurationError
from infra.logging import scrub

DEFAULT_AMQP_URL = "memory://"
DEFAULT_DATABASE_URL = "sqlite:///auvo-bling.sqlite3"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AuvoSettings(_Section):
    base_url: str = "https://api.auvo.com.br/v2"
    api_key: SecretStr | None = None
    api_token: SecretStr | None = None
    requests_per_minute: int = Field(400, ge=1)
    timeout_seconds: float = Field(15.0, gt=0)


class BlingSettings(_Section):
    base_url: str = "https://api.bling.com.br/Api/v3"
    client_id: str | None = None
    client_secret: SecretStr | None = None
    redirect_uri: str = "http://127.0.0.1:8765/callback"
    requests_per_second: float = Field(3.0, gt=0)
    timeout_seconds: float = Field(15.0, gt=0)
    # A refresh answered after we gave up has already rotated the single-use refresh token, which
    # would lose the authorization: the token call gets a long timeout of its own.
    token_timeout_seconds: float = Field(60.0, gt=0)
    # Bling's daily quota per account (120,000 on every plan today), shared with the company's
    # other apps on the account.
    daily_quota: int = Field(120_000, ge=1)
    # This integration's share of it: 25 % (30,000 calls a day). The account's e-commerce
    # connectors and marketplace hubs poll orders, stock and prices all day and are the reason the
    # company has a Bling account at all; leaving them three quarters keeps us from starving them.
    # 30,000 still covers idle polling (the goal is <= 3 % of the quota, 3,600), a day's live
    # changes many times over, and a first backfill of ~20,000 customers in a day (about one call
    # per written record); a larger one spreads over days (backfill says how many).
    daily_budget_share: float = Field(0.25, gt=0, le=1)
    # The part of that budget polls and backfills never spend, kept for live writes: 20 % (6,000
    # calls) is a full day of live changes at several a minute even after a backfill ran to its end.
    daily_write_reserve_share: float = Field(0.2, ge=0, lt=1)
    # While Bling answers its daily limit, one call (across every process) asks whether it is back.
    quota_probe_seconds: float = Field(300.0, gt=0)


class CustomerSettings(_Section):
    direction: Direction = Direction.auvo_to_bling


def _csv_list(value: Any) -> Any:
    """Accept `[11, 12]` (JSON) or the `11,12` people type in an environment variable."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except ValueError:
                raise ValueError(
                    "must be a JSON list like [11, 12] or a comma-separated list like 11,12"
                ) from None
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class TaskSettings(_Section):
    enabled: bool = False
    status: TaskStatus = TaskStatus.all
    task_types: Annotated[list[int], NoDecode] = Field(default_factory=list)
    customer_group: int | None = None
    # Auvo's /tasks needs startDate/endDate on the task date; a change to a task dated outside
    # [now - lookback_days, now + lookahead_days] is not seen. Walked in windows of window_days.
    lookback_days: int = Field(90, ge=1)
    lookahead_days: int = Field(30, ge=0)
    window_days: int = Field(31, ge=1)
    # the job's outcome back on the task (issue 17, item 3): the pedido's number as the task's
    # externalId, its state as one Auvo keyword per state. A keyword id left empty is found (or
    # created) in Auvo by its default description (consumers/sales/outcome_keywords.py).
    outcome: bool = False
    keyword_attended: int | None = None
    keyword_cancelled: int | None = None
    keyword_invoiced: int | None = None

    _split_task_types = field_validator("task_types", mode="before")(_csv_list)


class QuoteSettings(_Section):
    enabled: bool = False
    stage: str | None = None
    target: Literal["proposta_comercial", "pedido_de_venda"] = "proposta_comercial"
    # quotations have no change stamp: every poll reads those requested in the last lookback_days
    lookback_days: int = Field(90, ge=1)


class CatalogSettings(_Section):
    """How an Auvo product or service a pedido sells finds its Bling produto (issue 17, item 1).

    Every item is first matched to the company's own Bling catalogue (explicit mapping, id map, then
    Bling's produto with the same code/SKU, the id in the item's externalId, or the same GTIN;
    consumers/sales/product_matching.py). `unmatched` says what happens to an item that matches
    nothing:
    - `create` (default): a Bling produto is created for it, coded `AUVO-P-<id>` / `AUVO-S-<id>`
      (what the integration always did, and what Auvo's hosted integration does). The default
      because an upgrade must not start holding every pedido of a company whose Auvo items carry no
      codes yet, nor a company that keeps no catalogue in Bling; each creation is counted
      (`catalog.<kind>.created`) and `auvo-bling products list --unmapped` shows what to map.
    - `hold`: the event is dead-lettered as `UnmappedProduct` with the item, the candidates and the
      hint; after the Auvo code is filled or `auvo-bling products map` is run, `dlq replay` writes
      the pedido with the right produto. For companies whose Bling catalogue is the reference
      (NCM, stock, nota fiscal): no shadow produto is ever created.
    An ambiguous match (two produtos for one item) is held in both modes.
    """

    unmatched: Literal["create", "hold"] = "create"
    # issue 17, item 2: "Produtos do Bling no Auvo". Off by default: the company's Bling produtos
    # (tipo P) become Auvo products and its serviços (tipo S/N) Auvo services, with name, price,
    # cost, active and (products) Bling's stock as `totalStock`; pushed by Bling's produto/estoque
    # webhooks, polled as the safety net. A stock movement does not change a produto's
    # dataAlteracao, so every `stock_sweep_seconds` the poller also lists the whole catalogue
    # (one request per 100 produtos, from the "poll" share of the daily budget).
    bling_to_auvo: bool = False
    stock_sweep_seconds: float = Field(900.0, ge=0)


class ExpenseSettings(_Section):
    """The optional "Contas a Pagar" flow: technicians' expenses in Auvo become contas a pagar."""

    enabled: bool = False
    lookback_days: int = Field(30, ge=1)


class PollSettings(_Section):
    """Pollers run every `interval_seconds` while changes flow and stretch (doubling) while idle
    up to `max_interval_seconds`. The bound is the quota's price: an idle pass at the defaults
    costs Auvo 6 requests (customers, four task-date windows, quotations) and Bling one (contatos),
    so 32 s keeps idle use at about 11 Auvo requests a minute (under 12, 3 % of Auvo's 400) and
    2,700 Bling requests a day (2.25 % of 120,000); a change after a quiet spell then waits up to
    32 s for its pass (the latency price; with webhooks, pushed sources do not wait for a pass).
    """

    interval_seconds: float = Field(5.0, gt=0)
    max_interval_seconds: float = Field(32.0, gt=0)
    overlap_seconds: float = Field(30.0, ge=0)


class WebhookSettings(_Section):
    """The webhook receiver (`auvo-bling webhooks serve`) and what it changes elsewhere.

    With `enabled`, changes arrive pushed within seconds and the pollers of the pushed sources
    (Auvo customers and tasks) become the safety net: idle, they stretch up to
    `poll_interval_seconds` instead of `poll.max_interval_seconds` (a separate setting, so `poll.*`
    keeps meaning "without webhooks" and switching webhooks off needs no other edit). A delivery
    snaps its source's poller back to `poll.interval_seconds`. Sources without webhooks (Bling
    contatos, Auvo quotations and expenses) keep the `poll.*` bounds.
    """

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(8088, ge=0, le=65535)
    # the secret path segment of the URL registered in Auvo (Auvo cannot sign its notifications)
    auvo_secret: SecretStr | None = None
    max_body_bytes: int = Field(256 * 1024, ge=1024)
    # a notification whose own date is further than this from now is refused (replay protection)
    replay_window_seconds: float = Field(24 * 3600.0, gt=0)
    poll_interval_seconds: float = Field(300.0, gt=0)


class RetryOverride(_Section):
    """One consumer's own retry policy; a field left out falls back to the `bus` default.

    Why per consumer: a Bling write that hits the 3 req/s quota wants short, many retries, while
    an Auvo task flow may want to wait an hour between attempts; one global policy fits neither.
    """

    max_attempts: int | None = Field(None, ge=1)
    retry_delays_seconds: Annotated[list[float] | None, NoDecode] = None
    _split_delays = field_validator("retry_delays_seconds", mode="before")(_csv_list)

    @field_validator("retry_delays_seconds")
    @classmethod
    def _delays_positive(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and (not v or any(d <= 0 for d in v)):
            raise ValueError("must be a non-empty list of positive numbers of seconds")
        return v


class BusSettings(_Section):
    # Prepended to every exchange and queue name: several deployments (or test runs) can share
    # one vhost without seeing each other's messages.
    prefix: str = ""
    # "per_tenant": every named tenant has its own queues (`<prefix><tenant>.`: 29 quorum queues a
    # tenant; a few dozen tenants on a small broker). "shared": one fixed set of queues for every
    # tenant, the tenant in each message, a live and a bulk queue per flow (infra/bus/topology.py).
    topology: Literal["per_tenant", "shared"] = "per_tenant"
    # shared topology: a poll that publishes at least this many events at once (a first poll, a
    # catch-up) sends them to the flows' bulk queues, so they never wait in front of live changes
    bulk_batch_min: int = Field(20, ge=2)
    # shared topology: the consumer threads of a process on the bulk queues (besides the live
    # ones), whatever the number of tenants
    bulk_worker_threads: int = Field(1, ge=1)
    # shared topology: at least this many consumer threads on the live queues (`--threads` may
    # ask more): one company's live change must not wait behind another's
    live_worker_threads: int = Field(4, ge=1)
    # shared topology: a consumer thread does not wait longer than this for a company's API slot
    # (its other events took the next seconds, a 429 pause holds its bucket): the event is set
    # aside in a delay queue, no attempt spent, and the thread takes another company's. 0 = wait.
    set_aside_after_seconds: float = Field(2.0, ge=0)
    # shared topology: a producer process polls every tenant it holds on this many threads (a
    # pass waiting for its company's Auvo or Bling bucket holds one, asleep), and the tenants are
    # hashed into `poll_shards` leases shared out between the producer processes
    poll_threads: int = Field(16, ge=1)
    poll_shards: int = Field(64, ge=1, le=4096)
    prefetch: int = Field(20, ge=1)
    delivery_limit: int = Field(10, ge=1)
    retry_delays_seconds: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [5.0, 30.0, 120.0, 600.0, 3600.0]
    )
    _split_delays = field_validator("retry_delays_seconds", mode="before")(_csv_list)
    max_attempts: int = Field(6, ge=1)
    # Per work queue (its name without the prefix, e.g. "to-bling.contacts"): its own retry policy.
    # In the environment: AUVO_BLING_BUS__OVERRIDES='{"to-bling.contacts": {"max_attempts": 3}}'.
    overrides: dict[str, RetryOverride] = Field(default_factory=dict)
    # RabbitMQ management API for `status` (unacked counts, rates); None = the broker's host on
    # :15672 with the AMQP credentials. When it does not answer, `status` uses passive declares.
    management_url: str | None = None

    @field_validator("retry_delays_seconds")
    @classmethod
    def _delays_positive(cls, v: list[float]) -> list[float]:
        if not v or any(d <= 0 for d in v):
            raise ValueError("must be a non-empty list of positive numbers of seconds")
        return v

    @field_validator("overrides")
    @classmethod
    def _known_queues(cls, v: dict[str, RetryOverride]) -> dict[str, RetryOverride]:
        from infra.bus.topology import ALL_WORK_QUEUES  # lazy: settings must not pull kombu in early

        known = sorted(wq.name for wq in ALL_WORK_QUEUES)
        unknown = sorted(set(v) - set(known))
        if unknown:
            raise ValueError(f"unknown work queue(s) {', '.join(unknown)}; known: {', '.join(known)}")
        return v

    def retry_delays_for(self, queue: str) -> list[float]:
        """The backoff steps of one work queue: its override, else the bus default."""
        override = self.overrides.get(queue)
        if override is not None and override.retry_delays_seconds is not None:
            return list(override.retry_delays_seconds)
        return list(self.retry_delays_seconds)

    def max_attempts_for(self, queue: str) -> int:
        override = self.overrides.get(queue)
        if override is not None and override.max_attempts is not None:
            return override.max_attempts
        return self.max_attempts


class ConsoleSettings(_Section):
    """The web console (`auvo-bling console serve`): where it listens and how it guards access.

    It binds localhost by default: put it behind a TLS proxy to reach it from elsewhere (README). The
    session cookie is marked Secure when `secure_cookies` says so, or when the request came over
    HTTPS as a proxy listed in `trusted_proxies` reports it (X-Forwarded-Proto).
    """

    host: str = "127.0.0.1"
    port: int = Field(8770, ge=0, le=65535)
    # "pt-BR" (the guide's language), "en", or "auto": the browser's Accept-Language, else pt-BR
    language: Literal["auto", "pt-BR", "en"] = "auto"
    secure_cookies: bool = False
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["127.0.0.1"])
    session_hours: float = Field(12.0, gt=0)
    # failed logins allowed per user name and per client address within the window
    login_failures_per_user: int = Field(5, ge=1)
    login_failures_per_address: int = Field(20, ge=1)
    login_window_seconds: float = Field(900.0, gt=0)
    # the Operação page's live numbers: recomputed at most this often for all open pages, and at
    # most this many event streams open at once (each holds a connection)
    live_seconds: float = Field(2.0, gt=0)
    live_max_streams: int = Field(20, ge=1)

    _split_proxies = field_validator("trusted_proxies", mode="before")(_csv_list)


class EgressSettings(_Section):
    """The providers' per-IP ceilings, shared by every tenant and process of one egress group.

    Bling blocks an IP, not an account: more than 20 token calls in 60 s blocks it for an hour,
    600 requests or 300 errors in 10 s for minutes. Every process that leaves through the same
    address must name the same `group` (the default: one address for the whole deployment); a
    deployment with several egress IPs gives each machine its own group. The limits keep
    headroom under Bling's (requests reserved here can arrive closer together than they left).
    Auvo's 400/min may be per key or per IP (sources disagree): `auvo.requests_per_minute` holds
    per key, `auvo_requests_per_minute` here per group (unset: the same figure as the key's;
    0 = not enforced per IP).
    """

    group: str = Field("default", min_length=1, max_length=60)
    bling_token_calls_per_minute: int = Field(15, ge=1, le=20)
    bling_requests_per_10s: int = Field(500, ge=1, le=600)
    bling_errors_per_10s: int = Field(200, ge=1, le=300)
    auvo_requests_per_minute: int | None = Field(None, ge=0)


TENANT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
TENANT_NAME_RULE = "must be 1-40 lowercase letters, digits, '-' or '_', starting with a letter or digit"


class TenantSections(_Section):
    """The sections that belong to one Auvo <> Bling pair (the default tenant's are top-level)."""

    auvo: AuvoSettings = Field(default_factory=AuvoSettings)
    bling: BlingSettings = Field(default_factory=BlingSettings)
    customers: CustomerSettings = Field(default_factory=CustomerSettings)
    tasks: TaskSettings = Field(default_factory=TaskSettings)
    quotes: QuoteSettings = Field(default_factory=QuoteSettings)
    expenses: ExpenseSettings = Field(default_factory=ExpenseSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    poll: PollSettings = Field(default_factory=PollSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)


# the rest (broker, database, encryption key, logging, bus) belongs to the deployment
TENANT_SECTIONS = tuple(TenantSections.model_fields)


class TenantSettings(TenantSections):
    """One `[tenants.<name>]` section: an Auvo account paired with a Bling account.

    It starts from the defaults, never from the top-level (default tenant's) values: a tenant
    that forgot its `api_key` must fail at start, not run with another company's credentials.
    """

    enabled: bool = True


class Settings(BaseSettings, TenantSections):
    model_config = SettingsConfigDict(
        env_prefix="AUVO_BLING_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
        # `Settings(amqp_url=...)` and a file's `amqp_url = ...` by the field's name, not only by
        # its variable's: pydantic-settings 2.14 stopped accepting the name without this
        populate_by_name=True,
    )

    amqp_url: str = Field(DEFAULT_AMQP_URL, validation_alias=AliasChoices("AMQP_URL", "AUVO_BLING_AMQP_URL"))
    database_url: str = Field(
        DEFAULT_DATABASE_URL, validation_alias=AliasChoices("DATABASE_URL", "AUVO_BLING_DATABASE_URL")
    )
    # Database schema and retention (README: "Database: upgrades and retention"). An out-of-date
    # schema stops `run`/`produce`/`consume` with one line naming `auvo-bling db upgrade`, unless
    # this says to migrate at start (AUVO_BLING_DATABASE_AUTO_UPGRADE=true).
    database_auto_upgrade: bool = False
    # Days a processed-event id is kept (`db prune`, and the producer leader hourly). While kept, a
    # copy of the event is dropped without a single API call. 30 is far above the longest retry
    # chain (defaults: 5 s..1 h steps, and up to 100 busy retries of at most 1.24 h each: ~5.2 days)
    # and the time a dead letter waits for `dlq replay` over a long weekend or a holiday. Older
    # copies stay harmless (versions, id map, fingerprints and markers are never pruned); they only
    # cost the lookups that prove it.
    retention_days: float = Field(30.0, ge=1)
    # Days of per-minute flow history the console's Operação charts keep (pruned with the rest).
    metrics_history_days: float = Field(7.0, ge=1)
    # Seconds between a process's heartbeats in the store; the Operação page marks a process stale
    # once its last beat is older than `heartbeat_stale_after` intervals (it died or hangs).
    heartbeat_seconds: float = Field(5.0, gt=0)
    heartbeat_stale_after: float = Field(3.0, ge=1)
    # The name of the tenant the top-level sections describe (the single-tenant setup).
    tenant: str = "default"
    # false when the top-level sections describe no account and only [tenants.*] are served
    tenant_enabled: bool = True
    secret_key: SecretStr | None = None
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # where `--metrics-port` listens: localhost on a bare machine (the scraper is local); 0.0.0.0 in
    # a container, where a published port reaches only what listens on the container's interfaces
    metrics_host: str = "127.0.0.1"

    bus: BusSettings = Field(default_factory=BusSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    egress: EgressSettings = Field(default_factory=EgressSettings)
    # more Auvo <> Bling pairs served by the same deployment, by name
    tenants: dict[str, TenantSettings] = Field(default_factory=dict)
    _named_tenant: bool = PrivateAttr(False)
    # the tenants `with_registered` added from the database (the others are the file's)
    _registered: frozenset[str] = PrivateAttr(frozenset())
    # dotted path -> "env" or "toml": what the bootstrap set (load_settings); None = not known
    _origins: dict[str, str] | None = PrivateAttr(None)

    @field_validator("tenant")
    @classmethod
    def _tenant_name(cls, v: str) -> str:
        if not TENANT_NAME.match(v):
            raise ValueError(TENANT_NAME_RULE)
        return v

    @field_validator("tenants")
    @classmethod
    def _tenant_names(cls, v: dict[str, TenantSettings]) -> dict[str, TenantSettings]:
        bad = sorted(name for name in v if not TENANT_NAME.match(name))
        if bad:
            raise ValueError(f"tenant name(s) {', '.join(map(repr, bad))}: {TENANT_NAME_RULE}")
        return v

    @model_validator(mode="after")
    def _default_tenant_not_redefined(self) -> Settings:
        if self.tenant in self.tenants:
            raise ValueError(
                f"tenants.{self.tenant}: {self.tenant!r} is the default tenant (the top-level sections); "
                "give the section another name"
            )
        return self

    # --- tenants -----------------------------------------------------------------------------

    def tenant_names(self) -> list[str]:
        """Every tenant the settings define, the default one first."""
        return [self.tenant, *sorted(self.tenants)]

    def is_enabled(self, tenant: str) -> bool:
        if tenant == self.tenant:
            return self.tenant_enabled
        return self.tenants[tenant].enabled

    def with_registered(self, tenants: Mapping[str, TenantSettings]) -> Settings:
        """These settings with the database's tenants beside the file's sections.

        A tenant kept in the database has a section like a `[tenants.<name>]` one, stored with it
        (never a secret), and starts from the defaults for the rest; its credentials and options
        are its company options. A name the file defines keeps the file's section (the file is
        what an ops team checked in).
        """
        added = {
            name: section
            for name, section in tenants.items()
            if name != self.tenant and name not in self.tenants
        }
        if not added:
            return self
        copy = self.model_copy(update={"tenants": {**self.tenants, **added}})
        copy._registered = self._registered | frozenset(added)
        copy._origins = None if self._origins is None else dict(self._origins)
        return copy

    def tenant_source(self, tenant: str) -> Literal["file", "database"]:
        """Where the tenant is defined: the settings (file, environment) or the database."""
        return "database" if tenant in self._registered else "file"

    def served_tenants(self) -> list[str]:
        """The tenants `run`, `produce` and `consume` serve."""
        return [name for name in self.tenant_names() if self.is_enabled(name)]

    def for_tenant(self, tenant: str | None = None) -> Settings:
        """The settings one tenant runs with: its own sections, the deployment's shared ones.

        A named tenant's queues live under its own bus prefix (`<bus.prefix><tenant>.`), so its
        backlog, retries and dead letters never mix with another tenant's; the default tenant
        keeps the bare prefix, so a single-tenant deployment is unchanged. With `bus.topology =
        "shared"` every tenant keeps the bare prefix: the queues are the same for all, and the
        tenant travels in each message. The copy carries no other tenant's sections (nor their
        secrets).
        """
        name = self.tenant if tenant is None else tenant
        if name == self.tenant:
            return self.model_copy(update={"tenants": {}})
        section = self.tenants.get(name)
        if section is None:
            raise ConfigurationError(
                f"unknown tenant {name!r}; the settings define: {', '.join(self.tenant_names())}"
            )
        update: dict[str, Any] = {field: getattr(section, field) for field in TENANT_SECTIONS}
        update.update(
            tenant=name,
            tenant_enabled=section.enabled,
            tenants={},
        )
        if self.bus.topology == "per_tenant":
            update["bus"] = self.bus.model_copy(update={"prefix": f"{self.bus.prefix}{name}."})
        copy = self.model_copy(update=update)
        copy._named_tenant = True
        return copy

    def bootstrap_for(self, tenant: str | None = None) -> Settings:
        """These settings as one tenant's bootstrap (to rebuild its settings when its company options
        change): the shared ones and that tenant's own sections only, no other tenant's secrets."""
        name = self.tenant if tenant is None else tenant
        if name == self.tenant:
            return self.model_copy(update={"tenants": {}})
        section = self.tenants.get(name)
        if section is None:
            raise ConfigurationError(
                f"unknown tenant {name!r}; the settings define: {', '.join(self.tenant_names())}"
            )
        blank = TenantSections()
        update: dict[str, Any] = {field: getattr(blank, field) for field in TENANT_SECTIONS}
        return self.model_copy(update={**update, "tenants": {name: section}})

    def bootstrap_origins(self) -> dict[str, str]:
        """Where each value the bootstrap set comes from: dotted path -> "env" or "toml".

        These values pin their option: the database's company options never override them. Settings
        made without load_settings (tests, the demo) count their explicitly given values as "toml",
        except those the environment gave.
        """
        if self._origins is not None:
            return dict(self._origins)
        from pydantic_settings import EnvSettingsSource

        found: dict[str, str] = {}
        _fields_set_origins(self, "", found)
        env: dict[str, str] = {}
        _flatten(EnvSettingsSource(Settings)(), "", "env", env)
        return {path: env.get(path, source) for path, source in found.items()}

    @property
    def is_named_tenant(self) -> bool:
        """True for a `[tenants.<name>]` tenant's settings (see for_tenant), False for the default."""
        return self._named_tenant

    @field_validator("amqp_url")
    @classmethod
    def _amqp_scheme(cls, v: str) -> str:
        """One URL, or a cluster's: every node's URL joined by `;` (kombu's failover list)."""
        from infra.bus.nodes import broker_urls  # pure (no kombu)

        nodes = broker_urls(v)
        if len(nodes) > 1 and any(not n.startswith(("amqp://", "amqps://", "pyamqp://")) for n in nodes):
            raise ValueError("a cluster is every node's amqp:// or amqps:// URL, joined by ';'")
        if not v.startswith(("amqp://", "amqps://", "memory://", "pyamqp://")):
            raise ValueError("must start with amqp://, amqps:// or memory://")
        return v

    @field_validator("database_url")
    @classmethod
    def _db_scheme(cls, v: str) -> str:
        if not v.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://", "postgres://")):
            raise ValueError("must be a sqlite:/// path or a postgresql:// URL")
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _TOML_FILE.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    def poll_interval(self) -> float:
        """The longest wait between two polls of a pushed source (the safety-net bound when webhooks
        push its changes); sources without webhooks never wait longer than `poll.max_interval_seconds`."""
        return self.poll_bounds(pushed=True)[1]

    def poll_bounds(self, *, pushed: bool) -> tuple[float, float]:
        """(fast, longest) seconds between the passes of a poller; `pushed`: its source has webhooks."""
        bound = self.webhooks.poll_interval_seconds if pushed and self.webhooks.enabled else None
        return self.poll.interval_seconds, bound or self.poll.max_interval_seconds

    def required_for_run(self) -> list[str]:
        """Names of the settings `run`/`produce`/`consume` cannot work without (for this tenant)."""
        missing = []
        section = f"tenants.{self.tenant}." if self._named_tenant else ""
        env = "AUVO_BLING_" + (f"TENANTS__{self.tenant.upper()}__" if self._named_tenant else "")

        def where(name: str) -> str:  # a database tenant's credentials are its company options
            if self.tenant in self._registered:
                return f"`auvo-bling options set --tenant {self.tenant} {name}` or the console"
            return env + name.upper().replace(".", "__")

        for name, value in (
            ("auvo.api_key", self.auvo.api_key),
            ("auvo.api_token", self.auvo.api_token),
            ("bling.client_id", self.bling.client_id or None),
            ("bling.client_secret", self.bling.client_secret),
        ):
            if value is None:
                missing.append(f"{section}{name} ({where(name)})")
        if self.secret_key is None:
            missing.append("secret_key (AUVO_BLING_SECRET_KEY, encrypts the stored OAuth tokens)")
        return missing


# pydantic-settings reads the TOML path from the class config; a module-level slot lets the CLI
# choose the file per invocation without subclassing.
_TOML_FILE: dict[str, Path | None] = {"path": None}


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load and validate; raise ConfigurationError with one readable line on any problem."""
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigurationError(f"config file {config_file} does not exist")
        try:
            with config_file.open("rb") as fh:
                tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"config file {config_file} is not valid TOML: {exc}") from None
        except UnicodeDecodeError as exc:  # tomllib decodes the bytes itself, and lets this through
            raise ConfigurationError(
                f"config file {config_file} is not UTF-8 text (byte {exc.start}); TOML files are UTF-8"
            ) from None
        except OSError as exc:
            raise ConfigurationError(f"config file {config_file} cannot be read: {exc.strerror}") from None
    _TOML_FILE["path"] = config_file
    try:
        settings = Settings(**overrides)
        settings._origins = _load_origins(config_file, overrides)
        return settings
    except ValidationError as exc:
        raise ConfigurationError(describe_validation_error(exc)) from None
    except SettingsError as exc:
        raise ConfigurationError(
            f"invalid setting: {exc}; lists and sections given in environment variables must be JSON, "
            "e.g. AUVO_BLING_TASKS__TASK_TYPES='[11, 12]'"
        ) from None
    finally:
        _TOML_FILE["path"] = None


def _flatten(values: Any, prefix: str, source: str, into: dict[str, str]) -> None:
    """Leaves as dotted paths; an empty table (`[tenants.acme]` with nothing in it) sets nothing."""
    if isinstance(values, dict):
        for key, value in values.items():
            _flatten(value, f"{prefix}{str(key).lower()}.", source, into)
    elif prefix:
        into[prefix[:-1]] = source


def _load_origins(config_file: Path | None, overrides: dict[str, Any]) -> dict[str, str]:
    """What the TOML file, the caller and the environment set, as dotted paths (env wins)."""
    from pydantic_settings import EnvSettingsSource

    origins: dict[str, str] = {}
    if config_file is not None:
        with config_file.open("rb") as fh:
            _flatten(tomllib.load(fh), "", "toml", origins)
    _flatten(overrides, "", "toml", origins)
    _flatten(EnvSettingsSource(Settings)(), "", "env", origins)
    return origins


def _fields_set_origins(model: BaseModel, prefix: str, into: dict[str, str]) -> None:
    for name in model.model_fields_set:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            _fields_set_origins(value, f"{prefix}{name}.", into)
        elif isinstance(value, dict) and value and all(isinstance(v, BaseModel) for v in value.values()):
            for key, section in value.items():
                _fields_set_origins(section, f"{prefix}{name}.{key}.", into)
        else:
            into[f"{prefix}{name}"] = "toml"


# a setting whose name says it holds a secret: its value is never shown, nor stored in clear
SECRET_NAME = re.compile(r"(secret|token|key|password)", re.IGNORECASE)


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: the setting's dotted name, its env var, and what is allowed."""
    return "; ".join(message for _, message in validation_messages(exc))


def validation_messages(exc: ValidationError) -> list[tuple[str, str]]:
    """Each problem as (dotted setting name, its one-line message), for forms that show them by field."""
    lines = []
    for err in exc.errors():
        loc = [_printable(str(p)) for p in err["loc"]]
        name = ".".join(loc).lower()
        env = "AUVO_BLING_" + "__".join(p.upper() for p in loc if not p.isdigit())
        if name == "amqp_url":
            env = "AMQP_URL"
        elif name == "database_url":
            env = "DATABASE_URL"
        msg = err["msg"]
        ctx = err.get("ctx") or {}
        if "expected" in ctx:
            msg = f"must be one of {ctx['expected']}"
        if err["type"] == "extra_forbidden":
            msg = "is not a known setting"
        value = err.get("input")
        hidden = isinstance(value, dict) or err["type"] == "extra_forbidden" or SECRET_NAME.search(name)
        # scrubbed: a URL given where it does not belong still carries its password (amqp_url = "http://u:pw@h")
        shown = "" if hidden else f" (got {scrub(repr(value))})"
        lines.append((name, f"invalid setting {name} [{env}]: {msg}{shown}"))
    return lines


def _printable(name: str) -> str:
    """A key as the file spells it, control characters escaped: a key holding a newline (TOML allows
    it quoted) would otherwise split the one line the CLI prints into several."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)
