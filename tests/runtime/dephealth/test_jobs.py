"""Collector queue processor, monthly reset and the GitHub budget counters."""

from __future__ import annotations

import copy
import json

import pytest

from lambda_src.common import clock
from lambda_src.common.aws_clients import dynamodb
from lambda_src.dephealth import dlq, monthly_reset, rate_limits
from lambda_src.dephealth.schema import API_KEYS

from .conftest import API_KEYS_TABLE, PACKAGES_TABLE, LambdaContext, load_event, put, scan_all


def sqs_event(*, receive_count: int = 1, body=None, message_id: str | None = None) -> dict:
    event = load_event("sqs_collector")
    record = event["Records"][0]
    record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    if body is not None:
        record["body"] = body if isinstance(body, str) else json.dumps(body)
    if message_id:
        record["messageId"] = message_id
    return event


def failed(aws):
    return [i for i in scan_all(aws, API_KEYS_TABLE) if i["pk"].startswith("FAILED#")]


def markers(aws):
    return [i for i in scan_all(aws, API_KEYS_TABLE) if i["pk"].startswith("FAILED_MESSAGE#")]


@pytest.fixture
def broken_collector(monkeypatch):
    def fail(client, message):
        raise TimeoutError("upstream registry timed out")

    monkeypatch.setattr(dlq.collector, "apply", fail)


def test_a_good_message_updates_the_package(aws):
    assert dlq.handler(sqs_event(), LambdaContext()) == {"batchItemFailures": []}
    [item] = scan_all(aws, PACKAGES_TABLE)
    assert item["pk"] == "npm#left-pad" and item["risk_level"] == "high" and item["name"] == "left-pad"
    assert failed(aws) == []


def test_a_record_without_sent_timestamp_is_stored_at_the_current_time(aws, broken_collector):
    event = sqs_event(receive_count=3)
    del event["Records"][0]["attributes"]["SentTimestamp"]
    before = clock.iso_millis()
    assert dlq.handler(event, LambdaContext()) == {"batchItemFailures": []}
    [record] = failed(aws)
    assert before <= record["sk"] <= clock.iso_millis()


def test_an_older_message_never_rolls_a_record_back(aws):
    dlq.handler(sqs_event(), LambdaContext())
    old = {"ecosystem": "npm", "name": "left-pad", "risk_level": "low", "last_updated": "2020-01-01T00:00:00Z"}
    assert dlq.handler(sqs_event(body=old, message_id="m-old"), LambdaContext()) == {"batchItemFailures": []}
    assert scan_all(aws, PACKAGES_TABLE)[0]["risk_level"] == "high"


def test_transient_failures_are_retried_then_stored_once(aws, broken_collector):
    for attempt in (1, 2):
        response = dlq.handler(sqs_event(receive_count=attempt), LambdaContext())
        assert response == {"batchItemFailures": [{"itemIdentifier": "059f36b4-87a3-44ab-83d2-661975830a7d"}]}
        assert failed(aws) == []
    assert dlq.handler(sqs_event(receive_count=3), LambdaContext()) == {"batchItemFailures": []}
    [record] = failed(aws)
    assert record["pk"] == "FAILED#left-pad" and record["sk"] == "2026-11-18T11:06:40.000Z"
    assert record["retry_count"] == 3 and "timed out" in record["last_error"]
    assert (record["ecosystem"], record["name"]) == ("npm", "left-pad")
    assert record["message_id"] == "059f36b4-87a3-44ab-83d2-661975830a7d"
    assert json.loads(record["original_message"]) == json.loads(sqs_event()["Records"][0]["body"])
    assert record["failed_at"].endswith("Z") and record["failed_at"][:4] == clock.iso_millis()[:4]
    assert 89 * 86400 < record["ttl"] - clock.now() <= 90 * 86400


def test_a_duplicate_delivery_stores_one_record(aws, broken_collector):
    event = sqs_event(receive_count=3)
    dlq.handler(event, LambdaContext())
    dlq.handler(copy.deepcopy(event), LambdaContext())
    twice = sqs_event(receive_count=4)
    twice["Records"].append(copy.deepcopy(twice["Records"][0]))
    assert dlq.handler(twice, LambdaContext()) == {"batchItemFailures": []}
    assert len(failed(aws)) == 1


def test_two_messages_in_the_same_millisecond_both_survive(aws, broken_collector):
    dlq.handler(sqs_event(receive_count=3), LambdaContext())
    dlq.handler(sqs_event(receive_count=3, message_id="another-message"), LambdaContext())
    assert sorted(r["message_id"] for r in failed(aws)) == ["059f36b4-87a3-44ab-83d2-661975830a7d",
                                                            "another-message"]


@pytest.mark.parametrize("body", ["not json", json.dumps([1, 2]), json.dumps({"ecosystem": "npm"})])
def test_an_invalid_message_is_stored_at_once(aws, body):
    assert dlq.handler(sqs_event(body=body), LambdaContext()) == {"batchItemFailures": []}
    [record] = failed(aws)
    assert record["last_error"].startswith("invalid message") and record["retry_count"] == 1
    assert record["original_message"] == body


# -- monthly reset ---------------------------------------------------------------
def _users(aws, n: int, used: int = 5) -> None:
    for i in range(n):
        put(aws, API_KEYS_TABLE, {"pk": f"user_{i:04d}", "sk": f"key{i:04d}", "key_hash": f"key{i:04d}",
                                  "tier": "free", "requests_this_month": used})
    put(aws, API_KEYS_TABLE, {"pk": "user_pending", "sk": "PENDING", "email": "p@example.com"})
    put(aws, API_KEYS_TABLE, {"pk": "demo#1.2.3.4", "sk": "hour#2026-11-22T10", "count": 3})


def _usage(aws) -> dict:
    return {i["pk"]: i.get("requests_this_month") for i in scan_all(aws, API_KEYS_TABLE)
            if i["pk"].startswith("user_") and i["sk"] != "PENDING"}


def _state(aws) -> dict:
    return next(i for i in scan_all(aws, API_KEYS_TABLE) if i["pk"] == "SYSTEM#RESET_STATE")


def test_monthly_reset_zeroes_every_user_once(aws):
    _users(aws, 20)
    result = monthly_reset.run(dynamodb(), month="2026-12", page_size=7)
    assert result == {"month": "2026-12", "status": "complete", "users_reset": 20}
    assert set(_usage(aws).values()) == {0}
    assert _state(aws)["status"] == "complete" and _state(aws)["users_reset"] == 20
    again = monthly_reset.run(dynamodb(), month="2026-12")
    assert again["skipped"] and again["users_reset"] == 0


@pytest.mark.parametrize("crash_after", [3, 7, 10, 12, 18])
def test_a_crashed_reset_resumes_and_counts_exactly(aws, monkeypatch, crash_after):
    """A crash anywhere, mid-page included: the resumed run finishes, nobody is reset twice,
    and the checkpoint's users_reset is exactly the number of users reset this month."""
    _users(aws, 20)
    real = monthly_reset._reset_user
    calls = {"n": 0}

    def crash(client, key, month):
        calls["n"] += 1
        if calls["n"] > crash_after:
            raise RuntimeError("Lambda timed out")
        return real(client, key, month)

    monkeypatch.setattr(monthly_reset, "_reset_user", crash)
    with pytest.raises(RuntimeError):
        monthly_reset.run(dynamodb(), month="2026-12", page_size=5)
    state = _state(aws)
    assert state["status"] == "in_progress"
    checkpointed = state["users_reset"]
    # Users reset before the crash must not be zeroed a second time.
    reset_already = [pk for pk, used in _usage(aws).items() if used == 0]
    assert len(reset_already) == crash_after
    for pk in reset_already:
        aws.update_item(TableName=API_KEYS_TABLE, Key={"pk": {"S": pk}, "sk": {"S": "key" + pk[5:]}},
                        UpdateExpression="SET requests_this_month = :n", ExpressionAttributeValues={":n": {"N": "2"}})
    monkeypatch.setattr(monthly_reset, "_reset_user", real)
    resumed = monthly_reset.run(dynamodb(), month="2026-12", page_size=5)
    assert resumed["status"] == "complete"
    usage = _usage(aws)
    assert all(usage[pk] == 2 for pk in reset_already) and sum(v == 0 for v in usage.values()) == 20 - crash_after
    assert _state(aws)["users_reset"] == 20 == checkpointed + resumed["users_reset"]


def test_overlapping_runs_count_each_page_once(aws, atomic_moto):
    """Two runs racing through the same month (real threads): every user reset once, counted once."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    _users(aws, 30)
    barrier = Barrier(2)

    def sweep(_):
        barrier.wait()
        return monthly_reset.run(dynamodb(), month="2027-02", page_size=3)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(sweep, range(2)))
    if _state(aws)["status"] != "complete":
        monthly_reset.run(dynamodb(), month="2027-02", page_size=3)
    assert _state(aws)["users_reset"] == 30 and set(_usage(aws).values()) == {0}


def test_a_run_short_of_time_pauses_and_the_next_one_finishes(aws):
    _users(aws, 12)
    paused = monthly_reset.run(dynamodb(), month="2027-01", page_size=4, time_left_ms=lambda: 0)
    assert paused["status"] == "in_progress" and paused["users_reset"] < 12
    done = monthly_reset.run(dynamodb(), month="2027-01", page_size=4)
    assert done["status"] == "complete" and paused["users_reset"] + done["users_reset"] == 12


def test_the_next_month_starts_over(aws):
    _users(aws, 3)
    monthly_reset.run(dynamodb(), month="2026-12")
    aws.update_item(TableName=API_KEYS_TABLE, Key={"pk": {"S": "user_0000"}, "sk": {"S": "key0000"}},
                    UpdateExpression="SET requests_this_month = :n", ExpressionAttributeValues={":n": {"N": "9"}})
    assert monthly_reset.run(dynamodb(), month="2027-01")["users_reset"] == 3
    assert _usage(aws)["user_0000"] == 0


def test_reset_handler_runs_on_the_scheduled_event(aws):
    _users(aws, 2)
    result = monthly_reset.handler(load_event("scheduled_reset"), LambdaContext())
    assert result["status"] == "complete" and result["users_reset"] == 2


# -- GitHub budget -----------------------------------------------------------------
def test_github_budget_is_summed_over_shards(aws):
    for shard in (0, 3, 3, 9):
        rate_limits.github_consume(dynamodb(), 10, shard=shard)
    for _ in range(20):
        rate_limits.github_consume(dynamodb())
    assert rate_limits.github_used(dynamodb()) == 60
    assert rate_limits.github_remaining(dynamodb()) == 5000 - 60
    shards = [i for i in scan_all(aws, API_KEYS_TABLE) if i["pk"].startswith("github_rate_limit#")]
    assert len(shards) > 3 and all(i["sk"] == clock.hour() and i["ttl"] > clock.now() for i in shards)
    assert API_KEYS.pattern("github-budget-shard").partition.prefix == "github_rate_limit#"
