"""Signup, /me and API-key authentication."""

from __future__ import annotations

import json

from lambda_src.common.hashing import sha256_hex
from lambda_src.kv import schema

from .conftest import Client, table_env


def stored_items(aws) -> list[dict]:
    return aws.scan(TableName=table_env()["TABLE_NAME"])["Items"]


def test_signup_returns_the_key_once_and_stores_only_its_hash(aws, anon):
    reply = anon.call("POST", "/users", body={"email": "Grace@Example.com"}, key=None)
    assert reply.status == 201
    api_key = reply.body["apiKey"]
    assert reply.body["plan"] == "free" and reply.body["email"] == "grace@example.com"
    users = [i for i in stored_items(aws) if i["SK"]["S"] == "METADATA" and i["PK"]["S"].startswith("USER#")]
    mine = [u for u in users if u["userId"]["S"] == reply.body["userId"]]
    assert mine[0]["GSI1PK"]["S"] == schema.APIKEY_GSI1PK.build(apiKeyHash=sha256_hex(api_key))
    assert api_key not in json.dumps(stored_items(aws))
    me = Client(api_key).call("GET", "/me")
    assert me.status == 200 and "apiKey" not in me.body and me.body["plan"] == "free"


def test_me_reports_plan_usage_and_limits(kv):
    kv.call("PUT", "/namespaces/app")
    kv.call("PUT", "/namespaces/app/keys/a", body={"value": "hello"})
    me = kv.call("GET", "/me").body
    assert me["plan"] == "free"
    assert me["storageBytes"] == len('"hello"')
    assert me["requestCount"] == 3  # namespace, put, this read
    assert me["limits"] == {"monthlyRequests": 10_000, "storageBytes": 1024 * 1024}


def test_missing_and_wrong_keys_are_401(anon):
    assert anon.call("GET", "/me").body["error"] == "missing_api_key"
    reply = anon.call("GET", "/me", key="kv_not-a-real-key")
    assert (reply.status, reply.body["error"]) == (401, "invalid_api_key")


def test_signup_rejects_bad_input(anon):
    cases = [({"email": "nope"}, "invalid_email"), ({}, "invalid_email"), ("{not json", "invalid_json"),
             ("[1]", "invalid_json"), ({"email": "a@b.co", "role": "admin"}, "invalid_body")]
    for body, code in cases:
        reply = anon.call("POST", "/users", body=body, key=None)
        assert (reply.status, reply.body["error"]) == (400, code), body


def test_unknown_route_is_a_json_404(kv):
    reply = kv.call("GET", "/nothing-here")
    assert (reply.status, reply.body["error"]) == (404, "not_found")


def test_every_item_carries_its_entity_type(aws, kv):
    kv.call("PUT", "/namespaces/app")
    kv.call("PUT", "/namespaces/app/keys/a", body={"value": 1})
    kinds = {}
    for item in stored_items(aws):
        pk, sk = item["PK"]["S"], item["SK"]["S"]
        kind = ("KEY" if sk.startswith("KEY#") else "NAMESPACE" if pk.startswith("NS#") or sk.startswith("NS#")
                else "USER")
        assert item["entityType"]["S"] == kind, (pk, sk)
        kinds[(pk.split("#")[0], sk.split("#")[0])] = kind
    assert {("USER", "METADATA"), ("USER", "NS"), ("NS", "METADATA"), ("NS", "KEY"),
            ("EMAIL", "METADATA"), ("SIGNUP", "HOUR")} <= set(kinds)
    meta = next(i for i in stored_items(aws) if i["PK"]["S"] == "NS#app" and i["SK"]["S"] == "METADATA")
    assert meta["updatedAt"]["S"] == meta["createdAt"]["S"]
    user = next(i for i in stored_items(aws) if i["PK"]["S"].startswith("USER#") and i["SK"]["S"] == "METADATA")
    assert user["GSI1PK"]["S"].startswith("APIKEY#") and user["GSI1SK"]["S"] == "METADATA"


def test_the_source_designs_sample_items_are_declared():
    keys = {(e["PK"], e["SK"]) for e in schema.TABLE.examples}
    assert {("USER#user123", "METADATA"), ("USER#user123", "NS#myapp"), ("NS#myapp", "METADATA"),
            ("NS#myapp", "KEY#user:123")} <= keys
    assert all(e["entityType"] in ("USER", "NAMESPACE", "KEY") for e in schema.TABLE.examples)
