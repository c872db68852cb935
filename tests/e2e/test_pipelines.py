"""Queues, streams, schedules and TTL as deployed: messages in, records out, through the event source mappings."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest

from tests.e2e.conftest import eventually
from tools.local import invoke

pytestmark = pytest.mark.e2e


def _table(deployment, alias_prefix: str) -> str:
    return next(t.name for t in deployment.tables if t.spec is not None and t.spec.alias.startswith(alias_prefix))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_iops_queue_to_metrics_to_stream_to_insight(deployment, aws):
    """Sessions lift a student above 70; IB calls drop them below: the stream consumer writes churn_risk."""
    sqs, ddb = aws("sqs"), aws("dynamodb")
    queue = deployment.queue_url("IngestQueue")
    metrics = _table(deployment, "iops.metrics")
    insights = _table(deployment, "iops.insights")
    student = f"stu_e2e_{uuid.uuid4().hex[:6]}"

    def send(kind: str, n: int, **extra) -> None:
        entries = [{"Id": str(i), "MessageBody": json.dumps(
            {"event_id": f"{student}-{kind}-{i}", "type": kind, "timestamp": _now(), "student_id": student, **extra})}
            for i in range(n)]
        assert not sqs.send_message_batch(QueueUrl=queue, Entries=entries).get("Failed")

    def metrics_item():
        return ddb.get_item(TableName=metrics, Key={"entity_id": {"S": student}, "entity_type": {"S": "student"}},
                            ConsistentRead=True).get("Item")

    send("session_completed", 3, rating=3)  # health 40 + 20 + 20 = 80
    healthy = eventually(lambda: (item := metrics_item()) and int(item["sessions_7d"]["N"]) == 3 and item,
                         what="three sessions counted")
    assert int(healthy["health_score"]["N"]) >= 70, healthy

    send("ib_call", 6)  # support 20 -> 0: health 60
    dropped = eventually(lambda: (item := metrics_item()) and int(item["ib_calls_7d"]["N"]) == 6 and item,
                         what="six IB calls counted")
    assert int(dropped["health_score"]["N"]) < 70, dropped

    def churn():
        items = ddb.query(TableName=insights, KeyConditionExpression="pk = :p",
                          ExpressionAttributeValues={":p": {"S": f"insight#{student}"}})["Items"]
        return [i for i in items if i["prediction_type"]["S"] == "churn_risk"]

    found = eventually(churn, what="a churn_risk insight written by the stream consumer")
    assert found[0]["entity_id"]["S"] == student


def test_iops_malformed_message_is_not_counted(deployment, aws):
    sqs, ddb = aws("sqs"), aws("dynamodb")
    student = f"stu_bad_{uuid.uuid4().hex[:6]}"
    sqs.send_message(QueueUrl=deployment.queue_url("IngestQueue"),
                     MessageBody=json.dumps({"event_id": "x", "type": "nonsense", "student_id": student}))
    time.sleep(5)
    item = ddb.get_item(TableName=_table(deployment, "iops.metrics"),
                        Key={"entity_id": {"S": student}, "entity_type": {"S": "student"}}).get("Item")
    assert item is None


def test_collector_queue_stores_a_failed_record(deployment, aws):
    """A message no retry can fix is stored as a FAILED# record by the processor behind the queue."""
    sqs, ddb = aws("sqs"), aws("dynamodb")
    name = f"e2e-pkg-{uuid.uuid4().hex[:6]}"
    sqs.send_message(QueueUrl=deployment.queue_url("CollectorQueue"),
                     MessageBody=json.dumps({"ecosystem": "npm", "name": name, "risk_level": "not-a-level"}))
    table = _table(deployment, "dephealth.api-keys")

    def failed():
        return ddb.query(TableName=table, KeyConditionExpression="pk = :p",
                         ExpressionAttributeValues={":p": {"S": f"FAILED#{name}"}})["Items"]

    records = eventually(failed, what=f"FAILED#{name}")
    assert len(records) == 1, records


def test_monthly_reset_through_lambda_invoke(deployment, aws):
    event = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
    payload, _ = invoke.invoke(deployment.port, deployment.function("MonthlyReset"), event)
    assert payload["status"] in ("complete", "in_progress"), payload
    state = aws("dynamodb").get_item(TableName=_table(deployment, "dephealth.api-keys"),
                                     Key={"pk": {"S": "SYSTEM#RESET_STATE"}, "sk": {"S": "monthly_reset"}}).get("Item")
    assert state is not None and state["month"]["S"] == payload["month"], state


def test_metrics_recompute_through_lambda_invoke(deployment):
    event = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
    payload, _ = invoke.invoke(deployment.port, deployment.function("Recompute"), event)
    assert isinstance(payload, dict) and payload.get("status") in ("complete", "stopped"), payload


def test_schedules_target_their_functions(deployment, aws):
    events = aws("events")
    targets = {}
    for rule in events.list_rules()["Rules"]:
        for target in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]:
            targets[rule["Name"]] = (rule.get("ScheduleExpression"), target["Arn"])
    arns = " ".join(arn for _, arn in targets.values())
    assert deployment.function("MonthlyReset") in arns and deployment.function("Recompute") in arns, targets
    assert all(expr and expr.startswith("cron(") for expr, _ in targets.values()), targets


def test_kv_ttl_expiry_by_the_reaper(deployment, aws, http, kv_ttl_probe):
    """The key put with ttl=1 at the start of the session: hidden at once, deleted by the TTL reaper."""
    answer = http("GET", kv_ttl_probe["url"], headers=kv_ttl_probe["headers"])
    assert answer.status == 404, answer.raw
    table = _table(deployment, "kv.")

    def gone():
        return "Item" not in aws("dynamodb").get_item(TableName=table, Key=kv_ttl_probe["key"], ConsistentRead=True)

    remaining = 150 - (time.monotonic() - kv_ttl_probe["put_at"])  # the reaper runs every 60 s
    eventually(gone, timeout=max(remaining, 5), interval=2, what="the TTL reaper deleting the expired key")
