"""Namespaces: create, list, ownership without existence leaks, delete and force delete."""

from __future__ import annotations

from lambda_src.kv import store


def test_create_is_idempotent_for_the_owner_and_listed(kv):
    assert kv.call("PUT", "/namespaces/config").status == 201
    assert kv.call("PUT", "/namespaces/config").status == 200
    kv.call("PUT", "/namespaces/sessions")
    listed = kv.call("GET", "/namespaces").body
    assert [n["namespace"] for n in listed["namespaces"]] == ["config", "sessions"]
    assert listed["cursor"] is None


def test_namespace_listing_paginates(kv):
    for i in range(5):
        kv.call("PUT", f"/namespaces/ns{i}")
    first = kv.call("GET", "/namespaces", query={"limit": "3"}).body
    second = kv.call("GET", "/namespaces", query={"limit": "3", "cursor": first["cursor"]}).body
    names = [n["namespace"] for n in first["namespaces"] + second["namespaces"]]
    assert names == [f"ns{i}" for i in range(5)]


def test_invalid_names_are_400(kv):
    for name in ("-lead", "has space", "x" * 65, "a%2Fb", "ünï"):
        reply = kv.call("PUT", f"/namespaces/{name}")
        assert reply.status in (400, 404), name
        assert reply.body["error"] in ("invalid_namespace", "not_found"), name


def test_others_namespaces_look_missing(kv):
    kv.call("PUT", "/namespaces/private")
    kv.call("PUT", "/namespaces/private/keys/secret", body={"value": 1})
    mallory = kv.signup("mallory@example.com")
    for method, path, body in [
        ("GET", "/namespaces/private/keys/secret", None),
        ("PUT", "/namespaces/private/keys/secret", {"value": 2}),
        ("DELETE", "/namespaces/private/keys/secret", None),
        ("GET", "/namespaces/private/keys", None),
        ("DELETE", "/namespaces/private", None),
        ("DELETE", "/namespaces/private?force=true", None),
    ]:
        theirs = mallory.call(method, path.split("?")[0], body=body,
                              query={"force": "true"} if "force" in path else None)
        missing = mallory.call(method, path.split("?")[0].replace("private", "nosuchns"), body=body,
                               query={"force": "true"} if "force" in path else None)
        assert theirs.status == 404, (method, path, theirs)
        assert (theirs.status, theirs.body) == (missing.status, missing.body.__class__(
            {k: v.replace("nosuchns", "private") for k, v in missing.body.items()})), (method, path)
    assert mallory.call("GET", "/namespaces").body["namespaces"] == []
    assert kv.call("GET", "/namespaces/private/keys/secret").body["value"] == 1
    taken = mallory.call("PUT", "/namespaces/private")
    assert (taken.status, taken.body["error"]) == (409, "namespace_unavailable")


def test_delete_refuses_a_namespace_with_keys_unless_forced(kv):
    kv.call("PUT", "/namespaces/tmp")
    kv.call("PUT", "/namespaces/tmp/keys/k", body={"value": 1})
    reply = kv.call("DELETE", "/namespaces/tmp")
    assert (reply.status, reply.body["error"]) == (409, "namespace_not_empty")
    kv.call("DELETE", "/namespaces/tmp/keys/k")
    assert kv.call("DELETE", "/namespaces/tmp").status == 200
    assert kv.call("GET", "/namespaces").body["namespaces"] == []


def test_force_delete_removes_keys_in_batches_and_frees_storage(kv, monkeypatch):
    monkeypatch.setattr(store, "DELETE_BATCH", 4)
    kv.call("PUT", "/namespaces/bulk")
    for i in range(10):
        kv.call("PUT", f"/namespaces/bulk/keys/k{i:02}", body={"value": "x" * i})
    assert kv.call("GET", "/me").body["storageBytes"] == sum(i + 2 for i in range(10))
    reply = kv.call("DELETE", "/namespaces/bulk", query={"force": "true"})
    assert reply.status == 200 and reply.body["keysDeleted"] == 10
    assert kv.call("GET", "/me").body["storageBytes"] == 0
    assert kv.call("GET", "/namespaces/bulk/keys").status == 404
    assert kv.call("PUT", "/namespaces/bulk").status == 201  # the name is free again
