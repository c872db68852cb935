"""BatchGetItem with several requests in flight that returns every key or raises.

Keys go out in requests of at most 100, up to ``concurrency`` requests at a
time (a small thread pool; the boto3 client is thread-safe for calls). Keys
DynamoDB holds back (``UnprocessedKeys``, or the whole request when a
throttling error outlives botocore's own retries) go back into the queue and
ride in later requests, so requests stay full.

Backoff applies to held keys only, never to fresh ones: a partial answer gives
its held keys a ready time ``now + uniform(0, min(cap, base * 2**streak))``
(full jitter), where ``streak`` counts consecutive answers that held back more
than half of their keys; an answer that mostly succeeded resets it. Fresh keys
and held keys whose ready time has passed go out at once; a request made of
held keys that are not ready yet waits for the latest of them in its worker
thread before it is sent. A lightly throttled table is therefore never
slowed down, while a hard-throttled one backs off exponentially.

Requests are sent full whenever possible: a request of fewer than 100 keys
goes out only when nothing else is in flight that could hand keys back, so
the request count stays close to ``ceil(n / 100) / (1 - p)`` for a fraction
``p`` of keys held back per answer.

One deadline (``deadline_s``, from the caller's remaining Lambda time) bounds
the whole read: past it no request is sent, nothing in flight is waited for,
and ``BatchIncomplete`` names every key that did not come back.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from itertools import count

from botocore.exceptions import ClientError

from lambda_src.common import faults

MAX_BATCH = 100
DEFAULT_CONCURRENCY = 8
_THROTTLING = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
               "InternalServerError", "ServiceUnavailable"}


class BatchIncomplete(faults.TransientFault):
    """Keys still held back at the deadline: the API answers 503 ``partial_read``."""

    def __init__(self, missing: list[dict], requests: int):
        super().__init__("partial_read", "the table is busy; retry the request",
                         detail=f"{len(missing)} key(s) still unprocessed after {requests} request(s)")
        self.missing = missing
        self.requests = requests


def _key_id(key: dict) -> tuple:
    return tuple(sorted((name, tuple(value.items())) for name, value in key.items()))


def _send(client, table: str, chunk: list[dict], delay: float, sleep, sent) -> tuple[list[dict], list[dict]]:
    """One BatchGetItem after ``delay`` seconds: (items found, keys held back)."""
    if delay > 0:
        sleep(delay)
    sent.add()
    try:
        response = client.batch_get_item(RequestItems={table: {"Keys": chunk}})
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in _THROTTLING:
            raise
        return [], chunk
    found = response.get("Responses", {}).get(table, [])
    return found, response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])


class _Counter:
    """Requests actually sent, counted from the sending threads."""

    def __init__(self):
        self.value = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.value += 1


class _Queue:
    """Fresh keys (first come, first served) and held keys ordered by ready time."""

    def __init__(self, keys: list[dict]):
        self.fresh: deque = deque(keys)
        self.held: list[tuple[float, int, dict]] = []  # heap of (ready_at, tie, key)
        self._tie = count()

    def __len__(self) -> int:
        return len(self.fresh) + len(self.held)

    def keys(self) -> list[dict]:
        return list(self.fresh) + [k for _, _, k in self.held]

    def hold(self, keys: list[dict], ready_at: float) -> None:
        for key in keys:
            heapq.heappush(self.held, (ready_at, next(self._tie), key))

    def ready(self, now: float) -> int:
        return sum(1 for ready_at, _, _ in self.held if ready_at <= now)

    def take(self, now: float, in_flight: int) -> tuple[list[dict], float] | None:
        """The next request's keys and how long it waits, or None to wait for an answer first."""
        ready = self.ready(now)
        if ready + len(self.fresh) >= MAX_BATCH:
            n_held = min(ready, MAX_BATCH)
            chunk = [heapq.heappop(self.held)[2] for _ in range(n_held)]
            chunk += [self.fresh.popleft() for _ in range(MAX_BATCH - n_held)]
            return chunk, 0.0
        if not self.fresh and len(self.held) >= MAX_BATCH:
            return self._held_chunk(now)  # a full request of held keys, sent when the last is ready
        if in_flight:
            return None  # an answer may hand keys back that fill this request
        if self.fresh:
            # Fresh keys never wait: send them with the held keys that are ready.
            chunk = [heapq.heappop(self.held)[2] for _ in range(ready)] + list(self.fresh)
            self.fresh.clear()
            return chunk, 0.0
        return self._held_chunk(now)

    def _held_chunk(self, now: float) -> tuple[list[dict], float]:
        entries = [heapq.heappop(self.held) for _ in range(min(MAX_BATCH, len(self.held)))]
        return [key for _, _, key in entries], max(0.0, entries[-1][0] - now)


def batch_get(
    client,
    table: str,
    keys: list[dict],
    *,
    deadline_s: float = 20.0,
    concurrency: int = DEFAULT_CONCURRENCY,
    base_s: float = 0.02,
    cap_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    stats: dict | None = None,
) -> list[dict]:
    """Items (attribute-value maps) for the distinct ``keys``; order is not kept.

    ``concurrency``: requests in flight at most. Raises ``BatchIncomplete``
    (``missing``: the keys that did not come back) past ``deadline_s``.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    rng = rng or random.Random()
    queue = _Queue(list({_key_id(k): k for k in keys}.values()))
    found: list[dict] = []
    requests = streak = 0  # requests dispatched (a dispatched one may still be backing off)
    sent = _Counter()
    deadline = clock() + deadline_s
    in_flight: dict = {}  # future -> its keys
    pool = None

    def settle(chunk: list[dict], items: list[dict], left: list[dict]) -> None:
        nonlocal streak
        found.extend(items)
        if left:
            streak = streak + 1 if len(left) * 2 > len(chunk) else 0
            queue.hold(left, clock() + rng.uniform(0, min(cap_s, base_s * 2 ** streak)))

    def incomplete() -> BatchIncomplete:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        missing = queue.keys() + [k for chunk in in_flight.values() for k in chunk]
        return BatchIncomplete(missing, sent.value)

    try:
        while queue or in_flight:
            now = clock()
            if requests and now >= deadline:
                raise incomplete()
            while queue and len(in_flight) < concurrency:
                nxt = queue.take(now, len(in_flight))
                if nxt is None:
                    break
                chunk, delay = nxt
                if requests and now + delay >= deadline:
                    queue.hold(chunk, now + delay)
                    if not in_flight:
                        raise incomplete()  # the backoff alone outlasts the deadline
                    break
                requests += 1
                if not in_flight and not queue:
                    # The only request that can be in flight: no thread needed.
                    settle(chunk, *_send(client, table, chunk, delay, sleep, sent))
                    break
                if pool is None:
                    from concurrent.futures import ThreadPoolExecutor

                    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="batch-get")
                in_flight[pool.submit(_send, client, table, chunk, delay, sleep, sent)] = chunk
            if not in_flight:
                continue
            from concurrent.futures import FIRST_COMPLETED, wait

            done, _ = wait(list(in_flight), timeout=max(0.0, deadline - clock()), return_when=FIRST_COMPLETED)
            for future in done:
                chunk = in_flight.pop(future)
                settle(chunk, *future.result())
    except BaseException:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    if pool is not None:
        pool.shutdown(wait=False)
    if stats is not None:
        stats["requests"] = sent.value
    return found
