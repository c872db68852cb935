"""Injected DynamoDB (and SQS) faults on every call type the DepHealth handlers make.

A retryable fault that outlives the SDK's retries answers 503 with
``Retry-After`` and a typed code; a defect answers 500; nothing is lost: the
same request afterwards succeeds and the stored state is what it should be.
Queue handlers report the message as failed, and its redelivery completes it.
"""

from __future__ import annotations

import json
import time

import pytest

from lambda_src.common import aws_clients
from lambda_src.dephealth import auth_api, dlq, mail_worker, monthly_reset, packages_api

from .conftest import API_KEYS_TABLE, PACKAGES_TABLE, LambdaContext, api_event, put, scan_all, sqs_records
from .faults import FailingClient, inject_faults

THROTTLED = "ProvisionedThroughputExceededException"


def respond(handler, event, remaining_ms: int = 300_000):
    response = handler(event, LambdaContext(remaining_ms=remaining_ms))
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for k, v in (response.get("multiValueHeaders") or {}).items():
        headers.setdefault(k.lower(), v[0] if isinstance(v, list) else v)
    return response["statusCode"], json.loads(response["body"]), headers


@pytest.fixture
def fail(aws, monkeypatch):
    """Make the handlers' DynamoDB client fail one operation; returns the wrapper."""
    real = aws_clients.dynamodb()

    def install(operation, code=THROTTLED, **kwargs):
        wrapper = FailingClient(real, operation, code, **kwargs)
        monkeypatch.setattr(aws_clients, "dynamodb", lambda: wrapper)
        return wrapper

    yield install
    monkeypatch.setattr(aws_clients, "dynamodb", lambda: real)


@pytest.fixture
def catalog(aws):
    from lambda_src.dephealth.schema import PACKAGES

    for item in PACKAGES.examples:
        put(aws, PACKAGES_TABLE, item)


def _assert_503(status, body, headers, code):
    assert (status, body["error"]) == (503, code) and body["message"]
    assert int(headers["retry-after"]) >= 1


# -- the API routes ------------------------------------------------------------------
PACKAGE_CASES = [
    # (fixture, with key?, operation, error code)
    ("package_get", False, "UpdateItem", "throttled"),     # demo counter
    ("package_get", True, "Query", "throttled"),           # key-hash-index
    ("package_get", True, "UpdateItem", "throttled"),      # quota
    ("package_get", True, "GetItem", "throttled"),         # the package
    ("packages_by_risk", True, "Query", "throttled"),      # risk-level-index
    ("packages_by_risk", True, "BatchGetItem", "partial_read"),
    ("packages_batch", True, "BatchGetItem", "partial_read"),
]


@pytest.mark.parametrize("fixture,keyed,operation,code", PACKAGE_CASES)
@pytest.mark.parametrize("fault", [THROTTLED, "InternalServerError"])
def test_package_routes_answer_503_and_then_succeed(aws, catalog, user, fail, monkeypatch, fixture, keyed, operation,
                                                   code, fault):
    query = {"risk_level": "high"} if fixture == "packages_by_risk" else None
    event = api_event(fixture, headers={"x-api-key": user["api_key"]} if keyed else {}, query=query)
    if not keyed:
        event["headers"].pop("x-api-key", None)  # the demo allowance
    wrapper = fail(operation, fault)
    status, body, got = respond(packages_api.handler, event, remaining_ms=9_000)
    expected = code if code == "partial_read" or fault == THROTTLED else "unavailable"
    _assert_503(status, body, got, expected)
    assert wrapper.failed >= 1
    monkeypatch.setattr(aws_clients, "dynamodb", lambda: wrapper._client)
    status, body, _ = respond(packages_api.handler, event)
    assert status == 200, body


def test_a_defect_is_a_500_not_a_503(aws, catalog, fail):
    fail("GetItem", "ValidationException")
    status, body, headers = respond(packages_api.handler, api_event("package_get_demo"))
    assert (status, body["error"]) == (500, "internal_error") and "retry-after" not in headers


@pytest.mark.parametrize("operation", ["UpdateItem", "SendMessage"])
@pytest.mark.parametrize("route", ["signup", "magic_link"])
def test_mail_routes_answer_503_and_then_queue_the_request(aws, mailbox, operation, route):
    real_dynamodb, real_client = aws_clients.dynamodb, aws_clients.client
    with pytest.MonkeyPatch.context() as patch:
        if operation == "SendMessage":
            patch.setattr(aws_clients, "client", lambda service: FailingClient(real_client(service), "SendMessage",
                                                                                "ThrottlingException")
                          if service == "sqs" else real_client(service))
        else:
            wrapper = FailingClient(real_dynamodb(), operation, THROTTLED)
            patch.setattr(aws_clients, "dynamodb", lambda: wrapper)
        event = api_event(route, body={"email": "hana@example.com"})
        status, body, headers = respond(auth_api.handler, event)
    _assert_503(status, body, headers, "throttled")
    assert mailbox.deliver() == 0  # nothing was queued
    assert respond(auth_api.handler, event)[0] == 202
    assert mailbox.deliver() == 1


@pytest.mark.parametrize("operation,fault,reasons,code", [
    ("Query", THROTTLED, None, "throttled"),
    ("GetItem", THROTTLED, None, "throttled"),
    ("TransactWriteItems", "TransactionCanceledException", ["ThrottlingError", "None"], "unavailable"),
    ("TransactWriteItems", "TransactionCanceledException", ["None", "ThrottlingError"], "unavailable"),
    ("TransactWriteItems", "TransactionCanceledException", ["TransactionConflict", "None"], "unavailable"),
    ("TransactWriteItems", "TransactionCanceledException", ["ProvisionedThroughputExceeded", "None"], "unavailable"),
    ("TransactWriteItems", "TransactionConflictException", None, "unavailable"),
    ("TransactWriteItems", THROTTLED, None, "throttled"),
])
def test_verify_under_faults_is_503_and_the_link_still_works(aws, mailbox, fail, monkeypatch, operation, fault,
                                                             reasons, code):
    respond(auth_api.handler, api_event("signup", body={"email": "ivan@example.com"}))
    token = mailbox.token("verify")
    wrapper = fail(operation, fault, reasons=reasons)
    status, body, headers = respond(auth_api.handler, api_event("verify", query={"token": token}))
    _assert_503(status, body, headers, code)
    assert wrapper.failed == 1
    [pending] = [i for i in scan_all(aws, API_KEYS_TABLE) if i["pk"].startswith("user_")]
    assert pending["sk"] == "PENDING"  # nothing consumed
    monkeypatch.setattr(aws_clients, "dynamodb", lambda: wrapper._client)
    status, body, _ = respond(auth_api.handler, api_event("verify", query={"token": token}))
    assert status == 201 and body["api_key"].startswith("dh_")


@pytest.mark.parametrize("operation", ["Query", "UpdateItem"])
def test_callback_under_faults_is_503_and_the_link_still_works(aws, user, mailbox, fail, monkeypatch, operation):
    respond(auth_api.handler, api_event("magic_link", body={"email": user["email"]}))
    token = mailbox.token("magic_link")
    wrapper = fail(operation)
    status, body, headers = respond(auth_api.handler, api_event("callback", query={"token": token}))
    _assert_503(status, body, headers, "throttled")
    monkeypatch.setattr(aws_clients, "dynamodb", lambda: wrapper._client)
    assert respond(auth_api.handler, api_event("callback", query={"token": token}))[0] == 200


# -- deadlines -------------------------------------------------------------------------
def test_with_too_little_time_left_no_request_is_started(aws, catalog, user):
    answered = []
    events = aws_clients.dynamodb().meta.events
    events.register("after-call.dynamodb", lambda **kw: answered.append(kw["model"].name), unique_id="t-answered")
    try:
        status, body, headers = respond(packages_api.handler,
                                        api_event("package_get", headers={"x-api-key": user["api_key"]}),
                                        remaining_ms=2_000)
    finally:
        events.unregister("after-call.dynamodb", unique_id="t-answered")
    _assert_503(status, body, headers, "deadline_exceeded")
    assert answered == []


def test_the_risk_listing_answers_before_the_function_times_out_under_sustained_throttling(aws, catalog, user):
    """Every BatchGetItem key is held back, forever: the answer still comes before the 10 s timeout."""
    from .faults import FaultyClient

    real = aws_clients.dynamodb()
    faulty = FaultyClient(real, always_unprocessed=True)
    faulty.meta = real.meta
    import lambda_src.common.aws_clients as module

    module_dynamodb = module.dynamodb
    module.dynamodb = lambda: faulty
    try:
        started = time.monotonic()
        status, body, headers = respond(packages_api.handler,
                                        api_event("packages_by_risk", query={"risk_level": "high"},
                                                  headers={"x-api-key": user["api_key"]}),
                                        remaining_ms=10_000)
        elapsed = time.monotonic() - started
    finally:
        module.dynamodb = module_dynamodb
    _assert_503(status, body, headers, "partial_read")
    # The deadline is 10 s minus one attempt's timeouts; the batch reader may sleep up to its 1 s
    # cap past it: before the 10 s timeout (the reader's own default deadline alone would take 20 s).
    from lambda_src.common import faults

    assert elapsed < min(10 - faults.margin_s(real) + 1.2, 9.5)
    assert faulty.calls >= 2


def test_slow_requests_end_in_a_typed_503_before_the_timeout(aws, catalog, user):
    """Every request takes 0.4 s: with 0.5 s of budget past one attempt's timeouts the handler stops in time."""
    from lambda_src.common import faults

    remaining_ms = int((faults.margin_s(aws_clients.dynamodb()) + 0.5) * 1000)
    with inject_faults(aws_clients.dynamodb(), latency_s=0.4):
        started = time.monotonic()
        status, body, headers = respond(packages_api.handler,
                                        api_event("package_get", headers={"x-api-key": user["api_key"]}),
                                        remaining_ms=remaining_ms)
        elapsed = time.monotonic() - started
    _assert_503(status, body, headers, "deadline_exceeded")
    assert elapsed < 2


# -- queue handlers and the reset ---------------------------------------------------
@pytest.mark.parametrize("operation,known", [("Query", False), ("PutItem", False), ("Query", True),
                                             ("UpdateItem", True)])
def test_the_mail_worker_reports_a_fault_and_the_redelivery_mails(aws, user, mailbox, fail, monkeypatch, operation,
                                                                   known):
    email = user["email"] if known else "jo@example.com"
    route = "magic_link" if known else "signup"
    assert respond(auth_api.handler, api_event(route, body={"email": email}))[0] == 202
    sent_before = len(mailbox.sent)
    wrapper = fail(operation, times=1)
    from lambda_src.common.aws_clients import client

    messages = client("sqs").receive_message(QueueUrl=mailbox.queue_url, MaxNumberOfMessages=10,
                                             VisibilityTimeout=0).get("Messages", [])
    assert len(messages) == 1
    result = mail_worker.handler(sqs_records(messages), LambdaContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": messages[0]["MessageId"]}]}
    assert wrapper.failed == 1 and len(mailbox.sent) == sent_before
    monkeypatch.setattr(aws_clients, "dynamodb", lambda: wrapper._client)
    assert mailbox.deliver() == 1
    assert mailbox.sent[-1]["kind"] == ("magic_link" if known else "verify")


def test_the_dlq_processor_reports_a_fault_and_stores_once_on_redelivery(aws, fail, monkeypatch):
    from .test_jobs import failed, sqs_event

    event = sqs_event(body="not json")
    wrapper = fail("TransactWriteItems", times=1)
    messageid = event["Records"][0]["messageId"]
    assert dlq.handler(event, LambdaContext()) == {"batchItemFailures": [{"itemIdentifier": messageid}]}
    assert failed(aws) == []
    assert dlq.handler(event, LambdaContext()) == {"batchItemFailures": []}
    assert dlq.handler(event, LambdaContext()) == {"batchItemFailures": []}
    assert len(failed(aws)) == 1 and wrapper.failed == 1


@pytest.mark.parametrize("operation", ["GetItem", "PutItem", "Scan", "UpdateItem"])
def test_the_reset_survives_a_fault_on_every_call_and_counts_exactly(aws, fail, monkeypatch, operation):
    from .test_jobs import _state, _usage, _users

    _users(aws, 12)
    wrapper = fail(operation, times=1)
    with pytest.raises(Exception) as raised:
        monthly_reset.handler({}, LambdaContext())
    assert getattr(raised.value, "response", {}).get("Error", {}).get("Code") == THROTTLED
    monkeypatch.setattr(aws_clients, "dynamodb", lambda: wrapper._client)
    result = monthly_reset.handler({}, LambdaContext())
    assert result["status"] == "complete"
    assert _state(aws)["users_reset"] == 12 and set(_usage(aws).values()) == {0}


def test_a_real_condition_failure_in_the_verify_transaction_is_token_already_used(aws, mailbox, monkeypatch):
    """The PENDING record changes between the read and the transaction (a concurrent verify
    or re-signup): moto cancels the transaction with ConditionalCheckFailed on the Delete."""
    respond(auth_api.handler, api_event("signup", body={"email": "lee@example.com"}))
    token = mailbox.token("verify")
    real = aws_clients.dynamodb()

    class Interleaved:
        def __getattr__(self, name):
            return getattr(real, name)

        def get_item(self, **kwargs):
            answer = real.get_item(**kwargs)
            real.update_item(TableName=kwargs["TableName"], Key=kwargs["Key"],
                             UpdateExpression="SET verification_token = :other",
                             ExpressionAttributeValues={":other": {"S": "0" * 64}})
            return answer

    monkeypatch.setattr(aws_clients, "dynamodb", lambda: Interleaved())
    status, body, _ = respond(auth_api.handler, api_event("verify", query={"token": token}))
    assert (status, body["error"]) == (400, "token_already_used")
    assert not [i for i in scan_all(aws, API_KEYS_TABLE) if i.get("key_hash")]


@pytest.mark.parametrize("code,reasons,expected", [
    (THROTTLED, None, "throttled"), ("ThrottlingException", None, "throttled"),
    ("RequestLimitExceeded", None, "throttled"), ("InternalServerError", None, "unavailable"),
    ("TransactionConflictException", None, "unavailable"),
    ("TransactionCanceledException", ["None", "TransactionConflict"], "unavailable"),
    ("TransactionCanceledException", ["ThrottlingError"], "unavailable"),
    ("TransactionCanceledException", [], "unavailable"),  # no reasons: cannot blame the caller
    ("TransactionCanceledException", ["ConditionalCheckFailed", "None"], None),
    ("ConditionalCheckFailedException", None, None), ("ValidationException", None, None),
    ("AccessDeniedException", None, None),
])
def test_the_fault_policy_classifies_every_code(code, reasons, expected):
    from lambda_src.common import faults

    from .faults import client_error

    assert faults.classify(client_error("Any", code, reasons)) == expected
    if reasons:
        error = client_error("Any", code, reasons)
        del error.response["CancellationReasons"]  # only the message carries them
        assert faults.transaction_reasons(error) == reasons
