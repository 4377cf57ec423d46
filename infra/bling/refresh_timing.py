"""When a tenant refreshes its Bling access token: ahead of expiry, proportional, spread by tenant.

A fixed margin fits one lifetime only: 300 s ahead of a 6-hour token is fine, 300 s ahead of a
token that lives 120 s means a refresh before every request (and Bling blocks the IP after 20
token calls a minute). And tenants authorized together expire together: each refreshing at the
same moment is a burst against that IP-wide ceiling. So the margin is a share of the token's own
lifetime, and each tenant refreshes at its own, deterministic point inside it (every process of a
tenant computes the same point, so they meet at one single-flight refresh).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from infra.bling.oauth import DEFAULT_EXPIRES_IN_S, TokenSet

# Refresh within the last fifth of the token's life (6 h token: from 72 min before expiry) ...
MARGIN_FRACTION = 0.2
# ... at a tenant's own point in the first three quarters of that margin (6 h token: between 72
# and 18 min before expiry, so 50 tenants expiring together refresh about one a minute).
SPREAD_FRACTION = 0.75
# A token with more than this share of its life left is still worth using while the refresh
# waits for room under the IP-wide token ceiling (infra/egress.py) instead of blocking for it.
USABLE_FRACTION = 0.05


def lifetime_of(tokens: TokenSet) -> float:
    """Seconds the token was issued for; Bling's documented 6 h for rows saved before it was kept."""
    return tokens.lifetime_seconds or float(DEFAULT_EXPIRES_IN_S)


def tenant_phase(tenant: str) -> float:
    """A stable number in [0, 1) per tenant: where in the spread its refresh falls."""
    return int.from_bytes(hashlib.sha256(f"bling-refresh:{tenant}".encode()).digest()[:8], "big") / 2**64


def refresh_due_at(tokens: TokenSet, tenant: str) -> datetime:
    """The moment from which this tenant's processes refresh the token (before they use it)."""
    margin = lifetime_of(tokens) * MARGIN_FRACTION
    ahead = margin * (1.0 - SPREAD_FRACTION * tenant_phase(tenant))
    return tokens.expires_at - timedelta(seconds=ahead)


def still_usable(tokens: TokenSet, now: datetime) -> bool:
    """Whether the current token may be used a little longer while the refresh waits its turn."""
    return now < tokens.expires_at - timedelta(seconds=lifetime_of(tokens) * USABLE_FRACTION)
