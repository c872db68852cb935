"""Fault injection for the DepHealth handler tests.

- ``FaultyClient`` / ``inject_faults``: BatchGetItem faults and latency (they live
  with the benchmarks).
- ``FailingClient``: wraps a real client; chosen operations raise the
  ``ClientError`` botocore raises once its own retries are spent, a chosen
  number of times, then pass through. Every other call reaches the wrapped
  (moto) client, and ``meta`` is the real client's, so botocore hooks still see
  the calls that do go out.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from tools.bench.faults import FaultyClient, inject_faults

__all__ = ["FailingClient", "FaultyClient", "client_error", "inject_faults"]

OPERATIONS = {
    "GetItem": "get_item", "Query": "query", "UpdateItem": "update_item", "PutItem": "put_item",
    "TransactWriteItems": "transact_write_items", "BatchGetItem": "batch_get_item", "Scan": "scan",
    "SendMessage": "send_message", "SendEmail": "send_email",
}


def client_error(operation: str, code: str, reasons: list[str] | None = None) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": f"injected {code}"},
                                "ResponseMetadata": {"HTTPStatusCode": 400}}
    if reasons is not None:
        response["CancellationReasons"] = [{"Code": r} for r in reasons]
        response["Error"]["Message"] = ("Transaction cancelled, please refer cancellation reasons for specific "
                                        f"reasons [{', '.join(reasons)}]")
    return ClientError(response, operation)


class FailingClient:
    def __init__(self, client, operation: str, code: str, *, times: int = 10**9, reasons: list[str] | None = None):
        self._client = client
        self.operation = operation
        self.method = OPERATIONS[operation]
        self.code = code
        self.reasons = reasons
        self.left = times
        self.failed = 0

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if name != self.method:
            return attr

        def failing(*args, **kwargs):
            if self.left > 0:
                self.left -= 1
                self.failed += 1
                raise client_error(self.operation, self.code, self.reasons)
            return attr(*args, **kwargs)

        return failing
