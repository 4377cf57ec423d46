"""Who may change what: admin (options, authorization, companies), operator (the operations pages),
viewer (read only). Reading is open to every signed-in user; each change names the roles it allows."""

from __future__ import annotations

ROLES = ("admin", "operator", "viewer")
EVERYONE = frozenset(ROLES)
ADMIN = frozenset({"admin"})
OPERATORS = frozenset({"admin", "operator"})

# non-GET paths (by prefix) open to more than the admin; anything else that changes state is admin-only
CHANGE_ROLES: dict[str, frozenset[str]] = {
    "/logout": EVERYONE,
    "/falhas": OPERATORS,  # replay, park, purge (falhas_pages)
    "/operacao": OPERATORS,  # Retomar (operacao_pages)
}


def may_change(role: str, path: str) -> bool:
    for prefix, roles in CHANGE_ROLES.items():
        if path == prefix or path.startswith(prefix + "/"):
            return role in roles
    return role in ADMIN
