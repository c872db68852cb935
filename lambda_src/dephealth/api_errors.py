"""The HTTP status of each DepHealth domain error: the one table both REST APIs install.

Domain code raises ``errors``; ``lambda_src.common.http`` answers with the
status named here, the error's code, message and headers. Retryable faults
answer 503 with ``Retry-After`` in the shared wording (``throttled``,
``unavailable``, ``deadline_exceeded``, ``partial_read``).
"""

from __future__ import annotations

from lambda_src.common.errors import DomainError

from . import errors

STATUS: dict[type[DomainError], int] = {
    errors.InvalidInput: 400,
    errors.TokenRejected: 400,
    errors.Unauthenticated: 401,
    errors.NotFound: 404,
    errors.OverLimit: 429,
}
