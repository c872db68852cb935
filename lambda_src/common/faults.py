"""One policy for transient faults and deadlines, shared by the API handlers.

- ``classify(exc)``: a botocore ``ClientError`` that a retry can fix (throttling,
  a transaction conflict, an internal error of the service) is ``"throttled"``
  or ``"unavailable"``; anything else is ``None`` (a real defect: 500).
- ``transaction_reasons(exc)``: the cancellation reason codes of a
  ``TransactionCanceledException``, so the caller can tell "a condition failed"
  (a domain answer) from "cancelled for throttling or a conflict" (retryable).
- ``Deadline``: the time a handler may spend, from the Lambda context's
  remaining time minus a safety margin. ``guard(client)`` registers a botocore
  hook on the client that refuses to start a request (the first attempt or a
  retry) once the current invocation's deadline has passed, raising
  ``DeadlineExceeded``; the margin covers one attempt's connect and read
  timeouts, so an attempt started in time ends before the function times out.

The API layer answers all of these with 503 and ``Retry-After``
(``lambda_src.common.http``).

Pure Python plus botocore, so every product bundle can import it.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

THROTTLING = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "TooManyRequestsException", "Throttling", "LimitExceededException",
})
UNAVAILABLE = frozenset({
    "InternalServerError", "ServiceUnavailable", "TransactionConflictException",
    "TransactionInProgressException", "InternalFailure", "RequestTimeout", "RequestTimeoutException",
})
# Cancellation reason codes of a TransactWriteItems that a retry can fix.
RETRYABLE_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "TransactionConflict",
                               "RequestLimitExceeded", "InternalServerError"})
RETRY_AFTER_S = 1
MARGIN_FLOOR_S = 0.5


class TransientFault(Exception):
    """A retryable fault the domain code names itself.

    ``code`` and ``message`` are what the API answers; ``detail`` is logged,
    never sent.
    """

    def __init__(self, code: str = "unavailable", message: str = "the service is busy; retry the request",
                 detail: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail


class DeadlineExceeded(TransientFault):
    def __init__(self, message: str = "the request could not be completed in time; retry it"):
        super().__init__("deadline_exceeded", message)


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None


def classify(exc: BaseException) -> str | None:
    """``"throttled"``, ``"unavailable"`` or ``None`` (not retryable)."""
    if isinstance(exc, TransientFault):
        return exc.code
    code = error_code(exc)
    if code in THROTTLING:
        return "throttled"
    if code in UNAVAILABLE:
        return "unavailable"
    if code == "TransactionCanceledException":
        reasons = transaction_reasons(exc)
        if not reasons or any(r in RETRYABLE_REASONS for r in reasons):
            return "unavailable"
    return None


def transaction_reasons(exc: ClientError) -> list[str]:
    """The cancellation reason codes, in item order (``"None"`` for an item that was fine)."""
    reasons = exc.response.get("CancellationReasons")
    if reasons is None:
        # Some clients only carry the reasons in the message: "... [None, ConditionalCheckFailed]".
        message = exc.response.get("Error", {}).get("Message", "")
        if "[" in message and message.rstrip().endswith("]"):
            return [part.strip() for part in message[message.rindex("[") + 1:-1].split(",")]
        return []
    return [str((r or {}).get("Code") or "None") for r in reasons]


# -- deadlines ------------------------------------------------------------------------
class Deadline:
    def __init__(self, at: float, clock: Callable[[], float] = time.monotonic):
        self.at = at
        self.clock = clock

    def remaining_s(self) -> float:
        return self.at - self.clock()

    def check(self) -> None:
        if self.remaining_s() <= 0:
            raise DeadlineExceeded()


_current: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("deadline", default=None)


def margin_s(client=None) -> float:
    """Time kept back for one request attempt (the client's connect plus read timeout)."""
    config = getattr(getattr(client, "meta", None), "config", None)
    connect = getattr(config, "connect_timeout", None) or 0
    read = getattr(config, "read_timeout", None) or 0
    return max(MARGIN_FLOOR_S, float(connect) + float(read) + 0.5)


def start(context: Any, client=None, *, clock: Callable[[], float] = time.monotonic) -> Deadline | None:
    """Set the deadline of this invocation from ``context``; None without a context."""
    get_remaining = getattr(context, "get_remaining_time_in_millis", None)
    if get_remaining is None:
        _current.set(None)
        return None
    deadline = Deadline(clock() + get_remaining() / 1000 - margin_s(client), clock)
    _current.set(deadline)
    return deadline


def current() -> Deadline | None:
    return _current.get()


def remaining_s(default: float) -> float:
    """Seconds left before the current deadline (``default`` when none is set), never below 0."""
    deadline = _current.get()
    return default if deadline is None else max(0.0, deadline.remaining_s())


def _before_attempt(**_kwargs) -> None:
    deadline = _current.get()
    if deadline is not None:
        deadline.check()


def guard(client):
    """Make ``client`` refuse requests past the current deadline (idempotent); returns it."""
    client.meta.events.register("request-created", _before_attempt, unique_id="common-faults-deadline")
    return client
