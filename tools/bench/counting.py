"""Count the DynamoDB requests a piece of code makes, through botocore events.

``with count_requests(client) as counter: ...`` registers on the client's
event system, so it sees exactly the API calls the code under test sends
(retries of the same call included), whatever wraps them.
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class RequestCounter:
    by_operation: Counter = field(default_factory=Counter)
    items_read: int = 0  # items DynamoDB evaluated (ScannedCount / Responses)
    items_returned: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_operation.values())

    def _before(self, model, **_kwargs) -> None:
        self.by_operation[model.name] += 1

    def _after(self, http_response, parsed, model, **_kwargs) -> None:
        if not isinstance(parsed, dict):
            return
        if "Items" in parsed:
            self.items_returned += len(parsed["Items"])
            self.items_read += int(parsed.get("ScannedCount", len(parsed["Items"])))
        elif "Item" in parsed:
            self.items_returned += 1
            self.items_read += 1
        elif "Responses" in parsed:
            n = sum(len(v) for v in parsed["Responses"].values())
            self.items_returned += n
            self.items_read += n


@contextmanager
def count_requests(client):
    """Count every request ``client`` (a boto3 low-level client) sends in the block."""
    counter = RequestCounter()
    events = client.meta.events
    events.register("before-call.dynamodb", counter._before, unique_id=f"count-before-{id(counter)}")
    events.register("after-call.dynamodb", counter._after, unique_id=f"count-after-{id(counter)}")
    try:
        yield counter
    finally:
        events.unregister("before-call.dynamodb", unique_id=f"count-before-{id(counter)}")
        events.unregister("after-call.dynamodb", unique_id=f"count-after-{id(counter)}")
