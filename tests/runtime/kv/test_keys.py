"""Keys: JSON values, ttl, optimistic concurrency, size limits and storage accounting."""

from __future__ import annotations

import pytest

from lambda_src.common import clock
from lambda_src.kv import validation


@pytest.fixture
def ns(kv):
    assert kv.call("PUT", "/namespaces/config").status == 201
    return kv


def test_put_get_delete_round_trip_with_any_json(ns):
    for value in ({"enabled": True, "rollout": 0.25, "tags": ["a", None]}, [1, 2.5, "x"], "text", 42, None, False):
        put = ns.call("PUT", "/namespaces/config/keys/feature/dark-mode", body={"value": value})
        assert put.status in (200, 201)
        got = ns.call("GET", "/namespaces/config/keys/feature/dark-mode")
        assert (got.status, got.body["value"]) == (200, value)
        assert got.headers["ETag"] == validation.etag(got.body["version"], got.body["size"])
    assert ns.call("DELETE", "/namespaces/config/keys/feature/dark-mode").status == 200
    gone = ns.call("GET", "/namespaces/config/keys/feature/dark-mode")
    assert (gone.status, gone.body["error"]) == (404, "key_not_found")
    again = ns.call("DELETE", "/namespaces/config/keys/feature/dark-mode")
    assert (again.status, again.body["error"]) == (404, "key_not_found")


def test_versions_increase_and_created_at_is_kept(ns, monkeypatch):
    first = ns.call("PUT", "/namespaces/config/keys/k", body={"value": 1})
    assert (first.status, first.body["version"]) == (201, 1)
    monkeypatch.setattr(clock, "now", lambda: 4_000_000_000)
    second = ns.call("PUT", "/namespaces/config/keys/k", body={"value": 2})
    assert (second.status, second.body["version"]) == (200, 2)
    assert second.body["createdAt"] == first.body["createdAt"] != second.body["updatedAt"]


def test_if_match_with_a_stale_version_is_409(ns):
    ns.call("PUT", "/namespaces/config/keys/k", body={"value": 1})
    ns.call("PUT", "/namespaces/config/keys/k", body={"value": 2})  # now version 2
    for stale in ("1", '"1"', '"1.1"'):
        reply = ns.call("PUT", "/namespaces/config/keys/k", body={"value": 3}, headers={"If-Match": stale})
        assert (reply.status, reply.body["error"]) == (409, "version_conflict"), stale
        reply = ns.call("DELETE", "/namespaces/config/keys/k", headers={"If-Match": stale})
        assert (reply.status, reply.body["error"]) == (409, "version_conflict"), stale
    assert ns.call("GET", "/namespaces/config/keys/k").body["value"] == 2


def test_if_match_with_the_current_version_or_etag_succeeds(ns):
    etag = ns.call("PUT", "/namespaces/config/keys/k", body={"value": "a"}).headers["ETag"]
    by_etag = ns.call("PUT", "/namespaces/config/keys/k", body={"value": "bb"}, headers={"If-Match": etag})
    assert (by_etag.status, by_etag.body["version"]) == (200, 2)
    by_version = ns.call("PUT", "/namespaces/config/keys/k", body={"value": "c"}, headers={"If-Match": "2"})
    assert (by_version.status, by_version.body["version"]) == (200, 3)
    assert ns.call("GET", "/me").body["storageBytes"] == len('"c"')
    assert ns.call("DELETE", "/namespaces/config/keys/k", headers={"If-Match": "3"}).status == 200
    assert ns.call("GET", "/me").body["storageBytes"] == 0


def test_if_match_on_a_missing_key_is_409_and_bad_if_match_400(ns):
    reply = ns.call("PUT", "/namespaces/config/keys/new", body={"value": 1}, headers={"If-Match": "1"})
    assert (reply.status, reply.body["error"]) == (409, "version_conflict")
    reply = ns.call("PUT", "/namespaces/config/keys/new", body={"value": 1}, headers={"If-Match": "abc"})
    assert (reply.status, reply.body["error"]) == (400, "invalid_if_match")


def test_expired_keys_are_never_returned(ns, monkeypatch):
    start = 1_900_000_000
    monkeypatch.setattr(clock, "now", lambda: start)
    put = ns.call("PUT", "/namespaces/config/keys/session", body={"value": {"u": 1}, "ttl": 60})
    assert put.body["expiresAt"] == start + 60
    ns.call("PUT", "/namespaces/config/keys/sessionless", body={"value": 2})
    assert ns.call("GET", "/namespaces/config/keys/session").status == 200
    monkeypatch.setattr(clock, "now", lambda: start + 61)  # DynamoDB has not swept it yet
    assert ns.call("GET", "/namespaces/config/keys/session").status == 404
    listed = ns.call("GET", "/namespaces/config/keys", query={"prefix": "session"}).body["keys"]
    assert [k["key"] for k in listed] == ["sessionless"]
    stale = ns.call("PUT", "/namespaces/config/keys/session", body={"value": 3}, headers={"If-Match": "1"})
    assert stale.status == 409
    fresh = ns.call("PUT", "/namespaces/config/keys/session", body={"value": 3})
    assert fresh.status == 200 and "expiresAt" not in fresh.body  # rewrite without ttl clears it
    assert ns.call("GET", "/namespaces/config/keys/session").body["value"] == 3


def test_storage_bytes_follow_puts_overwrites_and_deletes(ns):
    ns.call("PUT", "/namespaces/config/keys/a", body={"value": "x" * 10})
    ns.call("PUT", "/namespaces/config/keys/b", body={"value": "y" * 5})
    ns.call("PUT", "/namespaces/config/keys/a", body={"value": "x" * 3})  # blind overwrite
    assert ns.call("GET", "/me").body["storageBytes"] == 5 + 7
    ns.call("DELETE", "/namespaces/config/keys/b")
    assert ns.call("GET", "/me").body["storageBytes"] == 5


def test_values_over_the_item_limit_are_413(ns):
    big = "x" * (validation.VALUE_MAX_BYTES + 1)
    reply = ns.call("PUT", "/namespaces/config/keys/big", body={"value": big})
    assert (reply.status, reply.body["error"]) == (413, "value_too_large")


def test_bad_keys_bodies_and_ttls_are_400(ns):
    long_key = "k" * (validation.KEY_MAX_BYTES + 1)
    cases = [
        (f"/namespaces/config/keys/{long_key}", {"value": 1}, "invalid_key"),
        ("/namespaces/config/keys/tab\there", {"value": 1}, "invalid_key"),
        ("/namespaces/config/keys/k", {"ttl": 5}, "missing_value"),
        ("/namespaces/config/keys/k", {"value": 1, "ttl": -1}, "invalid_ttl"),
        ("/namespaces/config/keys/k", {"value": 1, "ttl": "soon"}, "invalid_ttl"),
        ("/namespaces/config/keys/k", {"value": 1, "extra": 1}, "invalid_body"),
        ("/namespaces/config/keys/k", {"value": 10 ** 60}, "invalid_value"),
        ("/namespaces/config/keys/k", '{"value": NaN}', "invalid_value"),
        ("/namespaces/bad name/keys/k", {"value": 1}, "invalid_namespace"),
    ]
    for path, body, code in cases:
        reply = ns.call("PUT", path, body=body)
        assert (reply.status, reply.body["error"]) == (400, code), (path, body)


def test_put_into_a_missing_namespace_is_404(kv):
    reply = kv.call("PUT", "/namespaces/nowhere/keys/k", body={"value": 1})
    assert (reply.status, reply.body["error"]) == (404, "namespace_not_found")


def test_keys_may_contain_slashes_and_namespaces_may_be_called_keys(kv):
    kv.call("PUT", "/namespaces/keys")
    put = kv.call("PUT", "/namespaces/keys/keys/a/keys/b", body={"value": "nested"})
    assert (put.status, put.body["namespace"], put.body["key"]) == (201, "keys", "a/keys/b")
    listed = kv.call("GET", "/namespaces/keys/keys", query={"prefix": "a/"}).body["keys"]
    assert [k["key"] for k in listed] == ["a/keys/b"]
