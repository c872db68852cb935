"""Metric ingest against moto tables built from the synthesized template."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_src.iops import ingest, metrics
from lambda_src.iops.settings import MissingSetting
from tests.runtime.iops.conftest import (
    METRICS,
    NOW,
    LambdaContext,
    ib_call,
    metrics_item,
    session,
    set_clock,
    sqs_event,
)


def handle(event, now=NOW):
    set_clock(now)
    return ingest.handler(event, LambdaContext())


def run(*bodies, now=NOW):
    return handle(sqs_event(*bodies), now)


def count_once(client, event, entity_id, entity_type):
    """Count ``event`` on one entity item alone, as another delivery (or a crashed one) would."""
    return ingest.apply_events(client, METRICS, [event], entity_id, entity_type, NOW)


def test_session_updates_every_named_entity(aws):
    result = run(session("e1", rating=4, student_id="stu_1", tutor_id="tut_1",
                         subject_id="sub_math", region_id="reg_emea"))
    assert result == {"batchItemFailures": []}
    for entity_id, entity_type in (("stu_1", "student"), ("tut_1", "tutor"),
                                   ("sub_math", "subject"), ("reg_emea", "region")):
        item = metrics_item(aws, entity_id, entity_type)
        assert item["sessions_7d"] == item["sessions_14d"] == item["sessions_30d"] == 1
        assert item["ib_calls_7d"] == item["ib_calls_14d"] == 0
        assert item["avg_rating"] == 4
        assert item["last_updated"] == "2026-11-22T12:00:00Z"
        assert 0 <= item["health_score"] <= 100


def test_window_boundaries_are_whole_utc_days(aws):
    day = lambda n, clock="00:00:00": f"{(NOW - timedelta(days=n)).date()}T{clock}Z"  # noqa: E731
    run(
        session("s-today", day(0, "11:59:59")),
        session("s-6", day(6, "00:00:00")),    # oldest day inside 7d
        session("s-7", day(7, "23:59:59")),    # newest day outside 7d, inside 14d
        session("s-13", day(13)),              # oldest day inside 14d
        session("s-14", day(14, "23:59:59")),  # outside 14d, inside 30d
        session("s-29", day(29)),              # oldest day inside 30d
        ib_call("i-6", day(6)),
        ib_call("i-7", day(7)),
        ib_call("i-13", day(13)),
        ib_call("i-14", day(14)),
    )
    item = metrics_item(aws, "stu_1")
    assert (item["sessions_7d"], item["sessions_14d"], item["sessions_30d"]) == (2, 4, 6)
    assert (item["ib_calls_7d"], item["ib_calls_14d"]) == (1, 3)


def test_event_older_than_30_days_is_acknowledged_without_a_write(aws):
    old = f"{(NOW - timedelta(days=30)).date()}T23:59:59Z"
    assert run(session("ancient", old)) == {"batchItemFailures": []}
    assert metrics_item(aws, "stu_1") == {}


def test_windows_slide_when_time_passes(aws):
    run(session("a", "2026-11-16T08:00:00Z"), session("b", "2026-11-22T08:00:00Z"))
    assert metrics_item(aws, "stu_1")["sessions_7d"] == 2
    run(session("c", "2026-11-23T08:00:00Z"), now=NOW + timedelta(days=1))
    item = metrics_item(aws, "stu_1")
    assert (item["sessions_7d"], item["sessions_14d"]) == (2, 3)  # 11-16 left the 7-day window
    assert "2026-11-16" in metrics.decode_days(item["days"])
    run(session("d", "2026-12-23T08:00:00Z"), now=NOW + timedelta(days=31))
    item = metrics_item(aws, "stu_1")
    assert sorted(metrics.decode_days(item["days"])) == ["2026-12-23"]  # buckets past 30 days are pruned
    assert item["sessions_30d"] == 1


def test_redelivered_event_is_not_counted_twice(aws):
    event = session("dup", rating=2, student_id="stu_1", tutor_id="tut_1")
    run(event)
    first = metrics_item(aws, "stu_1")
    assert run(event, event) == {"batchItemFailures": []}  # the same message, twice more
    again = metrics_item(aws, "stu_1")
    assert again["sessions_7d"] == 1 and again["avg_rating"] == 2
    assert again["version"] == first["version"]  # no write at all
    assert metrics_item(aws, "tut_1", "tutor")["sessions_7d"] == 1


def test_partial_earlier_delivery_is_completed_by_redelivery(aws):
    # A crash after the student item was written but before the tutor item.
    event = session("half", student_id="stu_1", tutor_id="tut_1")
    parsed = ingest.parse_event(event, now=NOW)
    count_once(aws, parsed, "stu_1", "student")
    run(event)
    assert metrics_item(aws, "stu_1")["sessions_7d"] == 1
    assert metrics_item(aws, "tut_1", "tutor")["sessions_7d"] == 1


def test_ratings_average_and_health_score(aws):
    run(session("r1", rating=5), session("r2", rating=2), session("r3", rating=3.5),
        ib_call("c1"), ib_call("c2"))
    item = metrics_item(aws, "stu_1")
    assert item["avg_rating"] == 3.5
    # activity 40*min(1, 3/2) + rating 40*(3.5-1)/4 + support 20*(1-2/5)
    assert item["health_score"] == round(40 + 25 + 12)


@pytest.mark.parametrize("entity_type,s7,ib7,rating,expected", [
    ("student", 0, 0, None, 40),
    ("student", 2, 0, 5, 100),
    ("student", 1, 5, 1, 20),
    ("student", 0, 9, 1, 0),
    ("tutor", 5, 1, 4.5, 20 + 35 + 16),
    ("region", 400, 200, 3, 40 + 20),
])
def test_health_score_formula(entity_type, s7, ib7, rating, expected):
    assert metrics.health_score(entity_type, s7, ib7, rating) == expected


def test_lost_write_race_is_retried(aws, monkeypatch):
    run(session("first"))
    real_put = aws.put_item
    calls = {"n": 0}

    def racing_put(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:  # another writer commits between our read and our write
            count_once(aws, ingest.parse_event(session("other"), now=NOW), "stu_1", "student")
        return real_put(**kwargs)

    monkeypatch.setattr("lambda_src.common.aws_clients.dynamodb", lambda: aws)
    monkeypatch.setattr(aws, "put_item", racing_put)
    run(session("second"))
    monkeypatch.setattr(aws, "put_item", real_put)  # the fault ends; the environment stays
    assert calls["n"] == 3  # ours (lost the race), the other writer's, ours again after a re-read
    assert metrics_item(aws, "stu_1")["sessions_7d"] == 3


MALFORMED = [
    "not json",
    json.dumps([1, 2]),
    json.dumps({"type": "ib_call", "timestamp": "2026-11-22T10:00:00Z", "student_id": "s"}),
    json.dumps({"event_id": "x", "type": "refund", "timestamp": "2026-11-22T10:00:00Z", "student_id": "s"}),
    json.dumps({"event_id": "x", "type": "ib_call", "timestamp": "yesterday", "student_id": "s"}),
    json.dumps({"event_id": "x", "type": "ib_call", "timestamp": "2026-11-22T10:00:00", "student_id": "s"}),
    json.dumps({"event_id": "x", "type": "ib_call", "timestamp": "2026-11-23T10:00:00Z", "student_id": "s"}),
    json.dumps({"event_id": "x", "type": "ib_call", "timestamp": "2026-11-22T10:00:00Z"}),
    json.dumps({"event_id": "x", "type": "ib_call", "timestamp": "2026-11-22T10:00:00Z", "student_id": 7}),
    json.dumps({"event_id": "x", "type": "session_completed", "timestamp": "2026-11-22T10:00:00Z",
                "student_id": "s"}),
    json.dumps({"event_id": "x", "type": "session_completed", "timestamp": "2026-11-22T10:00:00Z",
                "student_id": "s", "rating": 9}),
    json.dumps({"event_id": "x", "type": "session_completed", "timestamp": "2026-11-22T10:00:00Z",
                "student_id": "s", "rating": True}),
]


def test_malformed_events_are_batch_item_failures_not_crashes(aws):
    event = sqs_event(session("good-1"), *MALFORMED, ib_call("good-2"))
    result = handle(event)
    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    ids = [r["messageId"] for r in event["Records"]]
    assert failed == set(ids[1:-1])
    item = metrics_item(aws, "stu_1")
    assert (item["sessions_7d"], item["ib_calls_7d"]) == (1, 1)


def test_a_batch_of_only_malformed_events_reports_every_record(aws):
    event = sqs_event("{", "[]")
    result = handle(event)
    assert len(result["batchItemFailures"]) == 2


def test_a_batch_reads_and_writes_each_entity_once(aws, monkeypatch):
    from tools.bench.counting import count_requests

    monkeypatch.setattr("lambda_src.common.aws_clients.dynamodb", lambda: aws)
    with count_requests(aws) as counter:
        result = run(*[session(f"b{n}", student_id="stu_1", tutor_id=f"tut_{n % 2}") for n in range(10)],
                     session("b0", student_id="stu_1", tutor_id="tut_0"))  # a duplicate in the batch
    assert result == {"batchItemFailures": []}
    assert dict(counter.by_operation) == {"GetItem": 3, "PutItem": 3}
    assert metrics_item(aws, "stu_1")["sessions_7d"] == 10
    assert metrics_item(aws, "tut_0", "tutor")["sessions_7d"] == 5


def test_a_failed_entity_write_fails_exactly_its_messages(aws, monkeypatch):
    real_put = aws.put_item

    def put(**kwargs):
        if kwargs["Item"]["entity_id"]["S"] == "tut_bad":
            raise RuntimeError("throttled")
        return real_put(**kwargs)

    monkeypatch.setattr("lambda_src.common.aws_clients.dynamodb", lambda: aws)
    monkeypatch.setattr(aws, "put_item", put)
    event = sqs_event(session("ok", student_id="stu_1", tutor_id="tut_ok"),
                      session("bad", student_id="stu_1", tutor_id="tut_bad"))
    result = handle(event)
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    monkeypatch.setattr(aws, "put_item", real_put)  # the fault ends; the environment stays
    assert metrics_item(aws, "stu_1")["sessions_7d"] == 2
    run(session("bad", student_id="stu_1", tutor_id="tut_bad"))  # the re-delivery
    assert metrics_item(aws, "stu_1")["sessions_7d"] == 2
    assert metrics_item(aws, "tut_bad", "tutor")["sessions_7d"] == 1


def test_an_item_without_a_version_is_updated_not_retried_forever(aws):
    # The sample data (and anything else not written by ingest) has no version
    # attribute: the first ingest write takes it over instead of losing 5 races.
    from lambda_src.common.requests import to_item
    from lambda_src.iops import schema

    sample = next(i for i in schema.METRICS.examples if i["entity_id"] == "stu_4532")
    aws.put_item(TableName=METRICS, Item=to_item(sample))
    assert run(session("x", student_id="stu_4532")) == {"batchItemFailures": []}
    item = metrics_item(aws, "stu_4532")
    assert item["version"] == 1 and item["sessions_7d"] == 1  # windows derive from the day buckets


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.integers(min_value=0, max_value=29), second=st.integers(min_value=0, max_value=29),
       kind=st.sampled_from(["session", "ib_call"]))
def test_an_event_id_counts_once_whatever_its_timestamp(aws, monkeypatch, first, second, kind):
    """The same event id re-sent dated on another day (any two days in the window) counts once,
    with no request beyond the read the write needs."""
    from tools.bench.counting import count_requests

    aws.delete_item(TableName=METRICS, Key={"entity_id": {"S": "stu_1"}, "entity_type": {"S": "student"}})
    monkeypatch.setattr("lambda_src.common.aws_clients.dynamodb", lambda: aws)
    make = session if kind == "session" else ib_call
    day = lambda n: f"{(NOW - timedelta(days=n)).date()}T08:00:00Z"  # noqa: E731
    run(make("same-id", day(first)))
    before = metrics_item(aws, "stu_1")
    with count_requests(aws) as counter:
        assert run(make("same-id", day(second))) == {"batchItemFailures": []}
    assert dict(counter.by_operation) == {"GetItem": 1}
    after = metrics_item(aws, "stu_1")
    assert after["version"] == before["version"]
    field = "sessions_30d" if kind == "session" else "ib_calls_14d"
    assert after[field] == before[field] == (1 if kind == "session" or first < 14 else 0)


def test_an_id_repeated_in_one_batch_on_two_days_counts_once(aws):
    run(session("twice", "2026-11-20T08:00:00Z"), session("twice", "2026-11-21T08:00:00Z"))
    assert metrics_item(aws, "stu_1")["sessions_7d"] == 1


@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_missing_table_variable_fails_before_any_record_is_read(aws, monkeypatch, value):
    from tools.bench.counting import count_requests

    monkeypatch.setattr("lambda_src.common.aws_clients.dynamodb", lambda: aws)
    if value is None:
        monkeypatch.delenv("METRICS_TABLE")
    else:
        monkeypatch.setenv("METRICS_TABLE", value)
    with count_requests(aws) as counter, pytest.raises(MissingSetting, match="METRICS_TABLE"):
        run(session("e1"))
    assert counter.total == 0
    assert metrics_item(aws, "stu_1") == {}  # nothing written, to the dev table or any other
