"""The KV storage HTTP API: API Gateway (REST, Lambda proxy) -> this handler.

Routes are thin: validate input, authenticate with one GSI1 Query, call
``store``. Every error is a 4xx ``{"error", "message"}`` body (see
``lambda_src.common.api``); a retryable AWS fault (throttling, a conflict, a
5xx) is 503 with ``Retry-After``, and 500 is left for real defects.
"""

from __future__ import annotations

import json
from urllib.parse import unquote

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from lambda_src.common import decoding, faults
from lambda_src.common.api import ApiError, error_response, install_error_handlers, json_body
from lambda_src.kv import deadline, errors, store, usage, validation
from lambda_src.kv.meter import METER
from lambda_src.kv.plans import current_month, plan_of, requests_this_month

logger = Logger()
app = APIGatewayRestResolver()
install_error_handlers(app, logger)

# Retryable faults are classified by the shared policy (``common.faults``); these codes
# are transient too: Secrets Manager's 5xx, and any AWS answer with a 5xx status.
_TRANSIENT = {"InternalServiceError", "InternalServiceErrorException", "InternalFailure", "ServiceUnavailable"}
# Retryable because another writer held the item, not because the service is short of capacity.
_CONFLICTS = {"TransactionConflictException", "TransactionInProgressException", "TransactionCanceledException"}


# The one mapping from the store's domain errors to HTTP statuses.
_STATUS = {
    errors.InvalidInput: 400,
    errors.Unauthenticated: 401,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.StorageCapExceeded: 413,
    errors.RequestCapExceeded: 429,
    errors.RateLimited: 429,
    errors.Busy: 503,
}


@app.exception_handler(errors.DomainError)
def _domain_error(exc: errors.DomainError):
    return error_response(_STATUS[type(exc)], exc.code, exc.message, exc.headers)


@app.exception_handler(deadline.DeadlineExceeded)
def _out_of_time(exc: deadline.DeadlineExceeded):
    return error_response(503, "deadline_exceeded", "the request could not finish in time; retry shortly",
                          {"Retry-After": "1"})


@app.exception_handler(BotoConnectionError)
def _unreachable(exc: Exception):
    logger.warning("aws unreachable", extra={"error": type(exc).__name__})
    return error_response(503, "service_unavailable", "a backing service is unreachable; retry shortly",
                          {"Retry-After": "1"})


@app.exception_handler(HTTPClientError)
def _http_client_error(exc: Exception):
    return _unreachable(exc)


@app.exception_handler(ClientError)
def _client_error(exc: ClientError):
    """AWS errors the store did not turn into domain errors: retryable ones are 503 with
    ``Retry-After``; an item over DynamoDB's size limit is the value's (413); anything else
    is a defect of our own request or configuration (500)."""
    code = faults.error_code(exc) or ""
    kind = faults.classify(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if kind is None and (code in _TRANSIENT or status >= 500):
        kind = "unavailable"
    if kind == "throttled":
        logger.warning("aws throttling", extra={"code": code})
        return error_response(503, "throttled", "the service is busy; retry shortly", {"Retry-After": "1"})
    if kind is not None:
        logger.warning("retryable aws fault", extra={"code": code})
        if code in _CONFLICTS:
            return error_response(503, "busy", "a concurrent request held this one; retry shortly",
                                  {"Retry-After": "1"})
        return error_response(503, "service_unavailable", "a backing service failed; retry shortly",
                              {"Retry-After": "1"})
    if _item_too_large(exc):
        return error_response(413, "value_too_large", "the item exceeds DynamoDB's 400 KB limit")
    logger.exception("aws error", extra={"code": code})
    return error_response(500, "internal_error", "the request could not be completed")


def _item_too_large(exc: ClientError) -> bool:
    """DynamoDB refused an item for its size (a key's value is the only part a client sizes)."""
    messages = [exc.response.get("Error", {}).get("Message", "")]
    if faults.error_code(exc) == "TransactionCanceledException":
        messages = [str((r or {}).get("Message") or "") for r in exc.response.get("CancellationReasons") or []]
    elif faults.error_code(exc) != "ValidationException":
        return False
    return any("item size" in m.lower() for m in messages)


def _json(status: int, body: dict, headers: dict | None = None) -> Response:
    return Response(status_code=status, content_type="application/json",
                    body=json.dumps(body, default=str), headers=headers or {})


def _header(name: str) -> str | None:
    for key, value in (app.current_event.headers or {}).items():
        if isinstance(key, str) and key.lower() == name:
            return value if isinstance(value, str) else None
    return None


def _query(name: str) -> str | None:
    return (app.current_event.query_string_parameters or {}).get(name)


def _limit() -> int:
    raw = _query("limit")
    if raw in (None, ""):
        return store.DEFAULT_PAGE
    try:  # ASCII digits only: "²" or "٣" pass str.isdigit but are no limit
        number = decoding.ascii_int(raw, code="invalid_limit", minimum=1, maximum=10**12, what="limit")
    except decoding.DecodeError:
        raise ApiError(400, "invalid_limit", f"limit is a whole number from 1 to {store.MAX_PAGE}") from None
    return min(number, store.MAX_PAGE)


def _user() -> dict:
    api_key = _header("x-api-key")
    if api_key and not decoding.clean_text(api_key):
        raise ApiError(401, "invalid_api_key", "the API key is not valid")
    user = store.authenticate(api_key)
    store.check_request_cap(user)
    return user


def _usage(user: dict) -> dict:
    plan = plan_of(user)
    month = current_month(usage.now_epoch())
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
        raise ApiError(400, "plan_not_allowed",
                       "every account starts on the free plan; plans are changed by an operator")
    unknown = sorted(k for k in body if k != "email")
    if unknown:
        raise ApiError(400, "invalid_body", f"unknown field(s): {', '.join(unknown)}")
    email = validation.email(body.get("email"))
    identity = (app.current_event.raw_event.get("requestContext") or {}).get("identity") or {}
    store.count_signup(identity.get("sourceIp") if isinstance(identity, dict) else None)
    user, api_key = store.create_user(email)
    logger.info("user created", extra={"userId": user["userId"]})
    return _json(201, {"userId": user["userId"], "email": email, "plan": user["plan"], "apiKey": api_key,
                       "createdAt": user["createdAt"],
                       "note": "store the apiKey now: it is shown only once"})


@app.get("/me")
def me():
    user = _user()
    counts = _usage(user)
    counts["requestCount"] += 1  # this request, counted by record_read below
    store.record_read(user)
    return _json(200, {"userId": user["userId"], "email": user.get("email"), "plan": user.get("plan"),
                       "requestCount": counts["requestCount"], "storageBytes": counts["storageBytes"],
                       "usageMonth": counts["month"], "limits": counts["limits"],
                       "createdAt": user.get("createdAt")})


# -- namespaces --------------------------------------------------------------
@app.get("/namespaces")
def list_namespaces():
    user = _user()
    items, cursor = store.list_namespaces(user, limit=_limit(), cursor=_query("cursor"))
    store.record_read(user)
    return _json(200, {"namespaces": items, "cursor": cursor})


@app.put("/namespaces/<ns>")
def put_namespace(ns: str):
    ns = validation.namespace(unquote(ns))
    user = _user()
    namespace, created = store.create_namespace(user, ns)
    return _json(201 if created else 200, namespace)


@app.delete("/namespaces/<ns>")
def delete_namespace(ns: str):
    ns = validation.namespace(unquote(ns))
    force = (_query("force") or "").lower() in ("1", "true", "yes")
    user = _user()
    deleted = store.delete_namespace(user, ns, force=force)
    return _json(200, {"namespace": ns, "deleted": True, "keysDeleted": deleted})


# -- keys --------------------------------------------------------------------
@app.get("/namespaces/<ns>/keys")
def list_keys(ns: str):
    ns = validation.namespace(unquote(ns))
    prefix = _query("prefix") or ""
    if prefix:
        validation.key(prefix)
    limit = _limit()
    user = _user()
    items, cursor = store.list_keys(user, ns, prefix, limit=limit, cursor=_query("cursor"))
    store.record_read(user)
    return _json(200, {"namespace": ns, "prefix": prefix, "keys": items, "cursor": cursor})


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
    return _json(200, body, {"ETag": validation.etag(body["version"], body["size"])})


@app.put("/namespaces/<ns>/keys/.+")
def put_key(ns: str):
    ns, key = _key_path()
    body = json_body(app)
    if "value" not in body:
        raise ApiError(400, "missing_value", 'send {"value": <any JSON>, "ttl": <seconds, optional>}')
    unknown = sorted(set(body) - {"value", "ttl"})
    if unknown:
        raise ApiError(400, "invalid_body", f"unknown field(s): {', '.join(unknown)}")
    size = validation.value_size(body["value"])
    ttl = validation.ttl_seconds(body.get("ttl"))
    expected = validation.if_match(_header("if-match"))
    user = _user()
    item, created = store.put_key(user, ns, key, body["value"], size, ttl, expected)
    out = store.public_key(item)
    return _json(201 if created else 200, out, {"ETag": validation.etag(out["version"], out["size"])})


@app.delete("/namespaces/<ns>/keys/.+")
def delete_key(ns: str):
    ns, key = _key_path()
    expected = validation.if_match(_header("if-match"))
    user = _user()
    store.delete_key(user, ns, key, expected)
    return _json(200, {"namespace": ns, "key": key, "deleted": True})


def handler(event, context):
    """Lambda entry point (``lambda_src.kv.api.handler``)."""
    logger.append_keys(request_id=getattr(context, "aws_request_id", None))
    if not isinstance(event, dict) or "httpMethod" not in event or "path" not in event:
        return {"statusCode": 400, "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"error": "invalid_event", "message": "expected an API Gateway REST event"})}
    deadline.start(context)
    try:
        return app.resolve(event, context)
    finally:
        deadline.clear()
