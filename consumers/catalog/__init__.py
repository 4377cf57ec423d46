"""Sync of the company's Bling catalogue into Auvo (issue 17, item 2)."""
