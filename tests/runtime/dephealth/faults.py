"""A DynamoDB client wrapper that injects what moto never produces.

``batch_get_item`` holds back a random fraction of the requested keys as
``UnprocessedKeys`` and can raise throttling errors on chosen calls; every
other call goes to the real (moto) client.
"""

from __future__ import annotations

import random

from botocore.exceptions import ClientError


class FaultyClient:
    def __init__(self, client, *, unprocessed_fraction: float = 0.0, throttle_calls=(), seed: int = 7,
                 always_unprocessed: bool = False):
        self._client = client
        self.fraction = unprocessed_fraction
        self.throttle_calls = set(throttle_calls)
        self.always_unprocessed = always_unprocessed
        self.rng = random.Random(seed)
        self.calls = 0
        self.batch_sizes: list[int] = []

    def __getattr__(self, name):
        return getattr(self._client, name)

    def batch_get_item(self, RequestItems, **kwargs):
        self.calls += 1
        [(table, request)] = RequestItems.items()
        keys = request["Keys"]
        self.batch_sizes.append(len(keys))
        if len(keys) > 100:
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "Too many items"}},
                              "BatchGetItem")
        if self.calls in self.throttle_calls:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                         "Message": "throttled"}}, "BatchGetItem")
        held = keys if self.always_unprocessed else [k for k in keys if self.rng.random() < self.fraction]
        held_ids = {id(k) for k in held}
        served = [k for k in keys if id(k) not in held_ids]
        response = {"Responses": {table: []}, "UnprocessedKeys": {}}
        if served:
            real = self._client.batch_get_item(RequestItems={table: {**request, "Keys": served}}, **kwargs)
            response["Responses"][table] = real["Responses"].get(table, [])
        if held:
            response["UnprocessedKeys"] = {table: {"Keys": held}}
        return response
