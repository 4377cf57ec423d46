"""Payables: Auvo expenses as Bling contas a pagar."""
