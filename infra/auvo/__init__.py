"""Auvo: the API client and its wire formats."""
