"""Domain errors of KV storage. The store and the input checks raise them; only the API layer maps them to HTTP.

Each carries a stable ``code`` (the ``error`` field clients see), a
``message`` and optional response ``headers`` (``Retry-After``).
"""

from __future__ import annotations

from lambda_src.common.errors import DomainError

__all__ = ["Busy", "Conflict", "DomainError", "InvalidInput", "NotFound", "RateLimited", "RequestCapExceeded",
           "StorageCapExceeded", "Unauthenticated", "ValueTooLarge"]


class InvalidInput(DomainError):
    """The request names something that cannot exist (a value DynamoDB cannot hold, a foreign cursor)."""


class ValueTooLarge(DomainError):
    """A value over what one item may hold."""


class Unauthenticated(DomainError):
    """No API key, or one that matches no user."""


class NotFound(DomainError):
    """Missing, expired, or another user's: the three look the same."""


class Conflict(DomainError):
    """A version, ownership or uniqueness condition does not hold."""


class RequestCapExceeded(DomainError):
    """The plan's monthly request cap is reached."""


class StorageCapExceeded(DomainError):
    """The write would exceed the plan's stored bytes."""


class RateLimited(DomainError):
    """Too many attempts from one source."""


class Busy(DomainError):
    """A retryable condition (conflicting transaction, throttling): nothing was written."""
