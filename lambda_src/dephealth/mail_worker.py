"""Mail queue consumer: carry out queued signup and login requests, then mail.

Each SQS record is ``{"kind": "signup" | "magic_link", "email": ...}``.
``signup`` stores or refreshes the PENDING record and mails the verification
link (an address that already has a key gets an "already registered" mail
instead); ``magic_link`` stores a fresh login token and mails the link (an
unknown address gets nothing). Failures are reported per record (partial
batch response), so SQS redelivers only those; after the queue's
``maxReceiveCount`` a message moves to the mail dead-letter queue. A record
that can never be processed (not JSON, wrong shape) is logged and dropped.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from lambda_src.common import decoding

from . import magic_link, signup, validation
from .runtime import begin, dynamodb

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def parse(body) -> tuple[str, str] | None:
    try:
        message = decoding.json_object(body or "")
        kind = message.get("kind")
        email = validation.email(message.get("email"))
    except Exception:  # noqa: BLE001 - any malformed message is dropped below
        return None
    return (kind, email) if kind in ("signup", "magic_link") else None


def record_handler(record: SQSRecord) -> None:
    parsed = parse(record.body)
    if parsed is None:
        logger.error("dropping a malformed mail request", extra={"message_id": record.message_id})
        return
    kind, email = parsed
    if kind == "signup":
        signup.start(dynamodb(), email)
    else:
        magic_link.request_link(dynamodb(), email)


@logger.inject_lambda_context(log_event=False)
def handler(event, context):
    begin(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
