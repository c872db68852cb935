"""Cursors are tamper-evident and authorized on every page; counters stay exact under races;
handlers answer a typed 503 before the function's deadline."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from typing import Any

from lambda_src.common import decoding
from lambda_src.kv import namespaces, store
from lambda_src.kv.api import handler

from .conftest import Client, LambdaContext, event, table_env


def fill(kv, ns, keys):
    assert kv.call("PUT", f"/namespaces/{ns}").status == 201
    for key in keys:
        assert kv.call("PUT", f"/namespaces/{ns}/keys/{key}", body={"value": key}).status == 201


def first_cursor(kv, path, **query):
    reply = kv.call("GET", path, query={"limit": "1", **query})
    assert reply.status == 200 and reply.body["cursor"], reply
    return reply.body["cursor"]


def assert_invalid(reply):
    assert (reply.status, reply.body["error"]) == (400, "invalid_cursor"), reply


def test_an_altered_or_forged_cursor_is_400(kv):
    fill(kv, "app", ["a1", "a2", "a3"])
    cursor = first_cursor(kv, "/namespaces/app/keys")
    payload, mac = cursor.split(".")
    plain = decoding.b64url_json(payload)
    moved = decoding.b64url_encode_json({**plain, "a": "a2"})
    forged_mac = base64.urlsafe_b64encode(hmac.new(b"guess", moved.encode(), hashlib.sha256).digest()).decode()
    for bad in (f"{moved}.{mac}", f"{moved}.{forged_mac.rstrip('=')}", payload, f"{payload}.{mac}x",
                f"{payload}.{mac}.{mac}", base64.urlsafe_b64encode(json.dumps(
                    {"PK": "NS#app", "SK": "KEY#a1", "GSI1PK": "NS#app", "GSI1SK": "KEY#a1"}).encode()).decode()):
        assert_invalid(kv.call("GET", "/namespaces/app/keys", query={"cursor": bad}))
    assert kv.call("GET", "/namespaces/app/keys", query={"cursor": cursor}).status == 200


def test_a_cursor_only_works_for_its_user_namespace_prefix_and_listing(kv):
    fill(kv, "app", ["a1", "a2", "b1"])
    fill(kv, "other", ["a1", "a2"])
    cursor = first_cursor(kv, "/namespaces/app/keys", prefix="a")
    assert_invalid(kv.call("GET", "/namespaces/other/keys", query={"cursor": cursor, "prefix": "a"}))
    assert_invalid(kv.call("GET", "/namespaces/app/keys", query={"cursor": cursor}))
    assert_invalid(kv.call("GET", "/namespaces", query={"cursor": cursor}))
    ns_cursor = first_cursor(kv, "/namespaces")
    assert_invalid(kv.call("GET", "/namespaces/app/keys", query={"cursor": ns_cursor}))
    mallory = Client().signup("mallory@example.com")
    fill(mallory, "mine", ["m1", "m2"])
    # Another user's genuine cursor, on their namespace or on one's own, is refused.
    assert_invalid(mallory.call("GET", "/namespaces/app/keys", query={"cursor": cursor, "prefix": "a"}))
    assert_invalid(mallory.call("GET", "/namespaces", query={"cursor": ns_cursor}))


def test_every_page_is_authorized(kv):
    """A cursor outlives its namespace: if the name passes to another owner, the next page is 404."""
    fill(kv, "app", ["a1", "a2", "a3"])
    cursor = first_cursor(kv, "/namespaces/app/keys")
    assert kv.call("DELETE", "/namespaces/app", query={"force": "true"}).status == 200
    mallory = Client().signup("mallory@example.com")
    fill(mallory, "app", ["secret-1", "secret-2"])
    reply = kv.call("GET", "/namespaces/app/keys", query={"cursor": cursor})
    assert (reply.status, reply.body["error"]) == (404, "namespace_not_found")
    assert "secret" not in json.dumps(reply.body)


def stored_bytes(aws) -> tuple[int, int]:
    """(the user's storageBytes, the sum of the sizes of the keys stored)."""
    items = aws.scan(TableName=table_env()["TABLE_NAME"])["Items"]
    users = [i for i in items if i["PK"]["S"].startswith("USER#") and i["SK"]["S"] == "METADATA"]
    assert len(users) == 1
    keys = sum(int(i["size"]["N"]) for i in items if i["SK"]["S"].startswith("KEY#"))
    return int(users[0]["storageBytes"]["N"]), keys


def test_an_overwrite_between_the_delete_page_and_its_transaction_keeps_counters_exact(aws, kv, monkeypatch):
    fill(kv, "app", ["k1", "k2"])
    read_page = namespaces._namespace_key_page
    answers: list[Any] = []

    def page_then_overwrite(ns, start, limit):
        page = read_page(ns, start, limit)
        if not answers:  # land one overwrite, from another thread, right after the first page read
            writer = threading.Thread(target=lambda: answers.append(
                kv.call("PUT", "/namespaces/app/keys/k1", body={"value": "x" * 4000})))
            writer.start()
            writer.join()
        return page

    monkeypatch.setattr(namespaces, "_namespace_key_page", page_then_overwrite)
    deleted = kv.call("DELETE", "/namespaces/app", query={"force": "true"})
    assert deleted.status == 200, deleted
    assert answers[0].status in (200, 404), answers[0]
    counted, stored = stored_bytes(aws)
    assert counted == stored


def test_force_delete_racing_writes_and_deletes_keeps_counters_exact(aws, kv, serialized_moto):
    fill(kv, "app", [f"k{i}" for i in range(30)])
    stop = threading.Event()
    answers = []

    def churn(seed):
        i = seed
        while not stop.is_set():
            key = f"k{i % 30}"
            if i % 3 == 0:
                answers.append(kv.call("DELETE", f"/namespaces/app/keys/{key}").status)
            else:
                answers.append(kv.call("PUT", f"/namespaces/app/keys/{key}", body={"value": "v" * (i % 97)}).status)
            i += 7

    workers = [threading.Thread(target=churn, args=(n,)) for n in range(3)]
    for w in workers:
        w.start()
    time.sleep(0.2)
    reply = kv.call("DELETE", "/namespaces/app", query={"force": "true"})
    stop.set()
    for w in workers:
        w.join()
    assert reply.status in (200, 409), reply
    assert all(status < 500 for status in answers)
    counted, stored = stored_bytes(aws)
    assert counted == stored


class Context(LambdaContext):
    def __init__(self, millis):
        super().__init__(aws_request_id="deadline-test")
        self.millis = millis
        self.started = time.monotonic()

    def get_remaining_time_in_millis(self):
        return int(self.millis - (time.monotonic() - self.started) * 1000)


def test_sustained_throttling_answers_503_before_the_function_times_out(kv):
    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import MockRawResponse

    def throttle(**_kwargs):
        time.sleep(0.3)  # a slow, throttled service
        body = b'{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}'
        return AWSResponse("https://dynamodb", 400, {"x-amzn-ErrorType": "ThrottlingException"},
                           MockRawResponse(body))

    client = store.dynamodb()
    client.meta.events.register_first("before-send.dynamodb", throttle)
    try:
        ev = event("GET", "/me", headers={"x-api-key": kv.api_key})
        context = Context(1500)
        raw = handler(ev, context)
        elapsed = time.monotonic() - context.started
    finally:
        client.meta.events.unregister("before-send.dynamodb", throttle)
    headers = {k: v[-1] for k, v in (raw.get("multiValueHeaders") or {}).items()}
    headers.update(raw.get("headers") or {})
    assert raw["statusCode"] == 503 and json.loads(raw["body"])["error"] in ("deadline_exceeded", "throttled")
    assert headers["Retry-After"] == "1"
    assert elapsed < 1.5
