"""The HTTP edge of every REST API: JSON responses and the one error mapping.

Every answer is JSON; every error is ``{"error": code, "message": text}``.
A route returns ``json_response(...)``; anything a route raises is turned
into an answer by the handlers ``install_error_handlers`` registers on the
Powertools resolver, and nowhere else:

- a product's domain errors (``common.errors.DomainError`` subclasses) get
  the status the product's table names for their class (the nearest base
  class counts), with the error's own code, message and headers;
- undecodable input (``common.decoding.DecodeError``) is 400, or 413 for a
  body over the limit;
- a transient fault (``common.faults.TransientFault``, a retryable botocore
  ``ClientError``, an unreachable endpoint) is 503 with ``Retry-After``, in
  the product's own words (``FaultAnswers``);
- an unknown route is 404 ``not_found``; anything else is logged and
  answered 500 ``internal_error`` with no traceback in the body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import Response
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from lambda_src.common import decoding, faults
from lambda_src.common.errors import DomainError

JSON = "application/json"
# A 5xx from any AWS service is retryable, whatever its code; these codes are too.
_TRANSIENT_CODES = frozenset({"InternalServiceError", "InternalServiceErrorException", "InternalFailure",
                              "ServiceUnavailable"})
# Retryable because another writer held the item, not because the service is short of capacity.
_CONFLICT_CODES = frozenset({"TransactionConflictException", "TransactionInProgressException",
                             "TransactionCanceledException"})


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    """``body`` as JSON (values JSON cannot hold, such as ``Decimal``, as text)."""
    return Response(status_code=status, content_type=JSON, body=json.dumps(body, default=str),
                    headers=dict(headers or {}))


def error_response(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return json_response(status, {"error": code, "message": message}, headers)


def json_body(app) -> dict:
    """The request body as a JSON object (``{}`` when empty); ``DecodeError`` otherwise.

    Decoding goes through :mod:`lambda_src.common.decoding`, which caps size
    and nesting and refuses lone surrogates.
    """
    raw = app.current_event.body
    if raw in (None, ""):
        return {}
    if app.current_event.is_base64_encoded:
        return decoding.json_object(decoding.base64_body(raw))
    return decoding.json_object(raw)


Answer = tuple[str, str]  # (error code, message)


@dataclass(frozen=True)
class FaultAnswers:
    """What a product answers (503 with ``Retry-After``) for each kind of retryable AWS fault.

    ``conflict`` (a concurrent writer held the item) and ``unreachable`` (no
    connection to the endpoint) answer as ``unavailable`` unless given.
    """

    throttled: Answer = ("throttled", "the service is busy; retry the request")
    unavailable: Answer = ("unavailable", "the service is busy; retry the request")
    conflict: Answer | None = None
    unreachable: Answer | None = None

    def answer(self, kind: str) -> Answer:
        if kind == "throttled":
            return self.throttled
        if kind == "conflict":
            return self.conflict or self.unavailable
        if kind == "unreachable":
            return self.unreachable or self.unavailable
        return self.unavailable


def fault_kind(exc: ClientError) -> str | None:
    """``"throttled"``, ``"conflict"``, ``"unavailable"`` or None (a defect: 500).

    The shared policy (``faults.classify``) decides what a retry can fix; an
    AWS answer with a 5xx status, or one of the service-internal codes, is
    retryable too.
    """
    code = faults.error_code(exc) or ""
    kind = faults.classify(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if kind is None and (code in _TRANSIENT_CODES or status >= 500):
        kind = "unavailable"
    if kind == "unavailable" and code in _CONFLICT_CODES:
        return "conflict"
    return kind


def status_of(exc: DomainError, statuses: Mapping[type[DomainError], int]) -> int | None:
    """The status declared for ``exc``'s class or its nearest declared base class."""
    for cls in type(exc).__mro__:
        if cls in statuses:
            return statuses[cls]
    return None


def _retry_after() -> dict[str, str]:
    return {"Retry-After": str(faults.RETRY_AFTER_S)}


def install_error_handlers(app, logger, *, domain_errors: Mapping[type[DomainError], int],
                           fault_answers: FaultAnswers | None = None) -> None:
    """Register the one error mapping on ``app`` (a Powertools resolver).

    ``domain_errors`` is the product's table from domain-error class to HTTP
    status; ``fault_answers`` names its answers to retryable faults.
    """
    answers = fault_answers or FaultAnswers()

    def _internal_error() -> Response:
        return error_response(500, "internal_error", "the request could not be completed")

    @app.exception_handler(DomainError)
    def _domain_error(exc: DomainError) -> Response:
        status = status_of(exc, domain_errors)
        if status is None:
            logger.exception("domain error without a declared status", extra={"code": exc.code})
            return _internal_error()
        return error_response(status, exc.code, exc.message, exc.headers)

    @app.exception_handler(decoding.DecodeError)
    def _decode_error(exc: decoding.DecodeError) -> Response:
        return error_response(413 if exc.code == "body_too_large" else 400, exc.code, exc.message)

    @app.exception_handler(faults.TransientFault)
    def _transient(exc: faults.TransientFault) -> Response:
        logger.warning("transient fault", extra={"code": exc.code, "detail": exc.detail})
        return error_response(503, exc.code, exc.message, _retry_after())

    @app.exception_handler(ClientError)
    def _client_error(exc: ClientError) -> Response:
        kind = fault_kind(exc)
        if kind is None:
            logger.exception("unhandled AWS error", extra={"aws_code": faults.error_code(exc)})
            return _internal_error()
        logger.warning("retryable AWS fault", extra={"aws_code": faults.error_code(exc), "kind": kind})
        code, message = answers.answer(kind)
        return error_response(503, code, message, _retry_after())

    @app.exception_handler(BotoConnectionError)
    def _unreachable(exc: Exception) -> Response:
        logger.warning("AWS endpoint unreachable", extra={"error": type(exc).__name__})
        code, message = answers.answer("unreachable")
        return error_response(503, code, message, _retry_after())

    @app.exception_handler(HTTPClientError)
    def _http_client_error(exc: Exception) -> Response:
        return _unreachable(exc)

    @app.not_found
    def _not_found(exc: Exception) -> Response:
        return error_response(404, "not_found", "no such route")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return _internal_error()
