"""Which batch a published event belongs to, for the shared topology's live/bulk split.

A poller that publishes a page at once says its size (`Publisher.publish_batch`); one that
publishes one event at a time (tasks, quotes, Bling contatos) is a large batch all the same on a
first poll or a catch-up. So each poll pass counts what it published (`one_poll_pass`, entered by
producers.polling.poll_pass) and an event's batch is the larger of the two: past
`bus.bulk_batch_min` events, a pass's events go to the bulk queues. Pure (no kombu): the pollers
import it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

# the events published so far by the poll pass this thread is in (None: not in a pass)
_PASS: ContextVar[list[int] | None] = ContextVar("poll_pass_published", default=None)


@contextlib.contextmanager
def one_poll_pass() -> Iterator[None]:
    """Count what is published inside as one batch."""
    token = _PASS.set([0])
    try:
        yield
    finally:
        _PASS.reset(token)


def batch_size(batch: int) -> int:
    """The batch of one event being published: its own, or its poll pass's so far if larger."""
    counter = _PASS.get()
    if counter is None:
        return batch
    counter[0] += 1
    return max(batch, counter[0])
