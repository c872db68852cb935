"""tools/bench/transport.py: a botocore-level DynamoDB stub with latency and seeded held keys."""

from __future__ import annotations

import random
import time

import pytest
from botocore.exceptions import ClientError

from tools.bench.dephealth import _stub_client
from tools.bench.transport import StubTable


def _table(n: int, **kwargs) -> tuple[StubTable, list[dict]]:
    keys = [{"pk": {"S": f"npm#t-{i:03d}"}, "sk": {"S": "LATEST"}} for i in range(n)]
    return StubTable("t", [{**k, "v": {"N": str(i)}} for i, k in enumerate(keys)], **kwargs), keys


def _ask(client, keys) -> tuple[list, list]:
    reply = client.batch_get_item(RequestItems={"t": {"Keys": keys}})
    return reply["Responses"]["t"], reply.get("UnprocessedKeys", {}).get("t", {}).get("Keys", [])


def test_held_keys_come_back_unprocessed_and_the_rest_are_served():
    stub, keys = _table(100, fraction=0.3, seed=3)
    client = _stub_client()
    stub.attach(client)
    served, held = _ask(client, keys)
    assert len(served) + len(held) == 100 and 10 < len(held) < 50
    assert {i["pk"]["S"] for i in served}.isdisjoint({k["pk"]["S"] for k in held})
    assert all(i["v"]["N"] for i in served) and stub.calls["BatchGetItem"] == 1


def test_the_same_key_meets_the_same_fault_whatever_the_request_order():
    held_sets = []
    for order_seed in (1, 2):
        stub, keys = _table(100, fraction=0.3, seed=5)
        random.Random(order_seed).shuffle(keys)
        client = _stub_client()
        stub.attach(client)
        _, held = _ask(client, keys[:50])
        _, held2 = _ask(client, keys[50:])
        held_sets.append({k["pk"]["S"] for k in held + held2})
    assert held_sets[0] == held_sets[1]


def test_a_retried_key_draws_again():
    stub, keys = _table(100, fraction=0.5, seed=1)
    client = _stub_client()
    stub.attach(client)
    _, held = _ask(client, keys)
    _, held_again = _ask(client, held)
    assert len(held_again) < len(held)


def test_latency_per_request_and_per_key_and_detach():
    stub, keys = _table(100, latency_s=0.02, per_key_s=0.0004)
    client = _stub_client()
    stub.attach(client)
    started = time.perf_counter()
    _ask(client, keys)
    assert time.perf_counter() - started >= 0.02 + 0.04
    assert client.get_item(TableName="t", Key=keys[0])["Item"]["v"] == {"N": "0"}
    stub.detach(client)
    assert stub.requests == 2


def test_more_than_100_keys_is_refused_as_dynamodb_does():
    stub, keys = _table(101)
    client = _stub_client()
    stub.attach(client)
    with pytest.raises(ClientError, match="ValidationException"):
        _ask(client, keys)
