"""The KV API as deployed: every route over HTTP through API Gateway and the Lambda function."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.conftest import assert_error_shape

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def kv(deployment):
    return deployment.api_url("KvStorage")


@pytest.fixture(scope="module")
def user(kv, http):
    answer = http("POST", f"{kv}/users", body={"email": f"e2e-{uuid.uuid4().hex[:8]}@example.com"})
    assert answer.status == 201, answer.raw
    assert answer.body["plan"] == "free"
    return answer.body


@pytest.fixture(scope="module")
def ns(kv, http, user):
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    answer = http("PUT", f"{kv}/namespaces/{name}", headers={"x-api-key": user["apiKey"]})
    assert answer.status == 201, answer.raw
    return name


def test_me(kv, http, user):
    answer = http("GET", f"{kv}/me", headers={"x-api-key": user["apiKey"]})
    assert answer.status == 200, answer.raw
    assert answer.body["userId"] == user["userId"]


def test_namespace_listing_and_idempotent_create(kv, http, user, ns):
    key = {"x-api-key": user["apiKey"]}
    assert http("PUT", f"{kv}/namespaces/{ns}", headers=key).status == 200
    listed = http("GET", f"{kv}/namespaces", headers=key).body["namespaces"]
    names = [n["namespace"] if isinstance(n, dict) else n for n in listed]
    assert ns in names


def test_put_get_etag_and_stale_if_match(kv, http, user, ns):
    key = {"x-api-key": user["apiKey"]}
    url = f"{kv}/namespaces/{ns}/keys/config/app"
    assert http("PUT", url, headers=key, body={"value": {"theme": "dark"}}).status == 201
    got = http("GET", url, headers=key)
    assert got.status == 200 and got.body["value"] == {"theme": "dark"} and got.body["version"] == 1
    etag = got.header("ETag")
    assert etag, got.headers
    updated = http("PUT", url, headers={**key, "If-Match": etag}, body={"value": {"theme": "light"}})
    assert updated.status == 200, updated.raw
    stale = http("PUT", url, headers={**key, "If-Match": etag}, body={"value": {"theme": "blue"}})
    assert_error_shape(stale, 409)
    assert stale.body["error"] == "version_conflict"
    assert http("GET", url, headers=key).body["value"] == {"theme": "light"}


def test_list_by_prefix_with_cursors(kv, http, user, ns):
    key = {"x-api-key": user["apiKey"]}
    for i in range(5):
        assert http("PUT", f"{kv}/namespaces/{ns}/keys/list/k{i}", headers=key, body={"value": i}).status == 201
    seen, cursor = [], None
    while True:
        query = "prefix=list/&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = http("GET", f"{kv}/namespaces/{ns}/keys?{query}", headers=key)
        assert page.status == 200, page.raw
        seen += [k["key"] for k in page.body["keys"]]
        cursor = page.body.get("cursor")
        if not cursor:
            break
    assert seen == [f"list/k{i}" for i in range(5)]


def test_delete_key_and_namespace(kv, http, user):
    key = {"x-api-key": user["apiKey"]}
    name = f"e2e-del-{uuid.uuid4().hex[:6]}"
    assert http("PUT", f"{kv}/namespaces/{name}", headers=key).status == 201
    assert http("PUT", f"{kv}/namespaces/{name}/keys/a", headers=key, body={"value": 1}).status == 201
    assert_error_shape(http("DELETE", f"{kv}/namespaces/{name}", headers=key), 409)
    assert http("DELETE", f"{kv}/namespaces/{name}/keys/a", headers=key).status == 200
    assert_error_shape(http("GET", f"{kv}/namespaces/{name}/keys/a", headers=key), 404)
    assert http("DELETE", f"{kv}/namespaces/{name}", headers=key).status == 200


def test_another_users_namespace_is_not_found(kv, http, ns):
    other = http("POST", f"{kv}/users", body={"email": f"other-{uuid.uuid4().hex[:8]}@example.com"}).body
    answer = http("GET", f"{kv}/namespaces/{ns}/keys/config/app", headers={"x-api-key": other["apiKey"]})
    assert_error_shape(answer, 404)


@pytest.mark.parametrize("method,path,headers,body", [
    ("GET", "/me", {}, None),  # no x-api-key
    ("GET", "/me", {"x-api-key": "kv_wrong"}, None),
    ("GET", "/no/such/route", {}, None),
    ("POST", "/users", {}, b"{not json"),
    ("POST", "/users", {}, b'{"email": "a\\ud800@example.com"}'),
    ("POST", "/users", {}, b"[" * 1000 + b"]" * 1000),
    ("PATCH", "/me", {}, None),
])
def test_bad_requests_answer_4xx_in_the_error_shape(kv, http, method, path, headers, body):
    answer = http(method, f"{kv}{path}", headers=headers, raw=body)
    assert 400 <= answer.status < 500, (answer.status, answer.raw[:300])
    assert_error_shape(answer)


def test_missing_api_key_is_401_missing_api_key(kv, http):
    answer = http("GET", f"{kv}/me")
    assert_error_shape(answer, 401)
    assert answer.body["error"] == "missing_api_key"
