"""Names of store entries written on one side of the bus and read on the other.

The pollers and the consumers never import each other; the keys they share live here.
"""

from __future__ import annotations

# Cursor set once a full pass over Auvo's customers is done: from then on the customer index is usable.
AUVO_CUSTOMERS_INDEXED = "auvo.customers.indexed"

# id map entities of the sales documents
JOB_ORDER = "task"  # Auvo task id <-> the job's Bling pedido de venda
QUOTE_ORDER = "quote_order"  # Auvo quotation id (no task) <-> Bling pedido de venda
QUOTE_PROPOSAL = "quote"  # Auvo quotation id <-> Bling proposta comercial
