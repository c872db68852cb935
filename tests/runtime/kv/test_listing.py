"""Keys by prefix: one GSI1 Query per page, opaque cursors, capped limits."""

from __future__ import annotations

import base64
import json

from lambda_src.kv import store


def fill(kv, ns: str, keys: list[str]) -> None:
    kv.call("PUT", f"/namespaces/{ns}")
    for key in keys:
        assert kv.call("PUT", f"/namespaces/{ns}/keys/{key}", body={"value": key}).status == 201


def walk(kv, ns: str, **query) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        params = {k: str(v) for k, v in query.items()}
        if cursor:
            params["cursor"] = cursor
        reply = kv.call("GET", f"/namespaces/{ns}/keys", query=params)
        assert reply.status == 200, reply
        pages.append([k["key"] for k in reply.body["keys"]])
        cursor = reply.body["cursor"]
        if not cursor:
            return pages


def test_prefix_listing_paginates_in_key_order(kv):
    users = [f"user/{i:03}" for i in range(11)]
    fill(kv, "app", users + ["config/a", "userx", "z"])
    pages = walk(kv, "app", prefix="user/", limit=4)
    assert [len(p) for p in pages[:3]] == [4, 4, 3]
    assert [k for p in pages for k in p] == users


def test_empty_prefix_lists_everything_and_limit_is_capped(kv, monkeypatch):
    monkeypatch.setattr(store, "MAX_PAGE", 5)
    fill(kv, "app", [f"k{i}" for i in range(7)])
    first = kv.call("GET", "/namespaces/app/keys", query={"limit": "1000"}).body
    assert len(first["keys"]) == 5 and first["cursor"]
    assert sum(len(p) for p in walk(kv, "app")) == 7


def test_empty_namespace_lists_nothing_and_missing_one_is_404(kv):
    kv.call("PUT", "/namespaces/empty")
    reply = kv.call("GET", "/namespaces/empty/keys")
    assert (reply.status, reply.body["keys"], reply.body["cursor"]) == (200, [], None)
    assert kv.call("GET", "/namespaces/absent/keys").status == 404


def test_cursors_are_opaque_and_bound_to_their_listing(kv):
    fill(kv, "app", ["a1", "a2", "a3"])
    fill(kv, "other", ["a1", "a2"])
    cursor = kv.call("GET", "/namespaces/app/keys", query={"limit": "1"}).body["cursor"]
    assert "NS#" not in cursor
    for bad in ("garbage!", "e30", cursor + "x"):
        reply = kv.call("GET", "/namespaces/app/keys", query={"cursor": bad})
        assert (reply.status, reply.body["error"]) == (400, "invalid_cursor"), bad
    elsewhere = kv.call("GET", "/namespaces/other/keys", query={"cursor": cursor})
    assert (elsewhere.status, elsewhere.body["error"]) == (400, "invalid_cursor")
    forged = base64.urlsafe_b64encode(json.dumps(
        {"PK": "NS#app", "SK": "KEY#a1", "GSI1PK": "NS#app", "GSI1SK": "KEY#a1"}).encode()).decode()
    other_prefix = kv.call("GET", "/namespaces/app/keys", query={"cursor": forged, "prefix": "b"})
    assert other_prefix.status == 400


def test_bad_limits_are_400(kv):
    fill(kv, "app", [])
    for limit in ("0", "-1", "ten", "1.5"):
        reply = kv.call("GET", "/namespaces/app/keys", query={"limit": limit})
        assert (reply.status, reply.body["error"]) == (400, "invalid_limit"), limit
