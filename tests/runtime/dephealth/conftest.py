"""DepHealth handler fixtures: JSON events, a Lambda context, captured mail."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from lambda_src.common.requests import to_item
from lambda_src.dephealth import mailer
from lambda_src.dephealth.schema import API_KEYS, PACKAGES

EVENTS = Path(__file__).parent / "events"
PACKAGES_TABLE = PACKAGES.table_name("dev")
API_KEYS_TABLE = API_KEYS.table_name("dev")


@dataclass
class LambdaContext:
    function_name: str = "dephealth-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:dephealth-test"
    aws_request_id: str = "req-1"
    remaining_ms: int = 300_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def load_event(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text())


def api_event(name: str, *, query=None, body=None, headers=None, path_params=None, ip=None, raw_body=None):
    """A fixture event with fields replaced (``None`` keeps the fixture's value)."""
    event = copy.deepcopy(load_event(name))
    if query is not None:
        event["queryStringParameters"] = query or None
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    if body is not None:
        event["body"] = json.dumps(body)
    if raw_body is not None:
        event["body"] = raw_body
    if headers is not None:
        event["headers"] = {**{k: v for k, v in event["headers"].items() if k.lower() != "x-api-key"}, **headers}
    if path_params is not None:
        event["pathParameters"] = path_params
        event["path"] = "/packages/" + "/".join(path_params.values())
    if ip is not None:
        event["requestContext"]["identity"]["sourceIp"] = ip
    return event


def call(handler, event) -> tuple[int, dict]:
    response = handler(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"])


class MailBox:
    """Captures sent mail; ``deliver()`` runs the mail worker on what the auth routes queued.

    The queue is a moto SQS queue, so requests travel the deployed path:
    route -> SendMessage -> mail worker (SQS event) -> sender.
    """

    def __init__(self, queue_url: str | None = None):
        self.sent: list[dict] = []
        self.lock = threading.Lock()
        self.queue_url = queue_url

    def send(self, *, to: str, kind: str, link: str) -> None:
        with self.lock:
            self.sent.append({"to": to, "kind": kind, "link": link})

    def deliver(self) -> int:
        """Hand every queued mail request to the mail worker; the number of requests."""
        from lambda_src.common.aws_clients import client
        from lambda_src.dephealth import mail_worker

        sqs, handled = client("sqs"), 0
        while self.queue_url:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                           AttributeNames=["All"]).get("Messages", [])
            if not messages:
                return handled
            result = mail_worker.handler(sqs_records(messages), LambdaContext())
            failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
            for m in messages:
                if m["MessageId"] not in failed:
                    sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
            handled += len(messages) - len(failed)
            if failed:
                return handled
        return handled

    def token(self, kind: str) -> str:
        self.deliver()
        link = [m for m in self.sent if m["kind"] == kind][-1]["link"]
        return parse_qs(urlparse(link).query)["token"][0]


def sqs_records(messages: list[dict]) -> dict:
    """An SQS -> Lambda event for messages received from (moto) SQS."""
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m.get("MD5OfBody", ""),
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:mail",
        "awsRegion": "us-east-1"} for m in messages]}


@pytest.fixture
def mail_queue(aws, monkeypatch):
    """The mail request queue (moto SQS), wired in as the stack wires it."""
    import boto3

    url = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="dephealth-mail")["QueueUrl"]
    monkeypatch.setenv("MAIL_QUEUE_URL", url)
    return url


@pytest.fixture
def mailbox(mail_queue):
    box = MailBox(mail_queue)
    old = mailer.set_sender(box)
    yield box
    mailer.set_sender(old)


@pytest.fixture
def atomic_moto(monkeypatch):
    """Serialize moto's DynamoDB operations, as DynamoDB makes each write atomic.

    moto evaluates a condition and applies the update without a lock, so
    concurrent threads could interleave inside one request, which DynamoDB
    itself never allows; this restores per-request atomicity for the test.
    """
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("update_item", "put_item", "delete_item", "get_item", "query", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        def locked(self, *args, __original=original, **kwargs):
            with lock:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)
    return lock


def put(client, table: str, item: Mapping[str, Any]) -> None:
    client.put_item(TableName=table, Item=to_item(item))


def scan_all(client, table: str) -> list[dict]:
    """Every item of a moto table (test inspection only)."""
    from lambda_src.common.requests import from_item

    items, kwargs = [], {"TableName": table}
    while True:
        page = client.scan(**kwargs)
        items += [from_item(i) for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@pytest.fixture
def user(aws, mailbox):
    """A verified user: signs up, verifies, and returns the raw API key and email."""
    from lambda_src.dephealth import auth_api

    email = "carol@example.com"
    status, _ = call(auth_api.handler, api_event("signup", body={"email": email}))
    assert status == 202
    status, body = call(auth_api.handler, api_event("verify", query={"token": mailbox.token("verify")}))
    assert status == 201
    return {"email": email, "api_key": body["api_key"]}
