"""Hostile input answers 4xx, plans are the server's, one email one user, signups limited per source."""

from __future__ import annotations

import json
import threading

import pytest

from lambda_src.kv.api import handler

from .conftest import LambdaContext, event, table_env

DEEP = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000


def raw_call(method, path, *, body=None, headers=None, query=None, source="127.0.0.1"):
    ev = event(method, path, body=body, headers=headers, query=query)
    ev["requestContext"]["identity"]["sourceIp"] = source
    raw = handler(ev, LambdaContext())
    headers = {k: v[-1] for k, v in (raw.get("multiValueHeaders") or {}).items()}
    headers.update(raw.get("headers") or {})
    return raw["statusCode"], json.loads(raw["body"]), headers


@pytest.fixture
def ns(kv):
    assert kv.call("PUT", "/namespaces/app").status == 201
    assert kv.call("PUT", "/namespaces/app/keys/k", body={"value": 1}).status == 201
    return kv


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT, '{"value": ' + DEEP + "}", '{"email": ' + DEEP + "}"])
def test_deep_json_bodies_are_400(ns, body):
    for method, path, headers in [("PUT", "/namespaces/app/keys/k", {"x-api-key": ns.api_key}),
                                  ("POST", "/users", {})]:
        status, reply, _ = raw_call(method, path, body=body, headers=headers)
        assert (status, reply["error"]) == (400, "invalid_json"), (method, path)


@pytest.mark.parametrize("limit", ["²", "³", "①", "٣", "１", "1²", "9" * 40, " 1"])
def test_unicode_and_absurd_limits_are_400(ns, limit):
    for path in ("/namespaces", "/namespaces/app/keys"):
        reply = ns.call("GET", path, query={"limit": limit})
        assert (reply.status, reply.body["error"]) == (400, "invalid_limit"), (path, limit)


@pytest.mark.parametrize("plan", [[], {}, "scale", "free", None, 1])
def test_a_plan_in_the_signup_body_is_refused(anon, plan):
    reply = anon.call("POST", "/users", body={"email": "eve@example.com", "plan": plan}, key=None)
    assert (reply.status, reply.body["error"]) == (400, "plan_not_allowed")
    assert anon.call("POST", "/users", body={"email": "eve@example.com"}, key=None).body["plan"] == "free"


def test_lone_surrogates_anywhere_are_4xx(ns):
    key = {"x-api-key": ns.api_key}
    cases = [
        ("POST", "/users", '{"email": "a\\ud800@example.com"}', {}, None),
        ("PUT", "/namespaces/app/keys/k", '{"value": "\\udc00"}', key, None),
        ("PUT", "/namespaces/app/keys/k", '{"value": {"\\ud800": 1}}', key, None),
        ("GET", "/namespaces/app/keys/a\ud800", None, key, None),
        ("PUT", "/namespaces/app/keys/a\udfff", '{"value": 1}', key, None),
        ("GET", "/namespaces/app/keys", None, key, {"prefix": "p\ud800"}),
        ("GET", "/namespaces/app/keys", None, key, {"cursor": "x\ud800.y"}),
        ("GET", "/me", None, {"x-api-key": "kv_\ud800"}, None),
        ("PUT", "/namespaces/app/keys/k", '{"value": 1}', {**key, "If-Match": "\ud800"}, None),
    ]
    for method, path, body, headers, query in cases:
        status, reply, _ = raw_call(method, path, body=body, headers=headers, query=query)
        assert 400 <= status < 500 and reply["error"] and reply["message"], (method, path, status, reply)


def test_one_email_one_user(anon):
    assert anon.call("POST", "/users", body={"email": "Bob@Example.com"}, key=None).status == 201
    again = anon.call("POST", "/users", body={"email": "bob@example.COM"}, key=None)
    assert (again.status, again.body["error"]) == (409, "email_taken")
    assert "userId" not in again.body and "apiKey" not in again.body


def test_concurrent_signups_with_one_email_make_one_user(aws, anon, serialized_moto):
    replies: list = []

    def signup():
        replies.append(anon.call("POST", "/users", body={"email": "race@example.com"}, key=None))

    threads = [threading.Thread(target=signup) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status for r in replies) == [201] + [409] * 7
    users = [i for i in aws.scan(TableName=table_env()["TABLE_NAME"])["Items"]
             if i.get("email", {}).get("S") == "race@example.com"]
    assert len(users) == 1


def test_signups_are_rate_limited_per_source(anon, monkeypatch):
    monkeypatch.setenv("KV_SIGNUPS_PER_HOUR", "3")
    for i in range(3):
        assert raw_call("POST", "/users", body={"email": f"s{i}@example.com"}, source="203.0.113.7")[0] == 201
    status, reply, headers = raw_call("POST", "/users", body={"email": "s9@example.com"}, source="203.0.113.7")
    assert (status, reply["error"]) == (429, "rate_limited")
    assert 1 <= int(headers["Retry-After"]) <= 3600
    assert raw_call("POST", "/users", body={"email": "s9@example.com"}, source="203.0.113.8")[0] == 201


def test_an_ipv6_client_is_limited_by_its_64_prefix(anon, monkeypatch):
    monkeypatch.setenv("KV_SIGNUPS_PER_HOUR", "2")
    for i, suffix in enumerate(["1", "2"]):
        status = raw_call("POST", "/users", body={"email": f"v{i}@example.com"}, source=f"2001:db8:1:2::{suffix}")[0]
        assert status == 201
    rotated = raw_call("POST", "/users", body={"email": "v9@example.com"}, source="2001:db8:1:2:ffff::9")
    assert (rotated[0], rotated[1]["error"]) == (429, "rate_limited")
    assert raw_call("POST", "/users", body={"email": "v9@example.com"}, source="2001:db8:1:3::1")[0] == 201


def test_every_domain_error_has_one_http_status():
    from lambda_src.kv import api, errors

    kinds = {c for c in vars(errors).values()
             if isinstance(c, type) and issubclass(c, errors.DomainError) and c is not errors.DomainError}
    assert set(api.STATUS) == kinds
    assert all(400 <= status < 500 or status == 503 for status in api.STATUS.values())
