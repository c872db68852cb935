"""Answer before the function times out: a per-invocation deadline for AWS calls.

``start(context)`` sets the deadline from ``context.get_remaining_time_in_millis()``
minus a margin kept for writing the answer. ``install(client)`` hooks the
client's events so that

- no request attempt is sent once the deadline has passed, and
- no retry is slept on when its backoff would outlast the deadline,

raising ``DeadlineExceeded`` instead (the API layer answers 503 with
``Retry-After``). The deadline lives in a ``ContextVar``, so concurrent
invocations in one process (tests with threads) keep their own.
"""

from __future__ import annotations

import contextvars
import time

from lambda_src.common import faults

MARGIN_SECONDS = 1.0  # kept for building and returning the answer
_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_THROTTLE_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException",
                             "RequestLimitExceeded", "TransactionInProgressException"})

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("kv_deadline", default=None)


class DeadlineExceeded(faults.DeadlineExceeded):
    """The invocation is out of time; the request may succeed if retried (503 ``deadline_exceeded``)."""

    def __init__(self, detail: str):
        super().__init__("the request could not finish in time; retry shortly")
        self.detail = detail


def start(context) -> None:
    """Set this invocation's deadline (none without a Lambda context)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        _deadline.set(None)
        return
    _deadline.set(time.monotonic() + remaining() / 1000.0 - MARGIN_SECONDS)


def clear() -> None:
    _deadline.set(None)


def remaining() -> float | None:
    """Seconds left before the deadline, or None when there is no deadline."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def check() -> None:
    left = remaining()
    if left is not None and left <= 0:
        raise DeadlineExceeded("the request ran out of time")


def _before_send(**_kwargs) -> None:
    check()


def _needs_retry(response=None, caught_exception=None, attempts=1, **_kwargs) -> None:
    left = remaining()
    if left is None:
        return
    retryable = caught_exception is not None
    if response is not None and not retryable:
        http, parsed = response
        code = (parsed or {}).get("Error", {}).get("Code", "")
        retryable = getattr(http, "status_code", 200) in _RETRYABLE_STATUS or code in _THROTTLE_CODES
    # Standard retry mode sleeps up to min(2 ** attempts, 20) seconds before the next attempt.
    if retryable and left < min(2 ** attempts, 20):
        raise DeadlineExceeded("the service is busy and the request ran out of time")


def install(client) -> None:
    """Hook ``client`` once; later calls with the same client are no-ops."""
    if getattr(client, "_kv_deadline_hooks", False):
        return
    events = client.meta.events
    events.register("before-send", _before_send)
    events.register_first("needs-retry", _needs_retry)
    client._kv_deadline_hooks = True
