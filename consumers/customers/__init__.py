"""Customers both ways: the neutral mapping, matching, conflicts, and the two writers."""
