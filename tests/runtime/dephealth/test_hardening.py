"""Hostile input and abuse, class by class: names, sources, mail, failed messages."""

from __future__ import annotations

import copy
import json
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_src.common import aws_clients
from lambda_src.common.requests import to_item
from lambda_src.dephealth import auth_api, config, dlq, packages_api, rate_limits
from tools.bench.counting import count_requests

from .conftest import API_KEYS_TABLE, PACKAGES_TABLE, LambdaContext, api_event, call, put, scan_all

REAL_NAMES = [("npm", "@types/node"), ("npm", "@babel/core"), ("npm", "lodash.merge"), ("pypi", "zope.interface"),
              ("pypi", "typing_extensions"), ("maven", "org.apache.commons:commons-lang3"), ("npm", "express")]


def _store(aws, ecosystem, name):
    put(aws, PACKAGES_TABLE, {"pk": f"{ecosystem}#{name}", "sk": "LATEST", "ecosystem": ecosystem, "name": name,
                              "risk_level": "low", "health_score": 80, "last_updated": "2026-11-20T08:00:00Z"})


def _package_event(ecosystem: str, raw_path_name: str, user) -> dict:
    """The event API Gateway sends for GET /packages/{ecosystem}/{name+} with ``raw_path_name`` as typed."""
    event = api_event("package_get", headers={"x-api-key": user["api_key"]})
    event["path"] = f"/packages/{ecosystem}/{raw_path_name}"
    event["pathParameters"] = {"ecosystem": ecosystem, "name": raw_path_name}
    return event


@pytest.mark.parametrize("ecosystem,name", REAL_NAMES)
@pytest.mark.parametrize("form", ["plain", "encoded", "encoded-slash-only"])
def test_real_package_names_are_routed_and_decoded(aws, user, ecosystem, name, form):
    _store(aws, ecosystem, name)
    typed = {"plain": name, "encoded": quote(name, safe=""),
             "encoded-slash-only": name.replace("/", "%2F")}[form]
    status, body = call(packages_api.handler, _package_event(ecosystem, typed, user))
    assert status == 200, body
    assert (body["ecosystem"], body["name"]) == (ecosystem, name)


@pytest.mark.parametrize("typed", ["%2540types%252Fnode", "%ZZ", "%ff%fe", "a%23b", "@types/node/extra", "..%2F..",
                                   "@types%2F"])
def test_malformed_or_double_encoded_names_are_a_400_or_404_never_another_package(aws, user, typed):
    _store(aws, "npm", "@types/node")
    status, body = call(packages_api.handler, _package_event("npm", typed, user))
    assert 400 <= status < 500 and body["error"] in {"invalid_package_name", "not_found"}


# -- demo allowance per IPv6 /64 -------------------------------------------------------
def test_an_ipv6_client_cannot_rotate_through_its_64(aws, monkeypatch):
    put(aws, PACKAGES_TABLE, {"pk": "npm#express", "sk": "LATEST", "ecosystem": "npm", "name": "express"})
    monkeypatch.setenv("DEMO_LIMIT_PER_HOUR", "3")
    prefix = "2001:db8:aa:bb"
    statuses = [call(packages_api.handler, api_event("package_get_demo", ip=f"{prefix}:{i:x}:{i:x}::{i + 1:x}"))[0]
                for i in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    # Another /64 is another client; IPv4 (also written IPv4-mapped) is counted per address.
    assert call(packages_api.handler, api_event("package_get_demo", ip="2001:db8:aa:bc::1"))[0] == 200
    assert call(packages_api.handler, api_event("package_get_demo", ip="198.51.100.4"))[0] == 200
    assert [call(packages_api.handler, api_event("package_get_demo", ip="::ffff:198.51.100.4"))[0]
            for _ in range(3)] == [200, 200, 429]


@given(st.ip_addresses(v=6))
@settings(max_examples=200, deadline=None)
def test_every_ipv6_address_is_keyed_by_its_64(address):
    import ipaddress

    key = rate_limits.demo_source(str(address))
    if address.ipv4_mapped:
        assert key == str(address.ipv4_mapped)
    else:
        assert ipaddress.ip_address(str(address)) in ipaddress.ip_network(key) and key.endswith("/64")


# -- mail: equal work, per-address limit -------------------------------------------------
def _work(handler_event) -> tuple[dict, int]:
    """The DynamoDB requests and SQS messages one call makes, plus its status."""
    sqs_sent = []
    sqs = aws_clients.client("sqs")
    sqs.meta.events.register("after-call.sqs.SendMessage", lambda **kw: sqs_sent.append(1), unique_id="t-sqs")
    try:
        with count_requests(aws_clients.dynamodb()) as counter:
            status, _ = call(auth_api.handler, handler_event)
    finally:
        sqs.meta.events.unregister("after-call.sqs.SendMessage", unique_id="t-sqs")
    return {**counter.by_operation, "SendMessage": len(sqs_sent)}, status


@pytest.mark.parametrize("route", ["signup", "magic_link"])
def test_known_and_unknown_addresses_cost_the_caller_the_same_work(aws, user, mailbox, route):
    known, status_known = _work(api_event(route, body={"email": user["email"]}))
    unknown, status_unknown = _work(api_event(route, body={"email": "stranger@example.com"}))
    assert status_known == status_unknown == 202
    assert known == unknown == {"UpdateItem": 1, "SendMessage": 1}


def test_a_mailbox_cannot_be_flooded(aws, mailbox, atomic_moto):
    """Real threads, both routes, one address: exactly MAIL_LIMIT_PER_HOUR requests get through."""
    threads = 24
    barrier = Barrier(threads)

    def hit(i):
        barrier.wait()
        route = "signup" if i % 2 else "magic_link"
        return call(auth_api.handler, api_event(route, body={"email": "Victim@Example.com "}))

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(hit, range(threads)))
    statuses = sorted(s for s, _ in results)
    assert statuses == [202] * config.MAIL_LIMIT_PER_HOUR + [429] * (threads - config.MAIL_LIMIT_PER_HOUR)
    assert {b["error"] for s, b in results if s == 429} == {"mail_limit_exceeded"}
    assert mailbox.deliver() == config.MAIL_LIMIT_PER_HOUR
    assert call(auth_api.handler, api_event("signup", body={"email": "other@example.com"}))[0] == 202


def test_the_answer_is_the_same_for_known_and_unknown_addresses(aws, user, mailbox):
    a = call(auth_api.handler, api_event("magic_link", body={"email": user["email"]}))
    b = call(auth_api.handler, api_event("magic_link", body={"email": "unknown@example.com"}))
    assert a == b


# -- verify races: the transaction's own cancellation is the domain answer -------------
def test_concurrent_verifications_create_one_key(aws, mailbox, atomic_moto):
    call(auth_api.handler, api_event("signup", body={"email": "kim@example.com"}))
    token = mailbox.token("verify")
    threads = 16
    barrier = Barrier(threads)

    def verify(_):
        barrier.wait()
        return call(auth_api.handler, api_event("verify", query={"token": token}))

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(verify, range(threads)))
    assert sorted(s for s, _ in results) == [201] + [400] * (threads - 1)
    assert {b["error"] for s, b in results if s == 400} <= {"token_already_used", "invalid_token"}
    keys = [i for i in scan_all(aws, API_KEYS_TABLE) if i.get("key_hash")]
    assert len(keys) == 1


# -- failed collector messages ------------------------------------------------------------
def _sqs_event(body, *, message_id="m-1", receive_count=1, sent="1795000000000"):
    from .test_jobs import sqs_event

    event = sqs_event(body=body, message_id=message_id, receive_count=receive_count)
    if sent is None:
        del event["Records"][0]["attributes"]["SentTimestamp"]
    else:
        event["Records"][0]["attributes"]["SentTimestamp"] = sent
    return event


def _failed(aws):
    return [i for i in scan_all(aws, API_KEYS_TABLE) if i["pk"].startswith("FAILED#")]


@given(name=st.one_of(st.text(min_size=1, max_size=40), st.text(min_size=500, max_size=1500),
                      st.builds(lambda c, n: c * n, st.characters(), st.integers(min_value=1, max_value=3000))))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_name_is_stored_with_a_bounded_key_and_in_full(aws, name):
    from tests.runtime.dephealth.test_jobs import failed

    for item in scan_all(aws, API_KEYS_TABLE):  # hypothesis replays examples: start from an empty table
        aws.delete_item(TableName=API_KEYS_TABLE, Key=to_item({"pk": item["pk"], "sk": item["sk"]}))
    body = json.dumps({"ecosystem": "npm", "name": name, "last_updated": 7})
    message_id = f"m-{abs(hash(name))}"
    assert dlq.handler(_sqs_event(body, message_id=message_id), LambdaContext()) == {"batchItemFailures": []}
    [record] = [r for r in failed(aws) if r["message_id"] == message_id]
    assert len(record["pk"].encode()) <= len("FAILED#") + dlq.MAX_KEY_NAME_BYTES
    if all(not 0xD800 <= ord(c) <= 0xDFFF for c in name):
        assert record["name"] == name
        assert json.loads(record["original_message"])["name"] == name


def test_a_very_long_name_is_stored_on_the_first_receive(aws):
    name = "x" * 5000
    event = _sqs_event(json.dumps({"ecosystem": "npm", "name": name, "last_updated": "2026-01-01T00:00:00Z"}),
                       receive_count=3)
    assert dlq.handler(event, LambdaContext()) == {"batchItemFailures": []}
    [record] = _failed(aws)
    assert record["name"] == name and record["pk"].startswith("FAILED#xxxx") and "~" in record["pk"]
    assert record["pk"] == "FAILED#" + dlq.failed_key_name(name) and len(record["pk"].encode()) < 600
    assert record["last_error"].startswith("invalid message")


@pytest.mark.parametrize("drop", [[], ["SentTimestamp"], ["SentTimestamp", "ApproximateReceiveCount"],
                                  ["SentTimestamp", "ApproximateFirstReceiveTimestamp", "SenderId"]])
def test_a_redelivered_message_is_stored_once_whatever_its_attributes(aws, drop, monkeypatch):
    from lambda_src.common import clock

    event = _sqs_event("not json")
    ticks = iter(range(1795000000, 1795000100))
    monkeypatch.setattr(clock, "now", lambda: next(ticks) + 0.5)
    for _ in range(3):
        again = copy.deepcopy(event)
        for attribute in drop:
            again["Records"][0]["attributes"].pop(attribute, None)
        assert dlq.handler(again, LambdaContext()) == {"batchItemFailures": []}
    assert len(_failed(aws)) == 1


def test_a_message_with_lone_surrogates_or_deep_nesting_is_stored_not_retried_forever(aws):
    for i, body in enumerate(['{"ecosystem": "npm", "name": "a\\ud800b"}', "[" * 2000 + "]" * 2000,
                              '{"name": "' + "\ud800" + '"}']):
        assert dlq.handler(_sqs_event(body, message_id=f"m-{i}"), LambdaContext()) == {"batchItemFailures": []}
    assert len(_failed(aws)) == 3
    assert all(r["last_error"].startswith("invalid message") for r in _failed(aws))


def test_the_failed_sort_key_is_the_sent_timestamp(aws):
    dlq.handler(_sqs_event("nope", sent="1795000000123"), LambdaContext())
    [record] = _failed(aws)
    assert record["sk"] == "2026-11-18T11:06:40.123Z" and record["retry_count"] == 1
