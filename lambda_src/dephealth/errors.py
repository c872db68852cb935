"""Domain errors of DepHealth. Domain code raises them; only the API modules map them to HTTP.

Each carries a stable ``code`` (the ``error`` field clients see), a
``message`` and optional response ``headers`` (``Retry-After``); see
``lambda_src.common.errors``.
"""

from __future__ import annotations

from lambda_src.common.errors import DomainError

__all__ = ["DomainError", "InvalidInput", "NotFound", "OverLimit", "TokenRejected", "Unauthenticated"]


class InvalidInput(DomainError):
    """A field, path segment or cursor the service cannot use."""


class TokenRejected(DomainError):
    """A verification or login token that is unknown, used up or expired."""


class Unauthenticated(DomainError):
    """An API key that is malformed or matches no key record."""


class NotFound(DomainError):
    """No record of the package asked for."""


class OverLimit(DomainError):
    """A monthly quota, or an hourly demo or mail allowance, is used up."""
