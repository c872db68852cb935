"""Injected faults on every AWS call type the KV handler makes, through the real handler.

For every route scenario below, each AWS call the request makes (its
operation and its position: the 2nd TransactWriteItems of a force delete is
not the 1st) is failed once with each kind of fault, the way botocore raises
it once its own retries are spent; every other call reaches moto. Then:

- the answer has the documented status and error code: a retryable fault is
  ``503`` with ``Retry-After`` (``throttled``, ``busy``,
  ``service_unavailable``), a defect of our own request is ``500
  internal_error`` without it; a transient fault never answers 4xx;
- the answer comes before the Lambda deadline (a context with 3 s left);
- nothing is lost or half-written: the same request, retried, succeeds, and
  the stored items of that tenant (user with ``requestCount`` and
  ``storageBytes``, namespace, member and key items, email claim) equal
  what one fault-free run of the scenario stores in another tenant.

Faults are injected on the handler's own cached clients through botocore's
``before-call`` event (the mechanism ``botocore.stub.Stubber`` uses), so the
answer is parsed into the modeled exception exactly as a real one is; a test
further down fails every *attempt* at the HTTP level instead, so the SDK's
retries and the invocation deadline are exercised too.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from lambda_src.common import aws_clients
from lambda_src.kv import cursor

from .conftest import Client, LambdaContext, Reply, event

# -- fault injection ---------------------------------------------------------------------

SERVICE_IDS = {"dynamodb": "dynamodb", "secretsmanager": "secrets-manager"}


@dataclass
class Fault:
    """One injected answer: HTTP status, error code and (TransactWriteItems) cancellation reasons."""

    status: int
    code: str
    reasons: list[str] | None = None
    message: str = ""
    reason_messages: dict[int, str] = field(default_factory=dict)  # position -> that reason's Message

    def parsed(self, operation: str) -> dict:
        message = self.message or f"injected {self.code}"
        parsed: dict[str, Any] = {"Error": {"Code": self.code, "Message": message},
                  "ResponseMetadata": {"HTTPStatusCode": self.status, "RequestId": "injected"}}
        if self.reasons is not None:
            parsed["CancellationReasons"] = [{"Code": r, **({"Message": self.reason_messages[i]}
                                                             if i in self.reason_messages else {})}
                                             for i, r in enumerate(self.reasons)]
            parsed["Error"]["Message"] = ("Transaction cancelled, please refer cancellation reasons for specific "
                                          f"reasons [{', '.join(self.reasons)}]")
        return parsed


@dataclass
class Injector:
    """Records every call of the handler's clients; fails the ``nth`` call of ``operation`` once."""

    calls: list[str] = field(default_factory=list)
    operation: str | None = None
    nth: int = 0
    fault: Fault | None = None
    fired: int = 0

    def arm(self, operation: str, nth: int, fault: Fault) -> None:
        self.calls, self.operation, self.nth, self.fault, self.fired = [], operation, nth, fault, 0

    def disarm(self) -> None:
        self.calls, self.operation, self.fault = [], None, None

    def __call__(self, model, **_kwargs):
        self.calls.append(model.name)
        if self.fault is None or model.name != self.operation or self.calls.count(model.name) != self.nth:
            return None
        self.fired += 1
        return AWSResponse("https://injected", self.fault.status, {}, None), self.fault.parsed(model.name)


@pytest.fixture
def injector(kv):
    inject = Injector()
    clients = [aws_clients.client(service) for service in SERVICE_IDS]
    for service, client in zip(SERVICE_IDS.values(), clients, strict=True):
        client.meta.events.register_first(f"before-call.{service}", inject, unique_id="kv-test-faults")
    yield inject
    for service, client in zip(SERVICE_IDS.values(), clients, strict=True):
        client.meta.events.unregister(f"before-call.{service}", unique_id="kv-test-faults")


# -- the faults, by kind, with the answer each must give --------------------------------
THROTTLED = Fault(400, "ProvisionedThroughputExceededException")
DDB_INTERNAL = Fault(500, "InternalServerError")
SM_THROTTLED = Fault(400, "ThrottlingException")
SM_INTERNAL = Fault(500, "InternalServiceError")


def faults_for(operation: str, kind: str) -> list[tuple[Fault, int, str]]:
    """(fault, status, error) of ``kind`` that ``operation`` can meet; [] when it cannot."""
    if operation == "GetSecretValue":
        return {
            "throttling": [(SM_THROTTLED, 503, "throttled")],
            "internal": [(SM_INTERNAL, 503, "service_unavailable")],
            # The function's role or the secret is misconfigured: a defect, not the caller's fault.
            "defect": [(Fault(400, "AccessDeniedException"), 500, "internal_error"),
                       (Fault(400, "ResourceNotFoundException"), 500, "internal_error")],
        }.get(kind, [])
    table = {
        "throttling": [(THROTTLED, 503, "throttled"), (Fault(400, "ThrottlingException"), 503, "throttled"),
                       (Fault(400, "RequestLimitExceeded"), 503, "throttled")],
        "internal": [(DDB_INTERNAL, 503, "service_unavailable"), (Fault(503, "ServiceUnavailable"), 503,
                                                                  "service_unavailable")],
        "defect": [(Fault(400, "ValidationException", message="One or more parameter values were invalid"),
                    500, "internal_error")],
    }
    if operation == "UpdateItem":
        # A single-item write colliding with an in-flight transaction.
        table["conflict"] = [(Fault(400, "TransactionConflictException"), 503, "busy")]
    if operation == "TransactWriteItems":
        table["conflict"] = [(Fault(400, "TransactionCanceledException", reasons), 503, "busy")
                             for reasons in (["TransactionConflict", "None"], ["None", "TransactionConflict"])]
        table["throttling"] += [(Fault(400, "TransactionCanceledException", reasons), 503, "busy")
                                for reasons in (["ThrottlingError", "None"], ["None", "ProvisionedThroughputExceeded"])]
        table["defect"] += [(Fault(400, "TransactionCanceledException", ["None", "ValidationError"]),
                             500, "internal_error")]
    return table.get(kind, [])


# -- route scenarios -------------------------------------------------------------------
# Each takes a client for a fresh tenant and a tag naming that tenant's things; ``setup``
# runs fault-free, ``request`` is what gets the fault and then the retry.
@dataclass
class Scenario:
    setup: Callable[[Client, str], Any]
    request: Callable[[Client, str, Any], Reply]
    status: int


def _ns(tag):
    return f"app-{tag}"


def _setup_ns(c, tag, keys=0):
    assert c.call("PUT", f"/namespaces/{_ns(tag)}").status == 201
    etags = []
    for i in range(keys):
        reply = c.call("PUT", f"/namespaces/{_ns(tag)}/keys/k{i}", body={"value": {"n": i, "s": "v" * (10 * i + 3)}})
        assert reply.status == 201, reply
        etags.append(reply.headers["ETag"])
    return {"etags": etags}


def _setup_two_namespaces(c, tag):
    _setup_ns(c, tag)
    assert c.call("PUT", f"/namespaces/zzz-{tag}").status == 201
    return {}


SCENARIOS = {
    "signup": Scenario(lambda c, t: {}, lambda c, t, x: c.call("POST", "/users", body={"email": f"new-{t}@example.com"},
                                                                key=None), 201),
    "me": Scenario(lambda c, t: {}, lambda c, t, x: c.call("GET", "/me"), 200),
    "list_namespaces": Scenario(_setup_two_namespaces,
                                lambda c, t, x: c.call("GET", "/namespaces", query={"limit": "1"}), 200),
    "create_namespace": Scenario(lambda c, t: {}, lambda c, t, x: c.call("PUT", f"/namespaces/{_ns(t)}"), 201),
    "delete_namespace": Scenario(lambda c, t: _setup_ns(c, t, keys=3),
                                 lambda c, t, x: c.call("DELETE", f"/namespaces/{_ns(t)}", query={"force": "true"}),
                                 200),
    "delete_empty_namespace": Scenario(lambda c, t: _setup_ns(c, t),
                                       lambda c, t, x: c.call("DELETE", f"/namespaces/{_ns(t)}"), 200),
    "list_keys": Scenario(lambda c, t: _setup_ns(c, t, keys=2),
                          lambda c, t, x: c.call("GET", f"/namespaces/{_ns(t)}/keys", query={"limit": "1"}), 200),
    "list_keys_page_2": Scenario(
        lambda c, t: {**_setup_ns(c, t, keys=2),
                      "cursor": c.call("GET", f"/namespaces/{_ns(t)}/keys", query={"limit": "1"}).body["cursor"]},
        lambda c, t, x: c.call("GET", f"/namespaces/{_ns(t)}/keys", query={"limit": "1", "cursor": x["cursor"]}),
        200),
    "list_empty_namespace": Scenario(lambda c, t: _setup_ns(c, t),
                                     lambda c, t, x: c.call("GET", f"/namespaces/{_ns(t)}/keys"), 200),
    "get_key": Scenario(lambda c, t: _setup_ns(c, t, keys=1),
                        lambda c, t, x: c.call("GET", f"/namespaces/{_ns(t)}/keys/k0"), 200),
    "put_new_key": Scenario(lambda c, t: _setup_ns(c, t),
                            lambda c, t, x: c.call("PUT", f"/namespaces/{_ns(t)}/keys/a/b",
                                                   body={"value": [1, "two", {"three": 3}]}), 201),
    "overwrite_key": Scenario(lambda c, t: _setup_ns(c, t, keys=1),
                              lambda c, t, x: c.call("PUT", f"/namespaces/{_ns(t)}/keys/k0",
                                                     body={"value": "a longer value than before"}), 200),
    "overwrite_key_if_match": Scenario(lambda c, t: _setup_ns(c, t, keys=1),
                                       lambda c, t, x: c.call("PUT", f"/namespaces/{_ns(t)}/keys/k0",
                                                              body={"value": "x"},
                                                              headers={"If-Match": x["etags"][0]}), 200),
    "delete_key": Scenario(lambda c, t: _setup_ns(c, t, keys=1),
                           lambda c, t, x: c.call("DELETE", f"/namespaces/{_ns(t)}/keys/k0"), 200),
    "delete_key_if_match": Scenario(lambda c, t: _setup_ns(c, t, keys=1),
                                    lambda c, t, x: c.call("DELETE", f"/namespaces/{_ns(t)}/keys/k0",
                                                           headers={"If-Match": x["etags"][0]}), 200),
}

# Every call type the KV handler makes, and nothing else (a new one must join the matrix).
CALL_TYPES = {"Query", "GetItem", "UpdateItem", "TransactWriteItems", "GetSecretValue"}


# -- state of one tenant -----------------------------------------------------------------
_USER_ID = re.compile(r"u_[0-9a-f]{16}")
_HASHED = re.compile(r"(APIKEY|EMAIL)#[0-9a-f]{64}")
_VOLATILE = {"createdAt", "updatedAt"}


def _user_label(owner: str, others: list[str]) -> Callable[[re.Match[str]], str]:
    """Name user ids by role: the tenant's own is OWNER, any other USER<n> in sorted order."""
    return lambda m: "OWNER" if m.group(0) == owner else f"USER{others.index(m.group(0))}"


def tenant_state(aws, user_id: str, tag: str) -> list[str]:
    """Every item of the tenant (its user, the users its request created, their claims and
    namespaces and keys), with its ids, tag and timestamps normalized, sorted."""
    from .conftest import table_env

    table = table_env()["TABLE_NAME"]
    items, start = [], None
    while True:
        page = aws.scan(TableName=table, **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    texts = [json.dumps(i, sort_keys=True) for i in items]
    ids = {user_id} | {m for t in texts if f"-{tag}@" in t for m in _USER_ID.findall(t)}
    mine = [i for i, t in zip(items, texts, strict=True) if any(u in t for u in ids) or f"-{tag}" in t]
    out = []
    for item in mine:
        item = {k: v for k, v in item.items() if k not in _VOLATILE}
        if "deleting" in item:
            item["deleting"] = "set"
        text = json.dumps(item, sort_keys=True).replace(f"-{tag}", "-TAG")
        text = _HASHED.sub(lambda m: m.group(1) + "#*", text)
        text = _USER_ID.sub(_user_label(user_id, sorted(ids - {user_id})), text)
        out.append(text)
    return sorted(out)


class Context(LambdaContext):
    """A Lambda context whose remaining time runs down with the clock."""

    def __init__(self, millis: int):
        super().__init__(aws_request_id="kv-fault-test")
        self.millis = millis
        self.started = time.monotonic()

    def get_remaining_time_in_millis(self) -> int:
        return int(self.millis - (time.monotonic() - self.started) * 1000)


class TimedClient(Client):
    """The test client, but every call carries a Lambda context with ``millis`` left."""

    millis = 3_000

    def call(self, method, path, *, body=None, headers=None, query=None, key=...) -> Reply:
        from lambda_src.kv.api import handler

        headers = dict(headers or {})
        api_key = self.api_key if key is ... else key
        if api_key:
            headers["x-api-key"] = api_key
        context = Context(self.millis)
        raw = handler(event(method, path, body=body, headers=headers, query=query), context)
        self.elapsed_ms = (time.monotonic() - context.started) * 1000
        out_headers = {k: v[-1] for k, v in (raw.get("multiValueHeaders") or {}).items()}
        out_headers.update(raw.get("headers") or {})
        return Reply(raw["statusCode"], json.loads(raw["body"]), out_headers)


def _new_tenant(anon: Client, tag: str) -> tuple[TimedClient, str]:
    signed = anon.signup(f"owner-{tag}@example.com")
    client = TimedClient(signed.api_key)
    user_id = client.call("GET", "/me").body["userId"]
    return client, user_id


def _cold(injector) -> None:
    """A fresh container: the cursor secret is read again (so GetSecretValue is in every run)."""
    cursor.reset_secret()


def _baseline(aws, anon, injector, scenario: Scenario, tag: str):
    client, user_id = _new_tenant(anon, tag)
    context = scenario.setup(client, tag)
    _cold(injector)
    injector.disarm()
    reply = scenario.request(client, tag, context)
    assert reply.status == scenario.status, reply
    calls = list(injector.calls)
    return calls, tenant_state(aws, user_id, tag)


def _occurrences(calls: list[str]) -> list[tuple[str, int]]:
    seen: dict[str, int] = {}
    out = []
    for op in calls:
        seen[op] = seen.get(op, 0) + 1
        out.append((op, seen[op]))
    return out


def test_the_matrix_covers_every_call_type_the_handler_makes(aws, kv, anon, injector):
    made = set()
    for n, scenario in enumerate(SCENARIOS.values()):
        calls, _ = _baseline(aws, anon, injector, scenario, f"c{n}x")
        made |= set(calls)
    assert made == CALL_TYPES


@pytest.mark.parametrize("kind", ["throttling", "internal", "conflict", "defect"])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_a_fault_on_any_call_answers_truthfully_and_loses_nothing(aws, kv, anon, injector, name, kind):
    scenario = SCENARIOS[name]
    calls, expected_state = _baseline(aws, anon, injector, scenario, "base")
    cases = [(op, nth, fault, status, error)
             for op, nth in _occurrences(calls) for fault, status, error in faults_for(op, kind)]
    if not cases:
        pytest.skip(f"no call of {name} can meet a {kind} fault")
    for n, (op, nth, fault, status, error) in enumerate(cases):
        tag = f"f{n}x"
        where = f"{name}: {fault.code}{fault.reasons or ''} on {op} #{nth}"
        client, user_id = _new_tenant(anon, tag)
        context = scenario.setup(client, tag)
        _cold(injector)
        injector.arm(op, nth, fault)
        reply = scenario.request(client, tag, context)
        assert injector.fired == 1, where
        injector.disarm()
        assert (reply.status, reply.body.get("error")) == (status, error), (where, reply)
        assert reply.body.get("message"), where
        if status == 503:
            assert int(reply.headers["Retry-After"]) >= 1, where
        else:
            assert "Retry-After" not in reply.headers, where
        assert client.elapsed_ms < TimedClient.millis, where
        # The same request again: it succeeds, and the tenant holds what one success stores.
        _cold(injector)
        retried = scenario.request(client, tag, context)
        assert retried.status == scenario.status, (where, retried)
        assert tenant_state(aws, user_id, tag) == expected_state, where


# -- every attempt fails: the SDK retries, and the deadline stops them in time ----------
class _HttpThrottle:
    """A ``before-send`` handler answering every attempt with a throttling error; ``attempts`` holds their times."""

    def __init__(self, service: str):
        self.code = "ProvisionedThroughputExceededException" if service == "dynamodb" else "ThrottlingException"
        self.body = json.dumps({"__type": self.code, "message": "slow down"}).encode()
        self.attempts: list[float] = []

    def __call__(self, request, **_kwargs):
        from moto.core.botocore_stubber import MockRawResponse

        # botocore calls every before-send handler and uses the first answer; moto's handler
        # (less specific, so called after this one) would still execute the request. Point the
        # attempt elsewhere so that only this answer exists, as when AWS throttles it.
        request.url = "https://throttled.invalid/"
        self.attempts.append(time.monotonic())
        time.sleep(0.05)
        return AWSResponse(request.url, 400, {"x-amzn-ErrorType": self.code,
                                              "Content-Type": "application/x-amz-json-1.0"},
                           MockRawResponse(self.body))


def _http_throttle(service: str, operation: str) -> _HttpThrottle:
    """A ``before-send`` handler answering every attempt of ``operation`` with a throttling error."""
    return _HttpThrottle(service)


@pytest.mark.parametrize("name,operation", [
    ("me", "Query"), ("me", "UpdateItem"), ("get_key", "GetItem"), ("put_new_key", "TransactWriteItems"),
    ("signup", "UpdateItem"), ("signup", "TransactWriteItems"), ("list_keys", "GetSecretValue"),
    ("list_empty_namespace", "GetItem"), ("delete_namespace", "TransactWriteItems"),
])
def test_sustained_throttling_answers_503_before_the_deadline_and_the_retry_is_exact(aws, kv, anon, injector, name,
                                                                                       operation):
    scenario = SCENARIOS[name]
    _, expected_state = _baseline(aws, anon, injector, scenario, "base")
    client, user_id = _new_tenant(anon, "slow")
    context = scenario.setup(client, "slow")
    service = "secretsmanager" if operation == "GetSecretValue" else "dynamodb"
    real = aws_clients.client(service)
    throttle = _http_throttle(service, operation)
    event_name = f"before-send.{SERVICE_IDS[service]}.{operation}"
    _cold(injector)
    real.meta.events.register_first(event_name, throttle, unique_id="kv-test-throttle")
    try:
        reply = scenario.request(client, "slow", context)
    finally:
        real.meta.events.unregister(event_name, unique_id="kv-test-throttle")
    assert throttle.attempts, "the throttled call was never made"
    assert reply.status == 503 and reply.body["error"] in ("throttled", "deadline_exceeded"), reply
    assert int(reply.headers["Retry-After"]) >= 1
    assert client.elapsed_ms < TimedClient.millis
    _cold(injector)
    assert scenario.request(client, "slow", context).status == scenario.status
    assert tenant_state(aws, user_id, "slow") == expected_state


# -- a transaction cancelled by a condition: the domain answer, even beside a retryable reason ---
CCF = "ConditionalCheckFailed"


@pytest.mark.parametrize("name,reasons,status,error", [
    ("signup", ["None", CCF], 409, "email_taken"),
    ("signup", ["ThrottlingError", CCF], 409, "email_taken"),
    ("create_namespace", [CCF, "None", "None"], 409, "namespace_unavailable"),
    ("put_new_key", [CCF, "None", "None"], 404, "namespace_not_found"),
    ("put_new_key", [CCF, "TransactionConflict", "None"], 404, "namespace_not_found"),
    ("put_new_key", ["None", "None", CCF], 401, "invalid_api_key"),  # the user's item is gone
    ("overwrite_key_if_match", [CCF, "None", "None"], 404, "namespace_not_found"),
    ("delete_key_if_match", [CCF, "None"], 404, "key_not_found"),
    ("delete_empty_namespace", [CCF, "None", "None"], 404, "namespace_not_found"),
])
def test_a_condition_failure_is_the_documented_domain_answer(aws, kv, anon, injector, name, reasons, status, error):
    scenario = SCENARIOS[name]
    _, expected_state = _baseline(aws, anon, injector, scenario, "base")
    client, user_id = _new_tenant(anon, "ccf")
    context = scenario.setup(client, "ccf")
    before = tenant_state(aws, user_id, "ccf")
    injector.arm("TransactWriteItems", 1, Fault(400, "TransactionCanceledException", reasons))
    reply = scenario.request(client, "ccf", context)
    assert injector.fired == 1
    injector.disarm()
    assert (reply.status, reply.body["error"]) == (status, error), reply
    assert "Retry-After" not in reply.headers
    if name != "delete_empty_namespace":  # its first write, the documented `deleting` mark, stays until repeated
        assert tenant_state(aws, user_id, "ccf") == before  # nothing written
    assert scenario.request(client, "ccf", context).status == scenario.status
    assert tenant_state(aws, user_id, "ccf") == expected_state


@pytest.mark.parametrize("fault", [
    Fault(400, "ValidationException", message="Item size has exceeded the maximum allowed size"),
    Fault(400, "ValidationException", message="Item size to update has exceeded the maximum allowed size"),
])
def test_an_item_over_dynamodbs_size_limit_is_the_values_413(aws, kv, anon, injector, fault):
    client, user_id = _new_tenant(anon, "big")
    _setup_ns(client, "big")
    before = tenant_state(aws, user_id, "big")
    injector.arm("TransactWriteItems", 1, fault)
    reply = client.call("PUT", "/namespaces/app-big/keys/k", body={"value": "v"})
    assert injector.fired == 1
    assert (reply.status, reply.body["error"]) == (413, "value_too_large")
    assert tenant_state(aws, user_id, "big") == before


def test_a_transaction_cancelled_for_an_items_size_is_the_values_413(aws, kv, anon, injector):
    client, user_id = _new_tenant(anon, "big")
    _setup_ns(client, "big")
    injector.arm("TransactWriteItems", 1,
                 Fault(400, "TransactionCanceledException", ["None", "ValidationError", "None"],
                       reason_messages={1: "Item size has exceeded the maximum allowed size"}))
    reply = client.call("PUT", "/namespaces/app-big/keys/k", body={"value": "v"})
    assert injector.fired == 1
    assert (reply.status, reply.body["error"]) == (413, "value_too_large")
