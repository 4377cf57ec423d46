"""Bling: the API client, its wire formats, OAuth and the token lead."""
