"""tools/bench/faults.py: injected latency and UnprocessedKeys through botocore hooks."""

from __future__ import annotations

import time

import pytest

from lambda_src.dephealth.packages import package_key
from lambda_src.dephealth.schema import PACKAGES
from tools.bench.faults import inject_faults, moto_tables

TABLE = PACKAGES.table_name("dev")


def _keys(ddb, n: int) -> list[dict]:
    keys = [package_key("npm", f"f-{i:03d}") for i in range(n)]
    for start in range(0, n, 25):
        ddb.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": k}} for k in keys[start:start + 25]]})
    return keys


def _held(ddb, keys, fraction, seed) -> tuple[int, int]:
    with inject_faults(ddb, unprocessed_fraction=fraction, seed=seed):
        reply = ddb.batch_get_item(RequestItems={TABLE: {"Keys": keys}})
    return len(reply["Responses"][TABLE]), len(reply.get("UnprocessedKeys", {}).get(TABLE, {}).get("Keys", []))


def test_held_keys_come_back_unprocessed_and_the_rest_are_served(aws):
    keys = _keys(aws, 100)
    served, held = _held(aws, keys, 0.3, seed=3)
    assert served + held == 100 and 10 < held < 50


def test_the_same_seed_holds_back_the_same_keys(aws):
    keys = _keys(aws, 100)
    assert _held(aws, keys, 0.3, seed=3) == _held(aws, keys, 0.3, seed=3)


def test_a_fully_held_request_is_answered_without_the_endpoint(aws):
    keys = _keys(aws, 10)
    with inject_faults(aws, unprocessed_fraction=1.0) as hooks:
        reply = aws.batch_get_item(RequestItems={TABLE: {"Keys": keys}})
    assert reply["Responses"][TABLE] == [] and reply["UnprocessedKeys"][TABLE]["Keys"] == keys
    assert hooks.calls["BatchGetItem"] == 1 and hooks.keys_held == 10


def test_latency_is_added_to_every_request_and_removed_afterwards(aws):
    key = _keys(aws, 1)[0]
    with inject_faults(aws, latency_s=0.02) as hooks:
        started = time.perf_counter()
        for _ in range(3):
            aws.get_item(TableName=TABLE, Key=key)
        assert time.perf_counter() - started >= 0.06
    assert hooks.calls["GetItem"] == 3
    aws.get_item(TableName=TABLE, Key=key)
    assert hooks.calls["GetItem"] == 3


def test_a_private_world_refuses_to_nest_inside_another(aws):
    with pytest.raises(RuntimeError, match="already active"):
        with moto_tables(["DepHealthData"]):
            pass
