"""A DynamoDB transport stub at the botocore level: no moto, no HTTP, no table engine.

``StubTable.attach(client)`` registers a ``before-send`` handler on any
botocore DynamoDB client (ours, or the one PynamoDB builds): the client does
all of its own work (parameter validation, serialization, event hooks,
response parsing, retries), and only the bytes on the wire are replaced by an
answer built here. So what a reader costs on the client side is measured in
full, and the server side costs exactly the modelled latency:

- ``latency_s`` per request plus ``per_key_s`` per key of the request, slept
  in the sending thread (the GIL is released, as it is on a socket);
- BatchGetItem holds back each key with probability ``fraction`` and answers
  it in ``UnprocessedKeys``. Whether the k-th request of a key is held is a
  hash of (seed, key, k), so the same keys meet the same faults on every run,
  whatever order concurrent requests arrive in;
- GetItem answers the item (never held: GetItem has no partial answer).

Only BatchGetItem and GetItem are answered; anything else is refused loudly.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter

from botocore.awsrequest import AWSResponse


class _Raw:
    """The minimal raw-body object botocore reads a stubbed response from."""

    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_kwargs):
        yield self._body


class StubTable:
    def __init__(self, table: str, items: list[dict], *, key_names=("pk", "sk"), fraction: float = 0.0,
                 seed: int = 11, latency_s: float = 0.0, per_key_s: float = 0.0):
        self.table, self.key_names = table, tuple(key_names)
        self.items = {self._key(item): item for item in items}
        self.fraction, self.seed = fraction, seed
        self.latency_s, self.per_key_s = latency_s, per_key_s
        self.lock = threading.Lock()
        self.calls: Counter = Counter()
        self.attempts: Counter = Counter()  # key -> requests that carried it
        self.batch_sizes: list[int] = []
        self.keys_held = 0

    def _key(self, item: dict) -> tuple:
        return tuple(json.dumps(item[name], sort_keys=True) for name in self.key_names)

    def _held(self, key: tuple, attempt: int) -> bool:
        if self.fraction <= 0:
            return False
        digest = hashlib.blake2b(repr((self.seed, key, attempt)).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2 ** 64 < self.fraction

    def _batch_get(self, body: dict) -> dict:
        [(table, request)] = body["RequestItems"].items()
        if table != self.table:
            raise ValueError(f"stub serves {self.table}, not {table}")
        keys = request["Keys"]
        if not 1 <= len(keys) <= 100:
            return {"__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
                    "message": "Too many items requested for the BatchGetItem call"}
        held, served = [], []
        with self.lock:
            self.batch_sizes.append(len(keys))
            for key in keys:
                kid = self._key(key)
                self.attempts[kid] += 1
                if self._held(kid, self.attempts[kid]):
                    held.append(key)
                elif kid in self.items:
                    served.append(self.items[kid])
            self.keys_held += len(held)
        time.sleep(self.latency_s + self.per_key_s * len(keys))
        answer: dict[str, dict] = {"Responses": {table: served}, "UnprocessedKeys": {}}
        if held:
            answer["UnprocessedKeys"] = {table: {"Keys": held}}
        return answer

    def _get(self, body: dict) -> dict:
        time.sleep(self.latency_s + self.per_key_s)
        item = self.items.get(self._key(body["Key"]))
        return {"Item": item} if item else {}

    def send(self, request, **_kwargs):
        """``before-send.dynamodb``: answer the request instead of the network."""
        target = request.headers.get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else target).rsplit(".", 1)[-1]
        with self.lock:
            self.calls[operation] += 1
        body = json.loads(request.body or b"{}")
        if operation == "BatchGetItem":
            answer = self._batch_get(body)
        elif operation == "GetItem":
            answer = self._get(body)
        else:
            raise NotImplementedError(f"the transport stub does not answer {operation}")
        status = 400 if "__type" in answer else 200
        payload = json.dumps(answer).encode()
        return AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.0",
                                                 "Content-Length": str(len(payload))}, _Raw(payload))

    def attach(self, client) -> StubTable:
        client.meta.events.register("before-send.dynamodb", self.send, unique_id=f"stub-table-{id(self)}")
        return self

    def detach(self, client) -> None:
        client.meta.events.unregister("before-send.dynamodb", unique_id=f"stub-table-{id(self)}")

    @property
    def requests(self) -> int:
        return sum(self.calls.values())
