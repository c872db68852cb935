"""One-way hashing of secrets (API keys, login and verification tokens).

Only the SHA-256 digest of a secret is ever stored or logged; the raw value
is shown to its owner once. Tokens are 256-bit random values, so a fast
unsalted hash is the right tool: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import secrets


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_secret(prefix: str = "", nbytes: int = 32) -> str:
    """A fresh URL-safe random secret, optionally with a readable prefix."""
    return f"{prefix}{secrets.token_urlsafe(nbytes)}"
