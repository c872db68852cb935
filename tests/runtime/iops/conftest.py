"""Helpers for the IOps runtime tests: the functions' environment, a pinned clock,
SQS events, real stream records, an SNS inbox."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import boto3
import pytest

from lambda_src.iops import schema

METRICS = schema.METRICS.table_name("dev")
INSIGHTS = schema.INSIGHTS.table_name("dev")
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class LambdaContext:
    """What the handlers read from Lambda's context object."""

    function_name = "iops-test"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:iops-test"
    aws_request_id = "req-1"

    def __init__(self, remaining_ms: int = 900_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture(autouse=True)
def function_environment(monkeypatch):
    """The table variables the stacks set on the IOps functions (the dev names)."""
    monkeypatch.setenv("METRICS_TABLE", METRICS)
    monkeypatch.setenv("INSIGHTS_TABLE", INSIGHTS)


_pinned = [NOW]


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch):
    """The runtime's one clock (``lambda_src.common.clock``) reads ``NOW`` in every test;
    ``set_clock`` moves it within the test."""
    _pinned[0] = NOW
    monkeypatch.setattr("lambda_src.common.clock.now", lambda: _pinned[0].timestamp())


def set_clock(moment: datetime) -> None:
    _pinned[0] = moment


def sqs_event(*bodies) -> dict:
    """An SQS -> Lambda event, one record per body (dicts are JSON-encoded)."""
    records = []
    for body in bodies:
        records.append({
            "messageId": str(uuid.uuid4()),
            "receiptHandle": "rh",
            "body": body if isinstance(body, str) else json.dumps(body),
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ingest",
            "awsRegion": "us-east-1",
        })
    return {"Records": records}


def session(event_id, at="2026-11-22T10:00:00Z", rating=5, **entities) -> dict:
    return {"event_id": event_id, "type": "session_completed", "timestamp": at, "rating": rating,
            **(entities or {"student_id": "stu_1"})}


def ib_call(event_id, at="2026-11-22T10:00:00Z", **entities) -> dict:
    return {"event_id": event_id, "type": "ib_call", "timestamp": at,
            **(entities or {"student_id": "stu_1"})}


def metrics_item(ddb, entity_id, entity_type="student") -> dict:
    from lambda_src.common.requests import from_item, to_item

    response = ddb.get_item(TableName=METRICS, Key=to_item(
        {"entity_id": entity_id, "entity_type": entity_type}))
    return from_item(response.get("Item", {}))


def stream_records(table: str = METRICS) -> list[dict]:
    """Every record on the table's stream, in the Lambda event format."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    # An explicit endpoint: botocore's endpoint rules otherwise resolve a host
    # that moto 5.2.5 does not route to its dynamodbstreams backend.
    streams = boto3.client("dynamodbstreams", region_name="us-east-1",
                           endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com")
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        for record in streams.get_records(ShardIterator=iterator)["Records"]:
            part = dict(record["dynamodb"])
            created = part.get("ApproximateCreationDateTime")
            if isinstance(created, datetime):
                part["ApproximateCreationDateTime"] = created.timestamp()
            records.append({**record, "dynamodb": part, "eventSourceARN": arn})
    return records


@pytest.fixture
def alerts(aws, monkeypatch):
    """An SNS topic with an SQS subscriber, set as the functions' alert topic;
    ``alerts.messages()`` drains what was published."""
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="iops-alerts")["TopicArn"]
    url = sqs.create_queue(QueueName="iops-alert-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    monkeypatch.setenv("ALERT_TOPIC_ARN", topic)

    class Inbox:
        topic_arn = topic

        @staticmethod
        def messages() -> list[dict]:
            out = []
            while True:
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                if not got:
                    return out
                for message in got:
                    out.append(json.loads(message["Body"]))
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    return Inbox()
