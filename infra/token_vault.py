"""OAuth tokens encrypted at rest (Fernet), shared by every process through the store.

The key comes from `AUVO_BLING_SECRET_KEY`: either a Fernet key or any passphrase (hashed into
one). Without a key the vault refuses to store tokens, except in the demo, which makes a
throw-away key. The ciphertext is all the database ever sees.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken

from infra.bling.oauth import TokenSet
from infra.errors import ConfigurationError
from infra.store import Store


def fernet_for(secret: str) -> Fernet:
    """A Fernet from a Fernet key, or from a passphrase through SHA-256."""
    try:
        return Fernet(secret.encode())
    except (ValueError, TypeError):
        return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


def _to_json(tokens: TokenSet, tenant: str) -> str:
    return json.dumps(
        {
            # sealed inside the ciphertext: a row moved to another tenant's key does not load
            "tenant": tenant,
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at.isoformat(),
            "scope": list(tokens.scope),
            "token_type": tokens.token_type,
            "lifetime_seconds": tokens.lifetime_seconds,
        }
    )


def _from_json(raw: str, tenant: str) -> TokenSet:
    data = json.loads(raw)
    owner = data.pop("tenant", tenant)  # rows written before tenants existed carry none
    if owner != tenant:
        raise ConfigurationError(
            f"the stored Bling tokens of tenant {tenant!r} were issued to tenant {owner!r}; refusing them: "
            f"re-authorize with `auvo-bling authorize --tenant {tenant}`"
        )
    data["expires_at"] = datetime.fromisoformat(data["expires_at"])
    return TokenSet(**data)


class TokenVault:
    def __init__(self, store: Store, tenant: str, secret_key: str | None) -> None:
        self.store = store
        self.tenant = tenant
        self._fernet = fernet_for(secret_key) if secret_key else None

    def _require_key(self) -> Fernet:
        if self._fernet is None:
            raise ConfigurationError(
                "invalid setting secret_key [AUVO_BLING_SECRET_KEY]: required to keep OAuth tokens "
                "encrypted at rest (any long random string)"
            )
        return self._fernet

    def save(self, provider: str, tokens: TokenSet) -> None:
        ciphertext = self._require_key().encrypt(_to_json(tokens, self.tenant).encode()).decode()
        self.store.save_token(self.tenant, provider, ciphertext, tokens.expires_at)

    def load(self, provider: str) -> TokenSet | None:
        ciphertext = self.store.load_token(self.tenant, provider)
        if ciphertext is None:
            return None
        try:
            plain = self._require_key().decrypt(ciphertext.encode())
        except InvalidToken:
            raise ConfigurationError(
                "the stored Bling tokens cannot be decrypted with AUVO_BLING_SECRET_KEY: the key changed; "
                "restore it or re-authorize with `auvo-bling authorize`"
            ) from None
        return _from_json(plain.decode(), self.tenant)

    # --- other secrets (the company options' client secret and Auvo token) ---------------------

    def seal(self, name: str, plain: str) -> str:
        """Ciphertext of one secret, bound to this tenant and `name` (a row copied elsewhere fails)."""
        body = json.dumps({"tenant": self.tenant, "name": name, "value": plain})
        return self._require_key().encrypt(body.encode()).decode()

    def unseal(self, name: str, ciphertext: str) -> str:
        try:
            data = json.loads(self._require_key().decrypt(ciphertext.encode()).decode())
        except InvalidToken:
            raise ConfigurationError(
                f"the stored {name} of tenant {self.tenant!r} cannot be decrypted with "
                "AUVO_BLING_SECRET_KEY: "
                "the key changed; restore it or save the option again"
            ) from None
        if data.get("tenant") != self.tenant or data.get("name") != name:
            raise ConfigurationError(
                f"the stored {name} of tenant {self.tenant!r} was sealed for another option or tenant; "
                "save the option again"
            )
        return str(data["value"])
