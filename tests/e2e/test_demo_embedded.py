"""The embedded default end to end: what `auvo-bling demo` runs, smaller."""

from __future__ import annotations

import io

from auvo_bling.demo import run_demo


def test_demo_syncs_every_customer_both_ways_without_duplicates() -> None:
    out = io.StringIO()
    result = run_demo(40, timeout=45, out=out)
    text = out.getvalue()
    assert result.ok, text
    assert (result.auvo_to_bling, result.bling_to_auvo, result.duplicates) == (40, 40, 0)
    assert result.stats["created"] == 80  # one write per customer, nothing more
    assert result.stats.get("updated", 0) == 0
    assert result.stats["skipped_echo"] > 0  # our own writes came back and were dropped
    assert "result                  : OK, every customer synced" in text
