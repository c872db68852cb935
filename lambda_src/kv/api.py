"""The KV storage HTTP API: API Gateway (REST, Lambda proxy) -> this handler.

Routes are thin: validate input, authenticate with one GSI1 Query, call
``store``. Domain errors (``errors``) answer with the status ``STATUS``
names and a ``{"error", "message"}`` body (``lambda_src.common.http``); a
retryable AWS fault (throttling, a conflict, a 5xx, an unreachable endpoint,
the invocation's deadline) is 503 with ``Retry-After``, and 500 is left for
real defects.
"""

from __future__ import annotations

import json
from urllib.parse import unquote

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths

from lambda_src.common import clock, decoding
from lambda_src.common.environment import require
from lambda_src.common.errors import DomainError
from lambda_src.common.http import FaultAnswers, install_error_handlers, json_body, json_response
from lambda_src.kv import deadline, errors, store, validation
from lambda_src.kv.declarations import GSI_NAME_VAR, TABLE_NAME_VAR
from lambda_src.kv.meter import METER
from lambda_src.kv.plans import current_month, plan_of, requests_this_month

# The one mapping from KV's domain errors to HTTP statuses.
STATUS: dict[type[DomainError], int] = {
    errors.InvalidInput: 400,
    errors.Unauthenticated: 401,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.StorageCapExceeded: 413,
    errors.ValueTooLarge: 413,
    errors.RequestCapExceeded: 429,
    errors.RateLimited: 429,
    errors.Busy: 503,
}
# KV's words for retryable AWS faults (all 503 with Retry-After).
FAULTS = FaultAnswers(
    throttled=("throttled", "the service is busy; retry shortly"),
    unavailable=("service_unavailable", "a backing service failed; retry shortly"),
    conflict=("busy", "a concurrent request held this one; retry shortly"),
    unreachable=("service_unavailable", "a backing service is unreachable; retry shortly"),
)

logger = Logger()
app = APIGatewayRestResolver()
install_error_handlers(app, logger, domain_errors=STATUS, fault_answers=FAULTS)


def _source_ip() -> str | None:
    """The caller's address as API Gateway saw it (None for an event without one)."""
    try:
        return app.current_event.request_context.identity.source_ip
    except (KeyError, TypeError):
        return None


def _limit() -> int:
    raw = app.current_event.get_query_string_value("limit")
    if raw in (None, ""):
        return store.DEFAULT_PAGE
    try:  # ASCII digits only: "²" or "٣" pass str.isdigit but are no limit
        number = decoding.ascii_int(raw, code="invalid_limit", minimum=1, maximum=10**12, what="limit")
    except decoding.DecodeError:
        raise errors.InvalidInput("invalid_limit", f"limit is a whole number from 1 to {store.MAX_PAGE}") from None
    return min(number, store.MAX_PAGE)


def _user() -> dict:
    api_key = app.current_event.get_header_value("x-api-key", case_sensitive=False)
    if api_key and not decoding.clean_text(api_key):
        raise errors.Unauthenticated("invalid_api_key", "the API key is not valid")
    user = store.authenticate(api_key)
    store.check_request_cap(user)
    return user


def _usage(user: dict) -> dict:
    plan = plan_of(user)
    month = current_month(clock.now())
    return {"month": month,
            "requestCount": requests_this_month(user, month) + METER.peek(user["userId"]),
            "storageBytes": int(user.get("storageBytes", 0)),
            "limits": {"monthlyRequests": plan.monthly_requests, "storageBytes": plan.storage_bytes}}


# -- users -------------------------------------------------------------------
@app.post("/users")
def signup():
    """Create a user on the ``free`` plan. Plans are the server's: a ``plan`` field is refused."""
    body = json_body(app)
    if "plan" in body:
        raise errors.InvalidInput("plan_not_allowed",
                                  "every account starts on the free plan; plans are changed by an operator")
    unknown = sorted(k for k in body if k != "email")
    if unknown:
        raise errors.InvalidInput("invalid_body", f"unknown field(s): {', '.join(unknown)}")
    email = validation.email(body.get("email"))
    store.count_signup(_source_ip())
    user, api_key = store.create_user(email)
    logger.info("user created", extra={"userId": user["userId"]})
    return json_response(201, {"userId": user["userId"], "email": email, "plan": user["plan"], "apiKey": api_key,
                       "createdAt": user["createdAt"],
                       "note": "store the apiKey now: it is shown only once"})


@app.get("/me")
def me():
    user = _user()
    counts = _usage(user)
    counts["requestCount"] += 1  # this request, counted by record_read below
    store.record_read(user)
    return json_response(200, {"userId": user["userId"], "email": user.get("email"), "plan": user.get("plan"),
                       "requestCount": counts["requestCount"], "storageBytes": counts["storageBytes"],
                       "usageMonth": counts["month"], "limits": counts["limits"],
                       "createdAt": user.get("createdAt")})


# -- namespaces --------------------------------------------------------------
@app.get("/namespaces")
def list_namespaces():
    user = _user()
    cursor = app.current_event.get_query_string_value("cursor")
    items, cursor = store.list_namespaces(user, limit=_limit(), cursor=cursor)
    store.record_read(user)
    return json_response(200, {"namespaces": items, "cursor": cursor})


@app.put("/namespaces/<ns>")
def put_namespace(ns: str):
    ns = validation.namespace(unquote(ns))
    user = _user()
    namespace, created = store.create_namespace(user, ns)
    return json_response(201 if created else 200, namespace)


@app.delete("/namespaces/<ns>")
def delete_namespace(ns: str):
    ns = validation.namespace(unquote(ns))
    force = (app.current_event.get_query_string_value("force") or "").lower() in ("1", "true", "yes")
    user = _user()
    deleted = store.delete_namespace(user, ns, force=force)
    return json_response(200, {"namespace": ns, "deleted": True, "keysDeleted": deleted})


# -- keys --------------------------------------------------------------------
@app.get("/namespaces/<ns>/keys")
def list_keys(ns: str):
    ns = validation.namespace(unquote(ns))
    prefix = app.current_event.get_query_string_value("prefix") or ""
    if prefix:
        validation.key(prefix)
    limit = _limit()
    user = _user()
    cursor = app.current_event.get_query_string_value("cursor")
    items, cursor = store.list_keys(user, ns, prefix, limit=limit, cursor=cursor)
    store.record_read(user)
    return json_response(200, {"namespace": ns, "prefix": prefix, "keys": items, "cursor": cursor})


def _key_path() -> tuple[str, str]:
    """``/namespaces/{ns}/keys/{key+}``: keys may contain '/', so read them from the path."""
    path = app.current_event.path
    rest = path[path.index("/namespaces/") + len("/namespaces/"):]
    ns, _, key = rest.partition("/keys/")  # a namespace holds no '/', so this split is exact
    return validation.namespace(unquote(ns)), validation.key(key)


@app.get("/namespaces/<ns>/keys/.+")
def get_key(ns: str):
    ns, key = _key_path()
    user = _user()
    item = store.get_key(user, ns, key)
    store.record_read(user)
    body = store.public_key(item)
    return json_response(200, body, {"ETag": validation.etag(body["version"], body["size"])})


@app.put("/namespaces/<ns>/keys/.+")
def put_key(ns: str):
    ns, key = _key_path()
    body = json_body(app)
    if "value" not in body:
        raise errors.InvalidInput("missing_value", 'send {"value": <any JSON>, "ttl": <seconds, optional>}')
    unknown = sorted(set(body) - {"value", "ttl"})
    if unknown:
        raise errors.InvalidInput("invalid_body", f"unknown field(s): {', '.join(unknown)}")
    size = validation.value_size(body["value"])
    ttl = validation.ttl_seconds(body.get("ttl"))
    expected = validation.if_match(app.current_event.get_header_value("if-match", case_sensitive=False))
    user = _user()
    item, created = store.put_key(user, ns, key, body["value"], size, ttl, expected)
    out = store.public_key(item)
    return json_response(201 if created else 200, out, {"ETag": validation.etag(out["version"], out["size"])})


@app.delete("/namespaces/<ns>/keys/.+")
def delete_key(ns: str):
    ns, key = _key_path()
    expected = validation.if_match(app.current_event.get_header_value("if-match", case_sensitive=False))
    user = _user()
    store.delete_key(user, ns, key, expected)
    return json_response(200, {"namespace": ns, "key": key, "deleted": True})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
def handler(event, context):
    """Lambda entry point (``lambda_src.kv.api.handler``)."""
    require(TABLE_NAME_VAR, GSI_NAME_VAR)
    if not isinstance(event, dict) or "httpMethod" not in event or "path" not in event:
        return {"statusCode": 400, "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"error": "invalid_event", "message": "expected an API Gateway REST event"})}
    deadline.start(context)
    try:
        return app.resolve(event, context)
    finally:
        deadline.clear()
