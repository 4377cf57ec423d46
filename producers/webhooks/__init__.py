"""Webhook receivers: pushed changes from Auvo and Bling, turned into the pollers' events."""
