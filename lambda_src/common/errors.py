"""The base of every product's domain errors.

Domain code (the KV store, DepHealth's signup and quotas, ...) raises a
subclass of ``DomainError`` and knows nothing of HTTP; each API module
declares which status each class answers, and ``common.http`` does the rest.
Each error carries a stable ``code`` (the ``error`` field clients see), a
``message`` and optional response ``headers`` (``Retry-After``).

Standard library only, so every product bundle and every tool can import it.
"""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}
