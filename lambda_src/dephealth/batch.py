"""BatchGetItem that returns every key or raises: nothing is silently dropped.

Keys go out in requests of at most 100. ``UnprocessedKeys`` (and throttling
errors that outlive botocore's own retries) are put back at the front of the
queue and merged into the next request, so requests stay full. Between
requests that left work behind, the caller sleeps with full jitter:
``uniform(0, min(cap, base * 2**streak))``, where ``streak`` counts
consecutive requests that got less than half of their keys through; a
request that mostly succeeded resets it, so a lightly throttled table is not
punished with long waits while a hard-throttled one backs off exponentially.
Past ``deadline_s`` the call raises ``BatchIncomplete`` naming what is left.
"""

from __future__ import annotations

import random
import time
from collections import deque
from typing import Callable

from botocore.exceptions import ClientError

MAX_BATCH = 100
_THROTTLING = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
               "InternalServerError", "ServiceUnavailable"}


class BatchIncomplete(Exception):
    def __init__(self, missing: list[dict], requests: int):
        super().__init__(f"{len(missing)} key(s) still unprocessed after {requests} request(s)")
        self.missing = missing
        self.requests = requests


def _key_id(key: dict) -> tuple:
    return tuple(sorted((name, tuple(value.items())) for name, value in key.items()))


def batch_get(
    client,
    table: str,
    keys: list[dict],
    *,
    deadline_s: float = 20.0,
    base_s: float = 0.02,
    cap_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    stats: dict | None = None,
) -> list[dict]:
    """Items (attribute-value maps) for the distinct ``keys``; order is not kept."""
    rng = rng or random.Random()
    pending: deque = deque({_key_id(k): k for k in keys}.values())
    found: list[dict] = []
    requests = streak = 0
    deadline = clock() + deadline_s
    while pending:
        if requests and clock() >= deadline:
            raise BatchIncomplete(list(pending), requests)
        chunk = [pending.popleft() for _ in range(min(MAX_BATCH, len(pending)))]
        requests += 1
        try:
            response = client.batch_get_item(RequestItems={table: {"Keys": chunk}})
            found.extend(response.get("Responses", {}).get(table, []))
            left = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in _THROTTLING:
                raise
            left = chunk
        if left:
            pending.extendleft(reversed(left))
            streak = streak + 1 if len(left) * 2 > len(chunk) else 0
            sleep(rng.uniform(0, min(cap_s, base_s * 2 ** streak)))
    if stats is not None:
        stats["requests"] = requests
    return found
