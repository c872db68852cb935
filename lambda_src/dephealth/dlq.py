"""Collector queue processor: bounded retries, then a durable FAILED record.

For each SQS message the collector's write step is attempted. A failure is
reported as a partial batch failure, so SQS redelivers only that message,
until ``ApproximateReceiveCount`` reaches the limit; then (or at once, for a
message no retry can fix) it is stored as ``FAILED#{name}`` /
``{timestamp}`` with a 90-day ttl and acknowledged.

The record's sort key is the message's SentTimestamp and the put is
conditional, so a redelivered message writes nothing new; a different message
for the same package in the same millisecond gets a sub-millisecond suffix.
"""

from __future__ import annotations

import json

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError

from lambda_src.common.aws_clients import dynamodb
from lambda_src.common.requests import from_item, to_item

from . import clock, collector, config
from .schema import FAILED_PK, FAILED_SK

logger = Logger()
# Report every failure item by item, even when the whole batch failed.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
MAX_BODY = 16_000


def _message(record: SQSRecord):
    try:
        return json.loads(record.body or "")
    except ValueError:
        return None


def _failed_name(message) -> str:
    name = message.get("name") if isinstance(message, dict) else None
    return name if isinstance(name, str) and name else "unparseable"


def store_failed(client, record: SQSRecord, message, error: str) -> bool:
    """Write the FAILED record once; False when this message is already stored."""
    # SQS always sets SentTimestamp; a hand-built or replayed record may not,
    # and Powertools' accessor raises KeyError for a missing attribute.
    sent = (record.raw_event.get("attributes") or {}).get("SentTimestamp")
    sent_ms = int(sent) if sent else int(clock.now() * 1000)
    base = clock.iso(sent_ms / 1000)
    for bump in range(1000):
        sk = base if bump == 0 else f"{base[:-1]}{bump:03d}Z"
        item = {
            "pk": FAILED_PK.build(name=_failed_name(message)),
            "sk": FAILED_SK.build(timestamp=sk),
            "message_id": record.message_id,
            "body": (record.body or "")[:MAX_BODY],
            "error": error[:1000],
            "attempts": int(record.attributes.approximate_receive_count or 1),
            "failed_at": clock.iso(),
            "ttl": int(clock.now()) + config.FAILED_TTL_S,
        }
        try:
            client.put_item(
                TableName=config.api_keys_table(),
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            if from_item(exc.response.get("Item") or {}).get("message_id") == record.message_id:
                return False
    raise RuntimeError("no free FAILED timestamp for this millisecond")


def record_handler(record: SQSRecord) -> None:
    client = dynamodb()
    message = _message(record)
    attempts = int(record.attributes.approximate_receive_count or 1)
    try:
        collector.apply(client, message)
        return
    except collector.InvalidMessage as exc:
        error = f"invalid message: {exc}"
    except Exception as exc:  # a transient failure: let SQS redeliver, up to the limit
        if attempts < config.dlq_max_attempts():
            logger.warning("collector write failed; will retry",
                           extra={"message_id": record.message_id, "attempts": attempts, "error": type(exc).__name__})
            raise
        error = f"{type(exc).__name__}: {exc}"
    stored = store_failed(client, record, message, error)
    logger.error("message failed permanently",
                 extra={"message_id": record.message_id, "attempts": attempts, "stored": stored})


@logger.inject_lambda_context(log_event=False)
def handler(event, context):
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
