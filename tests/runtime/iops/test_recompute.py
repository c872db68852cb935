"""The daily window recompute against moto tables built from the synthesized template."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lambda_src.common.requests import from_item, to_item
from lambda_src.iops import ingest, insights, metrics, recompute, schema, settings
from tests.runtime.iops.conftest import (
    INSIGHTS,
    METRICS,
    NOW,
    LambdaContext,
    ib_call,
    metrics_item,
    session,
    set_clock,
    sqs_event,
    stream_records,
)
from tools.bench.counting import count_requests

DAY = timedelta(days=1)
QUERIES_PER_RUN = 2 * len(schema.ENTITY_TYPES)  # two selections per entity type, one page each


def ingest_at(now, *bodies):
    set_clock(now)
    assert ingest.handler(sqs_event(*bodies), LambdaContext()) == {"batchItemFailures": []}


def run(aws, now, **kwargs):
    return recompute.run(aws, table=METRICS, now=now, **kwargs)


def windows(item) -> tuple:
    return tuple(item.get(name) for name in metrics.DERIVED)


def students(n, now=NOW):
    """``n`` students with a session today and one 5 days ago, ingested at ``now``."""
    for start in range(0, n, 10):
        ingest_at(now, *[session(f"s{i}-{d}", f"{(now - d * DAY).date()}T08:00:00Z", student_id=f"stu_{i:03d}")
                         for i in range(start, min(n, start + 10)) for d in (0, 5)])


def test_a_quiet_entitys_windows_decay_day_by_day(aws):
    ingest_at(NOW, session("a", "2026-11-22T08:00:00Z", rating=5), session("b", "2026-11-16T08:00:00Z", rating=4),
              ib_call("c", "2026-11-20T08:00:00Z"))
    item = metrics_item(aws, "stu_1")
    assert windows(item) == (2, 2, 2, 1, 1, 4.5, 91)  # 40 + 35 + 16

    assert run(aws, NOW + timedelta(hours=6))["written"] == 0  # updated today: nothing moved

    summary = run(aws, NOW + DAY)
    assert (summary["status"], summary["written"]) == ("complete", 1)
    item = metrics_item(aws, "stu_1")
    assert windows(item) == (1, 2, 2, 1, 1, 4.5, 20 + 35 + 16)  # 11-16 left the 7-day window
    assert item["last_updated"] == "2026-11-22T12:00:00Z"  # the last event, not the recompute
    assert item["version"] == 2

    run(aws, NOW + 7 * DAY)  # 11-29: [11-23, 11-29] holds nothing
    assert windows(metrics_item(aws, "stu_1")) == (0, 2, 2, 0, 1, 4.5, 0 + 35 + 20)

    run(aws, NOW + 31 * DAY)  # 12-23: [11-24, 12-23] holds nothing either
    item = metrics_item(aws, "stu_1")
    assert windows(item) == (0, 0, 0, 0, 0, None, 40)  # no rating in 30 days: the neutral 20
    assert "avg_rating" not in item and metrics.decode_days(item["days"]) == {}
    assert item["last_updated"] == "2026-11-22T12:00:00Z"

    with count_requests(aws) as counter:  # 32 days on: settled, and filtered out of the older tier
        summary = run(aws, NOW + 32 * DAY)
    assert (summary["read"], summary["written"]) == (0, 0)
    assert dict(counter.by_operation) == {"Query": QUERIES_PER_RUN}


def test_a_second_run_on_the_same_day_writes_nothing(aws):
    students(12)
    ingest_at(NOW, session("t", "2026-11-17T09:00:00Z", tutor_id="tut_1", subject_id="sub_math", region_id="reg_emea"),
              ib_call("u", "2026-11-18T09:00:00Z", tutor_id="tut_1"))
    later = NOW + 3 * DAY
    with count_requests(aws) as first:
        summary = run(aws, later)
    assert summary["written"] == 15 and summary["status"] == "complete"
    assert dict(first.by_operation) == {"Query": QUERIES_PER_RUN, "PutItem": 15}  # never a Scan
    before = {(i, t): metrics_item(aws, i, t) for i, t in [(f"stu_{n:03d}", "student") for n in range(12)]
              + [("tut_1", "tutor"), ("sub_math", "subject"), ("reg_emea", "region")]}

    with count_requests(aws) as second:
        summary = run(aws, later + timedelta(hours=5))
    assert dict(second.by_operation) == {"Query": QUERIES_PER_RUN}  # zero writes, zero reads by key
    assert (summary["written"], summary["unchanged"], summary["read"]) == (0, 15, 15)
    assert all(metrics_item(aws, i, t) == item for (i, t), item in before.items())


def test_a_concurrent_ingest_wins_and_keeps_its_counts(aws, monkeypatch):
    ingest_at(NOW, session("a", "2026-11-16T08:00:00Z"), session("b", "2026-11-22T08:00:00Z"))
    later = NOW + DAY
    real_put = aws.put_item
    puts = []

    def racing_put(**kwargs):
        puts.append(kwargs["Item"]["entity_id"]["S"])
        if len(puts) == 1:  # an event lands between the recompute's read and its write
            event = ingest.parse_event(session("c", "2026-11-23T09:00:00Z"), now=later)
            ingest.apply_events(aws, METRICS, [event], "stu_1", "student", later)
        return real_put(**kwargs)

    monkeypatch.setattr(aws, "put_item", racing_put)
    summary = run(aws, later)
    monkeypatch.setattr(aws, "put_item", real_put)  # the fault ends; the environment stays
    assert summary["races"] == 1
    # After re-reading, the item is the ingest's, already current today: nothing to write.
    assert (summary["written"], summary["unchanged"]) == (0, 1)
    item = metrics_item(aws, "stu_1")
    assert (item["sessions_7d"], item["sessions_14d"]) == (2, 3)  # 11-22 and 11-23; 11-16 in 14 d
    assert item["version"] == 2 and item["last_updated"] == "2026-11-23T12:00:00Z"


def test_a_stale_index_copy_is_read_again_and_recomputed(aws):
    ingest_at(NOW, session("a", "2026-11-16T08:00:00Z"))
    stale = metrics_item(aws, "stu_1")
    ingest_at(NOW + DAY, session("b", "2026-11-23T08:00:00Z"))  # the base item moved on
    outcome = recompute.recompute_item(aws, METRICS, stale, NOW + 8 * DAY)  # 11-30
    assert outcome == ("written", 1)
    item = metrics_item(aws, "stu_1")
    assert (item["sessions_7d"], item["sessions_14d"], item["sessions_30d"]) == (0, 1, 2)
    assert item["version"] == 3


def test_an_item_deleted_meanwhile_is_not_recreated(aws):
    ingest_at(NOW, session("a", "2026-11-16T08:00:00Z"))
    item = metrics_item(aws, "stu_1")
    aws.delete_item(TableName=METRICS, Key=to_item({"entity_id": "stu_1", "entity_type": "student"}))
    assert recompute.recompute_item(aws, METRICS, item, NOW + DAY) == ("gone", 1)
    assert metrics_item(aws, "stu_1") == {}


def test_pages_through_every_selection(aws):
    students(25)
    with count_requests(aws) as counter:
        summary = run(aws, NOW + 6 * DAY, page_size=4)  # each student's older session leaves 7 d
    assert (summary["written"], summary["read"], summary["status"]) == (25, 25, "complete")
    # 25 students in pages of 4: 7 pages; 1 page for each other selection
    assert dict(counter.by_operation) == {"Query": 7 + QUERIES_PER_RUN - 1, "PutItem": 25}
    assert summary["pages"] == 7 + QUERIES_PER_RUN - 1
    assert {metrics_item(aws, f"stu_{n:03d}")["sessions_7d"] for n in range(25)} == {1}


class Deadline:
    """``time_left_ms`` that has plenty for ``calls`` checks, then nothing."""

    def __init__(self, calls):
        self.calls = calls

    def __call__(self):
        self.calls -= 1
        return 10**6 if self.calls >= 0 else 0


def test_stops_before_the_deadline_and_the_next_run_resumes(aws):
    students(25)
    later = NOW + 6 * DAY
    first = run(aws, later, page_size=4, time_left_ms=Deadline(12))
    assert first["status"] == "stopped" and first["stopped_at"] == "recent student"
    assert 0 < first["written"] < 25 and first["deferred"] > 0
    assert first["written"] + first["deferred"] == first["read"]

    with count_requests(aws) as counter:
        second = run(aws, later, page_size=4)
    assert second["status"] == "complete"
    assert (second["written"], second["unchanged"]) == (25 - first["written"], first["written"])
    assert counter.by_operation["PutItem"] == 25 - first["written"]
    assert run(aws, later)["written"] == 0
    assert {metrics_item(aws, f"stu_{n:03d}")["sessions_7d"] for n in range(25)} == {1}


def test_no_time_left_means_no_request(aws):
    students(3)
    with count_requests(aws) as counter:
        summary = run(aws, NOW + DAY, time_left_ms=lambda: recompute.SAFETY_MS - 1)
    assert summary["status"] == "stopped" and counter.total == 0


def test_older_entities_whose_windows_are_not_yet_zero_are_caught_up(aws):
    # Went quiet 40 days ago while the job did not run: still shows its old windows.
    ingest_at(NOW - 40 * DAY, session("old", f"{(NOW - 40 * DAY).date()}T08:00:00Z", student_id="stu_old"))
    # Went quiet 50 days ago and was zeroed by a run on its 31st quiet day; then
    # the job did not run for 19 days, past stu_old's 31st quiet day.
    ingest_at(NOW - 50 * DAY, session("older", f"{(NOW - 50 * DAY).date()}T08:00:00Z", student_id="stu_done"))
    run(aws, NOW - 19 * DAY)
    assert metrics_item(aws, "stu_done")["sessions_30d"] == 0
    # Not written by ingest (no day buckets): nothing to slide, left alone.
    foreign = {"entity_id": "stu_foreign", "entity_type": "student", "sessions_7d": 3, "sessions_30d": 5,
               "health_score": 88, "last_updated": "2026-09-01T00:00:00Z"}
    aws.put_item(TableName=METRICS, Item=to_item(foreign))
    assert metrics_item(aws, "stu_old")["sessions_30d"] == 1

    summary = run(aws, NOW)
    assert (summary["read"], summary["written"], summary["skipped"]) == (2, 1, 1)  # stu_done filtered out
    assert windows(metrics_item(aws, "stu_old")) == (0, 0, 0, 0, 0, None, 40)
    assert metrics_item(aws, "stu_foreign") == foreign
    assert run(aws, NOW)["written"] == 0


def test_an_event_from_just_after_midnight_is_counted_the_next_day(aws):
    late = datetime(2026, 11, 22, 23, 58, tzinfo=UTC)
    ingest_at(late, session("early", "2026-11-23T00:02:00Z"))  # within the 5-minute skew
    assert metrics_item(aws, "stu_1")["sessions_7d"] == 0  # 11-23 is not yet in the window
    run(aws, late + timedelta(minutes=17))
    assert metrics_item(aws, "stu_1")["sessions_7d"] == 1


def test_concurrent_workers_give_the_same_result(aws):
    students(20)
    summary = run(aws, NOW + 6 * DAY, page_size=7, workers=4)
    assert (summary["written"], summary["failed"]) == (20, 0)
    assert {metrics_item(aws, f"stu_{n:03d}")["sessions_7d"] for n in range(20)} == {1}
    assert run(aws, NOW + 6 * DAY, workers=4)["written"] == 0


def test_a_drop_below_70_by_recompute_produces_a_churn_insight(aws, alerts):
    ingest_at(NOW, session("a", "2026-11-22T08:00:00Z"), session("b", "2026-11-22T09:00:00Z"))
    assert metrics_item(aws, "stu_1")["health_score"] == 100
    run(aws, NOW + 7 * DAY)  # no session in [11-23, 11-29]: 0 + 40 (ratings of 5) + 20
    run(aws, NOW + 7 * DAY)  # the same day again: no write, so no second stream record
    assert metrics_item(aws, "stu_1")["health_score"] == 60

    records = stream_records()
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    assert insights.handler({"Records": records}, LambdaContext()) == {"batchItemFailures": []}
    found = [from_item(i) for i in aws.query(
        TableName=INSIGHTS, KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues=to_item({":pk": "insight#stu_1"}))["Items"]]
    assert [(i["prediction_type"], i["risk_score"]) for i in found] == [("churn_risk", 50 + 2 * (70 - 60))]
    assert found[0]["explanation"].startswith("Health score fell from 100 to 60")
    assert "0 sessions in 7 days" in found[0]["explanation"]
    assert len(alerts.messages()) == 1


def recompute_at(now, context=None):
    """The deployed handler, its clock at ``now``."""
    set_clock(now)
    return recompute.handler({"source": "aws.events"}, context or LambdaContext())


def test_handler_runs_a_pass_with_the_deployed_settings(aws, monkeypatch):
    monkeypatch.setattr("lambda_src.common.aws_clients.dynamodb", lambda: aws)
    students(3)
    summary = recompute_at(NOW + 6 * DAY)
    assert (summary["status"], summary["written"]) == ("complete", 3)
    assert recompute_at(NOW + 6 * DAY)["written"] == 0


def test_handler_fails_after_the_pass_when_an_item_cannot_be_written(aws, monkeypatch):
    students(3)
    real_put = aws.put_item

    def put(**kwargs):
        if kwargs["Item"]["entity_id"]["S"] == "stu_001":
            raise RuntimeError("throttled")
        return real_put(**kwargs)

    monkeypatch.setattr("lambda_src.common.aws_clients.dynamodb", lambda: aws)
    monkeypatch.setattr(aws, "put_item", put)
    with pytest.raises(RuntimeError, match="1 item"):
        recompute_at(NOW + 6 * DAY)
    monkeypatch.setattr(aws, "put_item", real_put)  # the fault ends; the environment stays
    assert [metrics_item(aws, f"stu_{n:03d}")["sessions_7d"] for n in range(3)] == [1, 2, 1]
    # Lambda's retry (or tomorrow's run) finishes the job and rewrites nothing else.
    assert run(aws, NOW + 6 * DAY)["written"] == 1


def test_handler_returns_stopped_when_invoked_too_close_to_its_deadline(aws, monkeypatch):
    monkeypatch.setattr("lambda_src.common.aws_clients.dynamodb", lambda: aws)
    students(2)
    summary = recompute_at(NOW + 6 * DAY, LambdaContext(remaining_ms=recompute.SAFETY_MS - 1))
    assert (summary["status"], summary["stopped_at"], summary["read"]) == ("stopped", "recent student", 0)
    assert recompute_at(NOW + 6 * DAY)["written"] == 2


def test_handler_without_its_table_variable_fails_before_any_request(aws, monkeypatch):
    monkeypatch.setattr("lambda_src.common.aws_clients.dynamodb", lambda: aws)
    students(2)
    monkeypatch.delenv("METRICS_TABLE")
    with count_requests(aws) as counter, pytest.raises(settings.MissingSetting, match="METRICS_TABLE"):
        recompute_at(NOW + 6 * DAY)
    assert counter.total == 0
