"""The metrics-stream consumer on real NEW_AND_OLD_IMAGES records from moto's stream."""

from __future__ import annotations

import time

import boto3
import pytest

from lambda_src.common.requests import from_item, to_item
from lambda_src.iops import ingest, insights, schema, settings
from tests.runtime.iops.conftest import (
    INSIGHTS,
    METRICS,
    LambdaContext,
    ib_call,
    session,
    sqs_event,
    stream_records,
)


def put_metrics(ddb, entity_id="stu_9", entity_type="student", **values):
    item = {"entity_id": entity_id, "entity_type": entity_type, "health_score": 80,
            "sessions_7d": 2, "ib_calls_7d": 0, "avg_rating": 4.5,
            "last_updated": "2026-11-22T12:00:00Z", **values}
    ddb.put_item(TableName=METRICS, Item=to_item(item))


def consume(alerts, records=None) -> dict:
    """The deployed handler on ``records`` (default: the whole metrics stream so far)."""
    event = {"Records": stream_records() if records is None else records}
    return insights.handler(event, LambdaContext())


def ingest_batch(*bodies) -> None:
    assert ingest.handler(sqs_event(*bodies), LambdaContext()) == {"batchItemFailures": []}


def stored_insights(ddb, entity_id="stu_9") -> list[dict]:
    response = ddb.query(TableName=INSIGHTS, KeyConditionExpression="pk = :pk",
                         ExpressionAttributeValues=to_item({":pk": f"insight#{entity_id}"}))
    return [from_item(i) for i in response["Items"]]


def test_health_crossing_below_70_writes_an_insight_and_alerts(aws, alerts):
    put_metrics(aws, health_score=75, ib_calls_7d=1)
    put_metrics(aws, health_score=64, ib_calls_7d=1)
    records = stream_records()
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    assert records[1]["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"

    assert consume(alerts, records) == {"batchItemFailures": []}

    [item] = stored_insights(aws)
    assert item["pk"] == schema.INSIGHT_PK.build(entity_id="stu_9")
    assert item["sk"] == item["timestamp"] and item["timestamp"].endswith("Z")
    assert item["prediction_type"] == "churn_risk"
    assert item["risk_score"] == 50 + 2 * (70 - 64) + 5 * 1
    assert item["entity_id"] == "stu_9" and item["model_used"] == "rules-v1"
    assert item["alert_id"].startswith("alrt_")
    assert "75 to 64" in item["explanation"]
    assert item["recommendations"] and all(isinstance(r, str) for r in item["recommendations"])
    ninety_days = 90 * 86400
    assert abs(item["ttl"] - (time.time() + ninety_days)) < 300
    [message] = alerts.messages()
    assert message["alert_id"] == item["alert_id"] and message["entity_id"] == "stu_9"


def test_already_below_threshold_does_not_alert_again(aws, alerts):
    put_metrics(aws, health_score=65)
    put_metrics(aws, health_score=55)  # worse, but no crossing
    put_metrics(aws, health_score=69)
    assert consume(alerts) == {"batchItemFailures": []}
    assert stored_insights(aws) == [] and alerts.messages() == []


def test_insert_and_remove_never_alert(aws, alerts):
    put_metrics(aws, health_score=20, ib_calls_7d=9, avg_rating=1.0)  # new entity, no baseline
    aws.delete_item(TableName=METRICS, Key=to_item({"entity_id": "stu_9", "entity_type": "student"}))
    assert consume(alerts) == {"batchItemFailures": []}
    assert stored_insights(aws) == []


def test_exactly_70_is_not_below(aws, alerts):
    put_metrics(aws, health_score=71)
    put_metrics(aws, health_score=70)
    consume(alerts)
    assert stored_insights(aws) == []


def test_rating_drop_of_half_a_point_alerts_smaller_drop_does_not(aws, alerts):
    put_metrics(aws, avg_rating=4.6)
    put_metrics(aws, avg_rating=4.2)  # -0.4
    put_metrics(aws, avg_rating=3.7)  # -0.5
    consume(alerts)
    [item] = stored_insights(aws)
    assert item["prediction_type"] == "satisfaction_drop"
    assert item["risk_score"] == 70
    assert "4.2 to 3.7" in item["explanation"]


def test_ib_calls_crossing_through_real_ingest_alerts_once(aws, alerts):
    ingest_batch(session("s1"), session("s2"))
    ingest_batch(*[ib_call(f"c{n}") for n in range(3)])  # 3: at the threshold
    consume(alerts)
    assert stored_insights(aws, "stu_1") == []

    ingest_batch(ib_call("c3"))  # 4 > 3
    ingest_batch(ib_call("c4"))  # 5: still above, no new alert
    before = {r["dynamodb"]["SequenceNumber"] for r in stream_records()}
    consume(alerts, [r for r in stream_records() if r["dynamodb"]["SequenceNumber"] in before])
    found = stored_insights(aws, "stu_1")
    assert [i["prediction_type"] for i in found] == ["support_escalation"]
    assert found[0]["risk_score"] == 70
    assert len(alerts.messages()) == 1


def test_two_rules_in_one_change_give_two_insights(aws, alerts):
    put_metrics(aws, health_score=72, ib_calls_7d=3, avg_rating=4.5)
    put_metrics(aws, health_score=60, ib_calls_7d=4, avg_rating=3.9)
    consume(alerts)
    found = stored_insights(aws)
    assert sorted(i["prediction_type"] for i in found) == [
        "churn_risk", "satisfaction_drop", "support_escalation"]
    assert len({i["sk"] for i in found}) == 3
    assert len(alerts.messages()) == 3


def test_a_retried_batch_neither_duplicates_nor_republishes(aws, alerts):
    put_metrics(aws, health_score=75)
    put_metrics(aws, health_score=50)
    records = stream_records()
    consume(alerts, records)
    consume(alerts, records)
    assert len(stored_insights(aws)) == 1
    assert len(alerts.messages()) == 1


def test_a_failing_write_is_reported_per_record(aws, alerts, monkeypatch):
    put_metrics(aws, health_score=75)
    put_metrics(aws, health_score=50)
    records = stream_records()
    monkeypatch.setenv("INSIGHTS_TABLE", "no-such-table")
    result = consume(alerts, records)
    # The INSERT had nothing to do; the MODIFY failed and is retried alone.
    assert result == {"batchItemFailures": [{"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}]}
    assert alerts.messages() == []


@pytest.mark.parametrize("variable", ["INSIGHTS_TABLE", "ALERT_TOPIC_ARN"])
def test_a_missing_variable_fails_before_any_record_is_read(aws, alerts, monkeypatch, variable):
    put_metrics(aws, health_score=75)
    put_metrics(aws, health_score=50)
    monkeypatch.delenv(variable)
    with pytest.raises(settings.MissingSetting, match=variable):
        consume(alerts)
    assert stored_insights(aws) == [] and alerts.messages() == []


class FixedModel:
    model_id = "test-model-v0"

    def explain(self, finding):
        return insights.Explanation(f"{finding.prediction_type} for {finding.entity_id}", ("Call them",))


def test_the_explanation_generator_plugs_in(aws, alerts):
    put_metrics(aws, health_score=75)
    put_metrics(aws, health_score=50)
    writer = insights.InsightWriter(
        ddb=boto3.client("dynamodb", region_name="us-east-1"), sns=boto3.client("sns", region_name="us-east-1"),
        table=INSIGHTS, topic_arn=alerts.topic_arn, explainer=FixedModel())
    for record in stream_records():
        writer.process_record(record)
    [item] = stored_insights(aws)
    assert (item["model_used"], item["explanation"], item["recommendations"]) == (
        "test-model-v0", "churn_risk for stu_9", ["Call them"])


def test_rule_based_explainer_is_deterministic():
    finding = insights.Finding("stu_1", "student", "churn_risk", 80, {
        "old_health": 72, "new_health": 61, "ib_calls_7d": 2, "sessions_7d": 1})
    first = insights.RuleBasedExplainer().explain(finding)
    assert first == insights.RuleBasedExplainer().explain(finding)
    assert first.text.startswith("Health score fell from 72 to 61")


def test_the_sns_client_is_created_at_the_first_alert_not_the_first_batch(aws, alerts):
    from lambda_src.common import aws_clients

    def clients() -> int:  # the container's cached clients (the aws fixture starts with none)
        return aws_clients.client.cache_info().currsize

    put_metrics(aws, health_score=80)
    put_metrics(aws, health_score=75)  # no rule crossed
    assert consume(alerts) == {"batchItemFailures": []}
    assert clients() == 1  # DynamoDB only
    put_metrics(aws, health_score=60)
    assert consume(alerts, stream_records()[-1:]) == {"batchItemFailures": []}
    assert clients() == 2 and len(alerts.messages()) == 1
