"""Package reads, API-key quotas and the demo allowance."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest

from lambda_src.common.aws_clients import dynamodb
from lambda_src.common.hashing import sha256_hex
from lambda_src.common.requests import to_attr
from lambda_src.dephealth import config, packages_api
from lambda_src.dephealth.packages import encode_cursor
from lambda_src.dephealth.schema import PACKAGES
from tools.bench.counting import count_requests

from .conftest import API_KEYS_TABLE, PACKAGES_TABLE, api_event, call, put, scan_all


@pytest.fixture
def catalog(aws):
    for item in PACKAGES.examples:
        put(aws, PACKAGES_TABLE, item)
    return PACKAGES.examples


def _risky(aws, n: int) -> None:
    from lambda_src.common.requests import to_item

    items = [{"pk": f"npm#risky-{i:03d}", "sk": "LATEST", "ecosystem": "npm", "name": f"risky-{i:03d}",
              "risk_level": "critical", "tier": "long-tail",
              "last_updated": f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:00:{i % 60:02d}Z"} for i in range(n)]
    for start in range(0, n, 25):
        aws.batch_write_item(RequestItems={PACKAGES_TABLE: [
            {"PutRequest": {"Item": to_item(item)}} for item in items[start:start + 25]]})


def test_get_package_with_an_api_key(aws, catalog, user):
    event = api_event("package_get", headers={"x-api-key": user["api_key"]})
    status, body = call(packages_api.handler, event)
    assert status == 200 and body["pk"] == "npm#express" and body["health_score"] == 92
    [record] = [i for i in scan_all(aws, API_KEYS_TABLE) if i.get("key_hash")]
    assert record["requests_this_month"] == 1


def test_unknown_package_is_404(aws, catalog, user):
    event = api_event("package_get", headers={"x-api-key": user["api_key"]},
                      path_params={"ecosystem": "npm", "name": "no-such-thing"})
    status, body = call(packages_api.handler, event)
    assert (status, body["error"]) == (404, "package_not_found")


def test_a_wrong_api_key_is_401(aws, catalog, user):
    status, body = call(packages_api.handler, api_event("package_get", headers={"x-api-key": "dh_wrong_key_123"}))
    assert (status, body["error"]) == (401, "invalid_api_key")


def test_api_key_auth_is_one_query(aws, user):
    from lambda_src.dephealth import quotas

    with count_requests(dynamodb()) as counter:
        record = quotas.authenticate(dynamodb(), user["api_key"])
    assert record["key_hash"] == sha256_hex(user["api_key"])
    assert dict(counter.by_operation) == {"Query": 1}


def test_quota_is_enforced_per_tier(aws, catalog, user, monkeypatch):
    monkeypatch.setitem(config.TIER_QUOTAS, "free", 3)
    event = api_event("package_get", headers={"x-api-key": user["api_key"]})
    statuses = [call(packages_api.handler, event)[0] for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert call(packages_api.handler, event)[1]["error"] == "quota_exceeded"
    [record] = [i for i in scan_all(aws, API_KEYS_TABLE) if i.get("key_hash")]
    assert record["requests_this_month"] == 3


def test_concurrent_quota_never_overcounts(aws, catalog, user, monkeypatch, atomic_moto):
    monkeypatch.setitem(config.TIER_QUOTAS, "free", 7)
    barrier = Barrier(24)

    def hit(_):
        barrier.wait()
        return call(packages_api.handler, api_event("package_get", headers={"x-api-key": user["api_key"]}))[0]

    with ThreadPoolExecutor(24) as pool:
        statuses = list(pool.map(hit, range(24)))
    assert statuses.count(200) == 7 and statuses.count(429) == 17


def test_demo_allows_n_requests_per_ip_per_hour(aws, catalog, monkeypatch):
    monkeypatch.setenv("DEMO_LIMIT_PER_HOUR", "3")
    statuses = [call(packages_api.handler, api_event("package_get_demo"))[0] for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert call(packages_api.handler, api_event("package_get_demo", ip="198.51.100.9"))[0] == 200
    counters = {i["pk"]: i for i in scan_all(aws, API_KEYS_TABLE) if i["pk"].startswith("demo#")}
    assert counters["demo#203.0.113.7"]["count"] == 3 and counters["demo#203.0.113.7"]["ttl"] > 0
    assert counters["demo#203.0.113.7"]["sk"].startswith("hour#")


def test_concurrent_demo_requests_never_exceed_the_limit(aws, catalog, monkeypatch, atomic_moto):
    monkeypatch.setenv("DEMO_LIMIT_PER_HOUR", "10")
    barrier = Barrier(40)

    def hit(_):
        barrier.wait()
        return call(packages_api.handler, api_event("package_get_demo"))

    with ThreadPoolExecutor(40) as pool:
        results = list(pool.map(hit, range(40)))
    assert [s for s, _ in results].count(200) == 10
    assert {b["error"] for s, b in results if s == 429} == {"demo_limit_exceeded"}
    [counter] = [i for i in scan_all(aws, API_KEYS_TABLE) if i["pk"].startswith("demo#")]
    assert counter["count"] == 10


def test_risk_listing_pages_with_an_opaque_cursor(aws, catalog, user):
    _risky(aws, 110)
    headers = {"x-api-key": user["api_key"]}
    seen, cursor, pages = [], None, 0
    while True:
        query = {"risk_level": "critical", "limit": "50", **({"cursor": cursor} if cursor else {})}
        status, body = call(packages_api.handler, api_event("packages_by_risk", query=query, headers=headers))
        assert status == 200
        seen += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert pages >= 3 and len(seen) == 110 and len({i["pk"] for i in seen}) == 110
    assert all("name" in i for i in seen)  # full items, not the index's keys
    stamps = [i["last_updated"] for i in seen]
    assert stamps == sorted(stamps, reverse=True)


def test_risk_listing_is_one_query_plus_a_batch_get_per_100(aws, catalog):
    from lambda_src.dephealth.packages import list_by_risk

    _risky(aws, 201)
    with count_requests(dynamodb()) as counter:
        page = list_by_risk(dynamodb(), "critical", limit=201)
    assert len(page["items"]) == 201
    assert dict(counter.by_operation) == {"Query": 1, "BatchGetItem": 3}


def test_a_cursor_of_another_listing_is_rejected(aws, catalog, user):
    other = encode_cursor({"pk": to_attr("npm#x"), "sk": to_attr("LATEST"), "risk_level": to_attr("low"),
                           "last_updated": to_attr("2026")})
    query = {"risk_level": "high", "cursor": other}
    status, body = call(packages_api.handler, api_event("packages_by_risk", query=query,
                                                        headers={"x-api-key": user["api_key"]}))
    assert (status, body["error"]) == (400, "invalid_cursor")


def test_batch_route_returns_found_and_not_found(aws, catalog, user):
    wanted = [{"ecosystem": "npm", "name": "express"}, {"ecosystem": "pypi", "name": "requests"},
              {"ecosystem": "npm", "name": "ghost"}, {"ecosystem": "npm", "name": "express"}]
    status, body = call(packages_api.handler, api_event("packages_batch", body={"packages": wanted},
                                                        headers={"x-api-key": user["api_key"]}))
    assert status == 200
    assert sorted(p["pk"] for p in body["packages"]) == ["npm#express", "pypi#requests"]
    assert body["not_found"] == [{"ecosystem": "npm", "name": "ghost"}]
