"""Queue depths for `status`: passive declares always, the management API on top when it answers.

A passive `queue.declare` always works over AMQP and is exact at this instant: ready messages and
the consumer count. The management plugin knows more (unacked messages, rates) but is often not
enabled, and its numbers are samples up to `collect_statistics_interval` (5 s) old, so a queue
created or filled a moment ago still shows nothing there. Hence: depth and consumers come from
the passive declare; unacked and rates are added from the plugin when it answers (one request,
short timeout), and stay None otherwise. The answer says which source was used.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from amqp.exceptions import NotFound
from kombu import Connection

from infra.bus.nodes import broker_urls
from infra.bus.publisher import make_connection

MANAGEMENT_PORT = 15672


@dataclass
class QueueStats:
    name: str
    exists: bool
    ready: int | None = None
    unacked: int | None = None
    consumers: int | None = None
    publish_rate: float | None = None  # messages/s into the queue (management only)
    deliver_rate: float | None = None  # messages/s delivered to consumers (management only)
    ack_rate: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def management_base(amqp_url: str, management_url: str | None) -> tuple[str, tuple[str, str], str]:
    """(base URL, credentials, vhost) of the management API that goes with an AMQP URL."""
    conn = Connection(amqp_url)
    auth = (conn.userid or "guest", conn.password or "guest")
    vhost = conn.virtual_host or "/"
    if management_url:
        return management_url.rstrip("/"), auth, vhost
    host = urlsplit(broker_urls(amqp_url)[0]).hostname or "127.0.0.1"
    scheme = "https" if amqp_url.startswith("amqps://") else "http"
    return f"{scheme}://{host}:{MANAGEMENT_PORT}", auth, vhost


def _rate(stats: dict[str, Any], key: str) -> float | None:
    details = stats.get(f"{key}_details")
    return float(details["rate"]) if isinstance(details, dict) and "rate" in details else None


def from_management(
    amqp_url: str, names: list[str], management_url: str | None = None, timeout: float = 2.0
) -> dict[str, QueueStats] | None:
    """Every named queue's stats from the plugin, or None when the plugin does not answer."""
    base, auth, vhost = management_base(amqp_url, management_url)
    columns = "name,messages_ready,messages_unacknowledged,consumers,message_stats"
    try:
        response = httpx.get(
            f"{base}/api/queues/{quote(vhost, safe='')}",
            params={"columns": columns},
            auth=auth,
            timeout=timeout,
        )
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        rows = {row["name"]: row for row in response.json()}
    except (ValueError, KeyError, TypeError):
        return None
    out = {}
    for name in names:
        row = rows.get(name)
        if row is None:
            out[name] = QueueStats(name, exists=False)
            continue
        stats = row.get("message_stats") or {}
        out[name] = QueueStats(
            name,
            exists=True,
            ready=row.get("messages_ready"),
            unacked=row.get("messages_unacknowledged"),
            consumers=row.get("consumers"),
            publish_rate=_rate(stats, "publish"),
            deliver_rate=_rate(stats, "deliver_get"),
            ack_rate=_rate(stats, "ack"),
        )
    return out


def from_passive_declares(amqp_url: str, names: list[str]) -> dict[str, QueueStats]:
    """Ready messages and consumers of every named queue over AMQP (a missing queue is reported)."""
    conn = make_connection(amqp_url)
    out: dict[str, QueueStats] = {}
    try:
        conn.ensure_connection(max_retries=2, interval_start=0.2, interval_step=0.3)
        channel = conn.channel()
        for name in names:
            try:
                _, ready, consumers = channel.queue_declare(queue=name, passive=True)
            except NotFound:
                out[name] = QueueStats(name, exists=False)
                channel = conn.channel()  # a failed passive declare closes the channel
                continue
            out[name] = QueueStats(name, exists=True, ready=int(ready), consumers=int(consumers))
        with contextlib.suppress(Exception):
            channel.close()
    finally:
        conn.release()
    return out


def queue_stats(
    amqp_url: str, names: list[str], management_url: str | None = None
) -> tuple[str, dict[str, QueueStats]]:
    """("management" | "passive", stats by queue name): exact depths, plus what only the plugin knows."""
    stats = from_passive_declares(amqp_url, names)
    sampled = from_management(amqp_url, names, management_url)
    if sampled is None:
        return "passive", stats
    for name, exact in stats.items():
        extra = sampled.get(name)
        if exact.exists and extra is not None and extra.exists:
            exact.unacked = extra.unacked
            exact.publish_rate, exact.deliver_rate, exact.ack_rate = (
                extra.publish_rate,
                extra.deliver_rate,
                extra.ack_rate,
            )
    return "management", stats
