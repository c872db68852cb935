"""Collector queue processor: bounded retries, then a durable FAILED record.

For each SQS message the collector's write step is attempted. A failure is
reported as a partial batch failure, so SQS redelivers only that message,
until ``ApproximateReceiveCount`` reaches the limit; then (or at once, for a
message no retry can fix) it is stored as ``FAILED#{name}`` /
``{timestamp}`` and acknowledged.

The record (the source design's attributes): ``ecosystem``, ``name`` (the
full name, however long), ``message_id``, ``last_error``, ``retry_count``
(the receive count), ``original_message`` (the message body as JSON text),
``failed_at`` (ISO 8601, when it was stored) and ``ttl`` (90 days).

- **Sort key**: the message's ``SentTimestamp`` as an ISO 8601 UTC timestamp
  with milliseconds (``2026-11-18T11:06:40.000Z``), so every delivery of one
  message names the same record; a record without ``SentTimestamp`` uses the
  time it is stored. A different message for the same package in the same
  millisecond gets three more digits (``2026-11-18T11:06:40.000001Z``);
  these sort right after the millisecond they belong to.
- **Bounded key**: a name whose key would pass ``MAX_KEY_NAME_BYTES`` is
  keyed as its UTF-8 prefix plus ``~`` and the SHA-256 of the full name.
- **Exactly one record per message id**, whatever its attributes: the record
  is written in one transaction with a marker ``FAILED_MESSAGE#{sha256(id)}``
  that may not exist yet; a redelivery finds the marker and writes nothing.
"""

from __future__ import annotations

import hashlib

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError

from lambda_src.common import clock, decoding, faults
from lambda_src.common.requests import to_item

from . import collector, config
from .runtime import begin, dynamodb
from .schema import FAILED_MESSAGE_PK, FAILED_MESSAGE_SK, FAILED_PK, FAILED_SK

logger = Logger()
# Report every failure item by item, even when the whole batch failed.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
MAX_MESSAGE_BYTES = 2 * 1024 * 1024  # above SQS's largest message
MAX_KEY_NAME_BYTES = 512  # DynamoDB allows 2048 bytes of partition key; this leaves room
MAX_NAME_BYTES = 100_000
MAX_ITEM_TEXT_BYTES = 380_000  # the name, error and message together stay under the 400 KB item limit
MAX_ERROR_CHARS = 1000


def _receive_count(record: SQSRecord) -> int:
    """``ApproximateReceiveCount``, or 1 when a hand-built record lacks it (Powertools would raise)."""
    raw = (record.raw_event.get("attributes") or {}).get("ApproximateReceiveCount")
    return int(raw) if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) < 10 else 1


def _message(record: SQSRecord):
    try:
        return decoding.json_document(record.body or "", max_bytes=MAX_MESSAGE_BYTES)
    except decoding.DecodeError:
        return None


def _text(value, fallback: str) -> str:
    return value if decoding.clean_text(value) and value else fallback


def _fit(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8 (never inside a character)."""
    data = text.encode("utf-8", "replace")
    return data[:max_bytes].decode("utf-8", "ignore") if len(data) > max_bytes else text


def failed_key_name(name: str) -> str:
    """``name`` itself, or, past the key limit, its prefix plus ``~`` and its SHA-256."""
    data = name.encode("utf-8")
    if len(data) <= MAX_KEY_NAME_BYTES:
        return name
    digest = hashlib.sha256(data).hexdigest()
    return f"{_fit(name, MAX_KEY_NAME_BYTES - len(digest) - 1)}~{digest}"


def _sort_key(base: str, bump: int) -> str:
    """``base`` (``…ss.mmmZ``) or, for ``bump`` > 0, the same millisecond with 3 more digits."""
    return base if bump == 0 else f"{base[:-1]}{bump:03d}Z"


def store_failed(client, record: SQSRecord, message, error: str) -> bool:
    """Write the FAILED record once per message id; False when it is already stored."""
    # SQS always sets SentTimestamp; a hand-built or replayed record may not.
    sent = (record.raw_event.get("attributes") or {}).get("SentTimestamp")
    if isinstance(sent, str) and 0 < len(sent) <= 15 and sent.isascii() and sent.isdigit():
        sent_ms = int(sent)
    else:
        sent_ms = int(clock.now() * 1000)
    base = clock.iso_millis(sent_ms / 1000)
    fields = message if isinstance(message, dict) else {}
    name = _fit(_text(fields.get("name"), "unparseable"), MAX_NAME_BYTES)
    error = _fit(_text(error, "unknown error"), MAX_ERROR_CHARS)
    body = record.body or ""
    body = body if decoding.clean_text(body) else body.encode("utf-8", "replace").decode("utf-8")
    room = MAX_ITEM_TEXT_BYTES - len(name.encode()) - len(error.encode())
    pk = FAILED_PK.build(name=failed_key_name(name))
    marker = {"pk": FAILED_MESSAGE_PK.build(message_hash=hashlib.sha256(record.message_id.encode("utf-8", "replace"))
                                            .hexdigest()),
              "sk": FAILED_MESSAGE_SK.build()}
    table = config.api_keys_table()
    for bump in range(1000):
        sk = FAILED_SK.build(timestamp=_sort_key(base, bump))
        item = {
            "pk": pk,
            "sk": sk,
            "ecosystem": _fit(_text(fields.get("ecosystem"), "unknown"), 256),
            "name": name,
            "message_id": record.message_id,
            "last_error": error,
            "retry_count": _receive_count(record),
            "original_message": _fit(body, max(0, room)),
            "failed_at": clock.iso_millis(),
            "ttl": int(clock.now()) + config.FAILED_TTL_S,
        }
        try:
            client.transact_write_items(TransactItems=[
                {"Put": {"TableName": table, "ConditionExpression": "attribute_not_exists(pk)",
                         "Item": to_item({**marker, "failed_pk": pk, "failed_sk": sk, "ttl": item["ttl"]})}},
                {"Put": {"TableName": table, "ConditionExpression": "attribute_not_exists(pk)",
                         "Item": to_item(item)}},
            ])
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException" or faults.classify(exc):
                raise
            reasons = faults.transaction_reasons(exc)
            if reasons[:1] == ["ConditionalCheckFailed"]:
                return False  # this message id is stored already
            if reasons[1:2] != ["ConditionalCheckFailed"]:
                raise
            # another message holds this millisecond: try the next sub-millisecond
    raise RuntimeError("no free FAILED timestamp for this millisecond")


def record_handler(record: SQSRecord) -> None:
    client = dynamodb()
    message = _message(record)
    attempts = _receive_count(record)
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
    begin(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
