"""Helpers for the IOps runtime tests: SQS events, real stream records, an SNS inbox."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import boto3
import pytest

from lambda_src.iops import schema

METRICS = schema.METRICS.table_name("dev")
INSIGHTS = schema.INSIGHTS.table_name("dev")
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


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
def alerts(aws):
    """An SNS topic with an SQS subscriber; ``alerts.messages()`` drains what was published."""
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="iops-alerts")["TopicArn"]
    url = sqs.create_queue(QueueName="iops-alert-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})

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
