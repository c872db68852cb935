"""Requests per operation: authentication (one GSI1 Query) + one per operation or page."""

from __future__ import annotations

import pytest

from lambda_src.common.aws_clients import dynamodb
from lambda_src.kv.meter import METER
from tools.bench.counting import count_requests


@pytest.fixture
def counted(kv, monkeypatch):
    monkeypatch.setattr(METER, "flush_every", 1000)  # measure the operations, not the meter
    kv.call("PUT", "/namespaces/n")

    def count(method, path, **kwargs):
        with count_requests(dynamodb()) as counter:
            reply = kv.call(method, path, **kwargs)
        return reply, counter

    return count


def test_get_put_delete_are_auth_plus_one(counted):
    reply, c = counted("PUT", "/namespaces/n/keys/k", body={"value": 1})
    assert reply.status == 201 and dict(c.by_operation) == {"Query": 1, "TransactWriteItems": 1}
    etag = reply.headers["ETag"]
    reply, c = counted("PUT", "/namespaces/n/keys/k", body={"value": 2}, headers={"If-Match": etag})
    assert reply.status == 200 and c.total == 2
    reply, c = counted("GET", "/namespaces/n/keys/k")
    assert reply.status == 200 and dict(c.by_operation) == {"Query": 1, "GetItem": 1}
    reply, c = counted("DELETE", "/namespaces/n/keys/k", headers={"If-Match": reply.headers["ETag"]})
    assert reply.status == 200 and dict(c.by_operation) == {"Query": 1, "TransactWriteItems": 1}


def test_blind_overwrite_costs_one_cancelled_transaction_and_never_a_read(counted):
    counted("PUT", "/namespaces/n/keys/k", body={"value": 1})
    reply, c = counted("PUT", "/namespaces/n/keys/k", body={"value": 22})
    assert reply.status == 200 and dict(c.by_operation) == {"Query": 1, "TransactWriteItems": 2}


def test_listing_is_auth_plus_one_query_per_page_without_filter_waste(counted):
    for i in range(9):
        counted("PUT", f"/namespaces/n/keys/p{i}", body={"value": i})
    cursor, pages = None, 0
    with count_requests(dynamodb()) as c:
        while True:
            query = {"limit": "4", "prefix": "p", **({"cursor": cursor} if cursor else {})}
            reply = _kv_call(counted, query)
            pages += 1
            cursor = reply.body["cursor"]
            if not cursor:
                break
    assert pages == 3
    assert dict(c.by_operation) == {"Query": 2 * pages}
    assert c.items_read == c.items_returned == pages + 9  # the auth items plus the keys


def _kv_call(counted, query):
    reply, _ = counted("GET", "/namespaces/n/keys", query=query)
    return reply
