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
    # one write per customer, nothing more
    assert result.counters["customers.auvo_to_bling.created"] == 40
    assert result.counters["customers.bling_to_auvo.created"] == 40
    assert (
        result.counters.get("customers.auvo_to_bling.updated", 0)
        == result.counters.get("customers.bling_to_auvo.updated", 0)
        == 0
    )
    # tasks and quotes: exactly the ones the options let through, once each
    assert result.jobs is not None and result.jobs.ok
    assert set(result.jobs.pedidos) == result.jobs.expected_pedidos and result.jobs.expected_pedidos
    assert result.jobs.filtered_out["task status"] > 0 and result.jobs.filtered_out["task no_values"] > 0
    # the Bling catalogue already holds what the tasks sell: 0 new produtos, each found by its rule
    assert result.produtos_created == 0, text
    for rule in ("code", "external_id", "gtin"):
        assert result.counters.get(f"catalog.product.matched_{rule}") == 1, (rule, result.counters)
    line = "produtos                : 0 new; from Bling's catalogue: by code 1, external id 1, gtin 1, "
    line += "mapped by hand 1; held 0"
    assert line in text
    # the second act: Bling's catalogue reaches Auvo; the 4 items the tasks sold are updated in place
    assert result.catalogue is not None and result.catalogue.ok, text
    assert (result.catalogue.produtos, result.catalogue.created) == (20, 16)
    assert result.catalogue.auvo_items_after == result.catalogue.auvo_items_before + 16
    assert "Bling produtos -> Auvo  : 20/20 (16 created," in text
    assert result.stats["skipped_echo"] > 0  # our own writes came back and were dropped
    assert "result                  : OK, every customer, task and quote synced" in text
