"""DynamoDB operations of the KV API, one request per operation where possible.

Every key format, index name and access pattern comes from ``schema``; the
deployed table and GSI names come from the environment (``TABLE_NAME``,
``GSI_NAME``), which the stack sets from the data stack's values.

Writes are TransactWriteItems that carry their own checks: namespace
ownership (ConditionCheck), the key's version, and the user's usage counters
(``ADD requestCount, storageBytes`` with the plan caps as conditions). The
storage delta needs the old value's size; the ETag ``"version.size"`` gives
it, and without one a cancelled transaction returns the old item
(``ReturnValuesOnConditionCheckFailure``), so the retry is exact with no read.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import time
from datetime import datetime, timezone

from botocore.exceptions import ClientError

from lambda_src.common.aws_clients import dynamodb as _client
from lambda_src.common.hashing import new_secret, sha256_hex
from lambda_src.common.requests import build_request, from_item, to_attr, to_item
from lambda_src.kv import cursor as cursors
from lambda_src.kv import deadline, schema
from lambda_src.kv.errors import (Busy, Conflict, DomainError, InvalidInput, NotFound, RateLimited,
                                  RequestCapExceeded, StorageCapExceeded, Unauthenticated)
from lambda_src.kv.meter import METER
from lambda_src.kv.plans import DEFAULT_PLAN, current_month, plan_of, requests_this_month
from lambda_src.kv.validation import Expected

MAX_PAGE = 100
DEFAULT_PAGE = 50
DELETE_BATCH = 25  # keys per force-delete transaction (plus the usage update)
_ATTEMPTS = 3
_DELETE_CONFLICTS = 10  # cancelled force-delete batches tolerated before answering 409
SIGNUPS_PER_HOUR = 10  # per source address (an IPv6 client by its /64); KV_SIGNUPS_PER_HOUR overrides


def dynamodb():
    """The container's DynamoDB client, with the invocation deadline hooked in."""
    client = _client()
    deadline.install(client)
    return client


def now_epoch() -> float:
    return time.time()


def iso_now() -> str:
    return datetime.fromtimestamp(now_epoch(), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def table_name() -> str:
    return os.environ.get("TABLE_NAME") or schema.TABLE.table_name("dev")


def spec():
    return schema.TABLE.with_index_renamed(schema.GSI1.name, os.environ.get("GSI_NAME") or schema.GSI1.name)


def _request(pattern: str, params: dict, **kwargs) -> tuple[str, dict]:
    table_spec = spec()
    return build_request(table_spec, table_spec.pattern(pattern), params, table_name=table_name(), **kwargs)


def _key(pk: str, sk: str) -> dict:
    return {"PK": to_attr(pk), "SK": to_attr(sk)}


def is_live(item: dict) -> bool:
    """Expired items stay until DynamoDB's TTL sweep deletes them; they are never shown."""
    ttl = item.get("ttl")
    return ttl is None or ttl > now_epoch()


# -- users -------------------------------------------------------------------
def signup_source(source_ip: str | None) -> str:
    """The rate-limited unit: an IPv4 address, or an IPv6 client's /64 prefix."""
    try:
        address = ipaddress.ip_address((source_ip or "").strip())
    except ValueError:
        return "unknown"
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def count_signup(source_ip: str | None) -> None:
    """One conditional counter per source and UTC hour (expires by TTL); 429 past the limit."""
    limit = int(os.environ.get("KV_SIGNUPS_PER_HOUR") or SIGNUPS_PER_HOUR)
    now = int(now_epoch())
    hour_end = (now // 3600 + 1) * 3600
    hour = datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H")
    try:
        dynamodb().update_item(
            TableName=table_name(),
            Key=_key(schema.SIGNUP_PK.build(sourceHash=sha256_hex(signup_source(source_ip))),
                     schema.HOUR_SK.build(hour=hour)),
            UpdateExpression="ADD #n :one SET #ttl = if_not_exists(#ttl, :ttl), entityType = :type",
            ConditionExpression="attribute_not_exists(#n) OR #n < :max",
            ExpressionAttributeNames={"#n": "signups", "#ttl": "ttl"},
            ExpressionAttributeValues={":one": to_attr(1), ":max": to_attr(limit),
                                       ":ttl": to_attr(hour_end + 3600), ":type": to_attr(schema.USER_TYPE)},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        raise RateLimited("rate_limited", "too many signups from this address; retry later",
                       {"Retry-After": str(max(1, hour_end - now))}) from None


def create_user(email: str) -> tuple[dict, str]:
    """Store a user on the ``free`` plan keyed by the SHA-256 of a fresh API key; return (user, raw key).

    The user and an ``EMAIL#<sha256(email)>`` claim are written in one
    transaction, so one address holds at most one user (409 ``email_taken``).
    """
    user_id = "u_" + secrets.token_hex(8)
    api_key = new_secret("kv_")
    now = iso_now()
    item = {
        "PK": schema.USER_PK.build(userId=user_id), "SK": schema.METADATA_SK.build(),
        "GSI1PK": schema.APIKEY_GSI1PK.build(apiKeyHash=sha256_hex(api_key)),
        "GSI1SK": schema.METADATA_SK.build(), "entityType": schema.USER_TYPE,
        "userId": user_id, "email": email, "plan": DEFAULT_PLAN, "requestCount": 0,
        "storageBytes": 0, "usageMonth": current_month(now_epoch()),
        "createdAt": now, "updatedAt": now,
    }
    claim = {"PK": schema.EMAIL_PK.build(emailHash=sha256_hex(email)), "SK": schema.METADATA_SK.build(),
             "entityType": schema.USER_TYPE, "userId": user_id, "createdAt": now}
    reasons = _transact([
        {"Put": {"TableName": table_name(), "Item": to_item(item), "ConditionExpression": "attribute_not_exists(PK)"}},
        {"Put": {"TableName": table_name(), "Item": to_item(claim), "ConditionExpression": "attribute_not_exists(PK)"}},
    ])
    if reasons is not None:
        if _failed(reasons[1]):
            raise Conflict("email_taken", "that email address already has an account")
        raise Conflict("transaction_conflict", "a concurrent request changed the same data; retry")
    return item, api_key


def authenticate(api_key: str | None) -> dict:
    """One Query on GSI1 by the key's hash; the raw key is never stored or logged."""
    if not api_key:
        raise Unauthenticated("missing_api_key", "send your API key in the x-api-key header")
    _, kwargs = _request("user-by-api-key", {"apiKeyHash": sha256_hex(api_key)}, limit=1)
    items = dynamodb().query(**kwargs).get("Items", [])
    if not items:
        raise Unauthenticated("invalid_api_key", "the API key is not valid")
    return from_item(items[0])


def check_request_cap(user: dict) -> None:
    month = current_month(now_epoch())
    used = requests_this_month(user, month) + METER.peek(user["userId"])
    if used >= plan_of(user).monthly_requests:
        raise RequestCapExceeded("request_limit_exceeded",
                       f"the {plan_of(user).name} plan allows {plan_of(user).monthly_requests} "
                       "requests a month; upgrade or wait for next month",
                       {"Retry-After": "3600"})


def usage_update(user: dict, *, delta_bytes: int = 0, enforce: bool = True) -> tuple[dict, int]:
    """The Update of a user's counters for one write, plus pending reads.

    Returns the transaction element and how many requests it records. With
    ``enforce`` the plan caps are conditions, so a write over a cap fails
    atomically with its own work.
    """
    user_id = user["userId"]
    count = 1 + METER.peek(user_id) if enforce else METER.peek(user_id)
    month = current_month(now_epoch())
    plan = plan_of(user)
    values = {":n": to_attr(count), ":d": to_attr(delta_bytes), ":m": to_attr(month)}
    if user.get("usageMonth") == month:
        expression = "ADD requestCount :n, storageBytes :d"
        condition = "attribute_exists(PK) AND usageMonth = :m"
        if enforce:
            condition += " AND requestCount <= :rmax"
            values[":rmax"] = to_attr(plan.monthly_requests - count)
    else:
        expression = "SET requestCount = :n, usageMonth = :m ADD storageBytes :d"
        condition = "attribute_exists(PK) AND (attribute_not_exists(usageMonth) OR usageMonth <> :m)"
    if enforce and delta_bytes > 0:
        condition += " AND storageBytes <= :smax"
        values[":smax"] = to_attr(plan.storage_bytes - delta_bytes)
    update = {
        "TableName": table_name(),
        "Key": _key(schema.USER_PK.build(userId=user_id), schema.METADATA_SK.build()),
        "UpdateExpression": expression,
        "ConditionExpression": condition,
        "ExpressionAttributeValues": values,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    return update, count


def over_cap_error(user: dict, delta_bytes: int) -> DomainError:
    plan = plan_of(user)
    month = current_month(now_epoch())
    if requests_this_month(user, month) + METER.peek(user["userId"]) + 1 > plan.monthly_requests:
        return RequestCapExceeded("request_limit_exceeded",
                        f"the {plan.name} plan allows {plan.monthly_requests} requests a month")
    return StorageCapExceeded("storage_limit_exceeded",
                    f"this write would exceed the {plan.name} plan's {plan.storage_bytes} stored bytes")


def record_read(user: dict) -> None:
    """Count a read; flush pending reads with one UpdateItem every ``flush_every``."""
    if not METER.record(user["userId"]):
        return
    update, count = usage_update(user, enforce=False)
    update.pop("ReturnValuesOnConditionCheckFailure")
    try:
        dynamodb().update_item(**update)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return  # the user is gone or the month turned over meanwhile: drop the batch
    METER.settle(user["userId"], count)


def _reasons(exc: ClientError) -> list[dict]:
    return exc.response.get("CancellationReasons") or []


def _failed(reason: dict) -> bool:
    return reason.get("Code") not in (None, "None", "")


def _transact(items: list[dict]) -> list[dict] | None:
    """Run a transaction; None on success, else the cancellation reasons."""
    try:
        dynamodb().transact_write_items(TransactItems=items)
        return None
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = _reasons(exc)
        if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
            return reasons
        # Cancelled for throttling, a conflicting transaction or a transient
        # fault: nothing was written and the same request can succeed.
        raise Busy("busy", "a concurrent request or the table's capacity held this one; retry",
                       {"Retry-After": "1"}) from None


def _user_failed(user: dict, reason: dict, delta_bytes: int) -> dict:
    """After the usage Update failed: the fresh user if only the month turned, else a cap error."""
    fresh = from_item(reason["Item"]) if reason.get("Item") else None
    if fresh is None:
        raise Unauthenticated("invalid_api_key", "the API key is not valid")
    if fresh.get("usageMonth") != user.get("usageMonth"):
        return fresh
    raise over_cap_error(fresh, delta_bytes)


RETRY = object()  # an ``on_cancel`` answer: build the transaction again and retry


def transact_with_usage(user: dict, attempt, *, exhausted: DomainError):
    """The write-with-usage loop, written once for every write.

    ``attempt(user)`` returns ``(items, delta_bytes, on_cancel)``: the
    transaction's own elements and the storage delta they cause. The user's
    usage Update (request count, delta, plan caps) is appended as the last
    element. On commit the pending reads it carried are settled and None is
    returned. When the transaction is cancelled by a condition of the
    caller's elements, ``on_cancel(reasons)`` raises a domain error, returns
    ``RETRY``, or returns a result that is passed back; when only the usage
    Update failed, the month turned (retry with the fresh user) or a cap is
    reached (its error). After ``_ATTEMPTS`` rounds, ``exhausted`` is raised.
    """
    for _ in range(_ATTEMPTS):
        items, delta, on_cancel = attempt(user)
        usage, count = usage_update(user, delta_bytes=delta)
        reasons = _transact(items + [{"Update": usage}])
        if reasons is None:
            METER.settle(user["userId"], count - 1)
            return None
        if any(_failed(r) for r in reasons[:-1]):
            outcome = on_cancel(reasons[:-1])
            if outcome is not RETRY:
                return outcome
            continue
        user = _user_failed(user, reasons[-1], delta)
    raise exhausted


# -- namespaces --------------------------------------------------------------
def _invalid_cursor() -> DomainError:
    return InvalidInput("invalid_cursor", "the cursor does not belong to this listing")


def list_namespaces(user: dict, *, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
    """One Query under the user's own partition: every page is the caller's by construction."""
    user_id = user["userId"]
    try:
        after = cursors.decode(cursor, "namespaces", user_id)
    except cursors.InvalidCursor:
        raise _invalid_cursor() from None
    start = None
    if after is not None:
        start = _key(schema.USER_PK.build(userId=user_id), schema.NS_MEMBER_SK.build(ns=after))
    _, kwargs = _request("user-namespaces", {"userId": user_id}, limit=limit, start_key=start)
    page = dynamodb().query(**kwargs)
    items = [from_item(i) for i in page.get("Items", [])]
    last = items[-1]["ns"] if items and page.get("LastEvaluatedKey") else None
    return ([{"namespace": i["ns"], "createdAt": i.get("createdAt")} for i in items],
            cursors.encode("namespaces", user_id, last))


def create_namespace(user: dict, ns: str) -> tuple[dict, bool]:
    """Namespace names are global: one owner each. Returns (namespace, created)."""
    user_id = user["userId"]
    now = iso_now()
    meta = {"PK": schema.NS_PK.build(ns=ns), "SK": schema.METADATA_SK.build(),
            "GSI1PK": schema.NS_GSI1PK.build(userId=user_id), "GSI1SK": schema.NS_GSI1SK.build(ns=ns),
            "entityType": schema.NAMESPACE_TYPE, "ns": ns, "ownerId": user_id,
            "createdAt": now, "updatedAt": now}
    member = {"PK": schema.USER_PK.build(userId=user_id), "SK": schema.NS_MEMBER_SK.build(ns=ns),
              "entityType": schema.NAMESPACE_TYPE, "ns": ns, "createdAt": now}
    def attempt(_user):
        return [{"Put": {"TableName": table_name(), "Item": to_item(meta),
                         "ConditionExpression": "attribute_not_exists(PK)",
                         "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
                {"Put": {"TableName": table_name(), "Item": to_item(member)}}], 0, on_cancel

    def on_cancel(reasons):
        existing = from_item(reasons[0].get("Item") or {})
        if existing.get("ownerId") == user_id:
            return {"namespace": ns, "createdAt": existing.get("createdAt")}, False
        raise Conflict("namespace_unavailable", "that namespace name is not available; choose another")

    outcome = transact_with_usage(user, attempt,
                                  exhausted=Conflict("transaction_conflict", "concurrent updates; retry"))
    return outcome if outcome is not None else ({"namespace": ns, "createdAt": now}, True)


def namespace_exists(user: dict, ns: str) -> bool:
    _, kwargs = _request("namespace", {"ns": ns})
    item = dynamodb().get_item(**kwargs).get("Item")
    return bool(item) and from_item(item).get("ownerId") == user["userId"]


def _namespace_key_page(ns: str, start: dict | None, limit: int) -> dict:
    """Keys of a namespace from the base table, strongly consistent (for deletes)."""
    _, kwargs = _request("namespace-keys", {"ns": ns}, limit=limit, start_key=start)
    kwargs["ConsistentRead"] = True
    return dynamodb().query(**kwargs)


def _mark_deleting(user: dict, ns: str, *, on: bool) -> None:
    """Set (or clear) ``deleting`` on the namespace; writes of keys check it is absent."""
    update = {"TableName": table_name(),
              "Key": _key(schema.NS_PK.build(ns=ns), schema.METADATA_SK.build()),
              "ConditionExpression": "ownerId = :uid",
              "ExpressionAttributeValues": {":uid": to_attr(user["userId"])}}
    if on:
        update["UpdateExpression"] = "SET deleting = :now, updatedAt = :iso"
        update["ExpressionAttributeValues"].update({":now": to_attr(int(now_epoch())), ":iso": to_attr(iso_now())})
    else:
        update["UpdateExpression"] = "REMOVE deleting"
    try:
        dynamodb().update_item(**update)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        raise NotFound("namespace_not_found", f"no namespace {ns!r}") from None


def delete_namespace(user: dict, ns: str, *, force: bool) -> int:
    """Delete a namespace; with ``force`` its keys first, a batch per transaction.

    The namespace is first marked ``deleting`` (one conditional update that
    also checks ownership): from then on every key write in it fails its
    ConditionCheck, so the key pages read below are final. Each batch
    deletes up to DELETE_BATCH keys, each conditioned on the version and
    size that were read, and subtracts exactly those bytes from the owner's
    storage in the same transaction; if any key changed meanwhile (a delete
    of one key racing), the batch is cancelled and the page read again. An
    interrupted delete leaves exact counters and can simply be repeated.
    Returns the number of keys deleted.
    """
    user_id = user["userId"]
    _mark_deleting(user, ns, on=True)
    deleted = 0
    conflicts = 0
    start = None
    while True:
        deadline.check()
        page = _namespace_key_page(ns, start, DELETE_BATCH)
        items = [from_item(i) for i in page.get("Items", [])]
        if any(i.get("ownerId") != user_id for i in items):
            raise NotFound("namespace_not_found", f"no namespace {ns!r}")
        if items and not force:
            _mark_deleting(user, ns, on=False)
            raise Conflict("namespace_not_empty",
                           "the namespace still holds keys; delete them or pass ?force=true")
        if items:
            freed = sum(int(i.get("size", 0)) for i in items)
            usage, _ = usage_update(user, delta_bytes=-freed, enforce=False)
            usage.pop("ReturnValuesOnConditionCheckFailure")
            reasons = _transact(
                [{"Delete": {"TableName": table_name(), "Key": _key(i["PK"], i["SK"]),
                             "ConditionExpression": "ownerId = :uid AND #v = :v AND #s = :s",
                             "ExpressionAttributeNames": {"#v": "version", "#s": "size"},
                             "ExpressionAttributeValues": {":uid": to_attr(user_id),
                                                           ":v": to_attr(int(i["version"])),
                                                           ":s": to_attr(int(i.get("size", 0)))}}}
                 for i in items]
                + [{"Update": usage}]
            )
            if reasons is not None:
                conflicts += 1
                if conflicts > _DELETE_CONFLICTS:
                    raise Conflict("transaction_conflict", "keys kept changing during the delete; retry")
                if _failed(reasons[-1]):
                    user = _user_failed(user, reasons[-1], 0)
                continue  # a key changed under us: read the same page again
            deleted += len(items)
            continue  # the page is gone: read from the same start again
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    def attempt(_user):
        return [{"Delete": {"TableName": table_name(),
                            "Key": _key(schema.NS_PK.build(ns=ns), schema.METADATA_SK.build()),
                            "ConditionExpression": "ownerId = :uid",
                            "ExpressionAttributeValues": {":uid": to_attr(user_id)}}},
                {"Delete": {"TableName": table_name(),
                            "Key": _key(schema.USER_PK.build(userId=user_id),
                                        schema.NS_MEMBER_SK.build(ns=ns))}}], 0, on_cancel

    def on_cancel(_reasons):
        raise NotFound("namespace_not_found", f"no namespace {ns!r}")

    transact_with_usage(user, attempt, exhausted=Conflict("transaction_conflict", "concurrent updates; retry"))
    return deleted


# -- keys --------------------------------------------------------------------
def public_key(item: dict) -> dict:
    out = {"namespace": item["ns"], "key": item["key"], "value": item.get("value"),
           "version": int(item["version"]), "size": int(item.get("size", 0)),
           "updatedAt": item.get("updatedAt")}
    if item.get("createdAt"):
        out["createdAt"] = item["createdAt"]
    if item.get("ttl") is not None:
        out["expiresAt"] = int(item["ttl"])
    return out


def get_key(user: dict, ns: str, key: str) -> dict:
    """One GetItem; another owner's key or an expired one looks exactly like a missing one."""
    _, kwargs = _request("key", {"ns": ns, "key": key})
    raw = dynamodb().get_item(**kwargs).get("Item")
    item = from_item(raw) if raw else None
    if not item or item.get("ownerId") != user["userId"] or not is_live(item):
        raise NotFound("key_not_found", f"no key {key!r} in namespace {ns!r}")
    return item


def put_key(user: dict, ns: str, key: str, value, size: int, ttl_seconds: int | None,
            expected: Expected | None) -> tuple[dict, bool]:
    """Create or replace a key in one transaction; returns (item, created)."""
    user_id = user["userId"]
    known = (expected.version, expected.size) if expected and expected.size is not None else None
    probe = expected is not None and known is None
    state = {"known": known, "probe": probe, "created_at": None, "item": None}

    def attempt(_user):
        known, probe = state["known"], state["probe"]
        now = iso_now()
        item = {"PK": schema.NS_PK.build(ns=ns), "SK": schema.KEY_SK.build(key=key),
                "GSI1PK": schema.KEY_GSI1PK.build(ns=ns), "GSI1SK": schema.KEY_GSI1SK.build(key=key),
                "entityType": schema.KEY_TYPE, "ns": ns, "key": key, "ownerId": user_id,
                "value": value, "size": size,
                "updatedAt": now, "createdAt": now, "version": 1}
        if ttl_seconds:
            item["ttl"] = int(now_epoch()) + ttl_seconds
        names = {"#v": "version", "#s": "size"}
        values = {":uid": to_attr(user_id)}
        if known:
            item["version"] = known[0] + 1
            condition = "#v = :old AND #s = :oldsize AND ownerId = :uid"
            values.update({":old": to_attr(known[0]), ":oldsize": to_attr(known[1])})
            delta = size - known[1]
        elif probe:  # only the version is known: fail on purpose to learn the stored size
            condition = "#v = :old AND #s = :never AND ownerId = :uid"
            values.update({":old": to_attr(expected.version), ":never": to_attr(-1)})
            delta = size
        else:
            condition = "attribute_not_exists(PK)"
            values = {}
            names = {}
            delta = size
        state["item"] = item
        return [
            {"ConditionCheck": {"TableName": table_name(),
                                "Key": _key(schema.NS_PK.build(ns=ns), schema.METADATA_SK.build()),
                                "ConditionExpression": "ownerId = :uid AND attribute_not_exists(deleting)",
                                "ExpressionAttributeValues": {":uid": to_attr(user_id)}}},
            {"Update": _key_update(item, condition, names, values)},
        ], delta, on_cancel

    def on_cancel(reasons):
        if _failed(reasons[0]):
            raise NotFound("namespace_not_found", f"no namespace {ns!r}")
        old = from_item(reasons[1]["Item"]) if reasons[1].get("Item") else None
        if old is None or old.get("ownerId") != user_id:
            if expected:
                raise Conflict("version_conflict", "the key does not exist at that version")
            state["known"], state["probe"] = None, False
            return RETRY  # deleted meanwhile: try creating again
        if expected and (int(old["version"]) != expected.version or not is_live(old)):
            raise Conflict("version_conflict",
                           f"the key is at version {old['version']}, not {expected.version}"
                           if is_live(old) else "the key does not exist at that version")
        state["known"], state["probe"] = (int(old["version"]), int(old.get("size", 0))), False
        state["created_at"] = old.get("createdAt")
        return RETRY

    transact_with_usage(user, attempt, exhausted=Conflict("version_conflict", "the key kept changing; retry"))
    item = state["item"]
    if state["known"]:
        item["createdAt"] = state["created_at"]
    return item, not state["known"]


def _key_update(item: dict, condition: str, names: dict, values: dict) -> dict:
    """The key's Update element: replaces value and metadata, keeps ``createdAt``."""
    sets, names, values = [], dict(names), dict(values)
    for i, (name, value) in enumerate(sorted(item.items())):
        if name in ("PK", "SK", "createdAt"):
            continue
        names[f"#a{i}"] = name
        try:
            values[f":a{i}"] = to_item({"v": value})["v"]
        except Exception:  # numbers DynamoDB cannot hold, sets, ...
            raise InvalidInput("invalid_value", "value cannot be stored as JSON") from None
        sets.append(f"#a{i} = :a{i}")
    names["#created"] = "createdAt"
    values[":now"] = to_attr(item["createdAt"])
    expression = "SET " + ", ".join(sets) + ", #created = if_not_exists(#created, :now)"
    if "ttl" not in item:
        names["#ttl"] = "ttl"
        expression += " REMOVE #ttl"
    return {"TableName": table_name(), "Key": _key(item["PK"], item["SK"]),
            "UpdateExpression": expression, "ConditionExpression": condition,
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}


def delete_key(user: dict, ns: str, key: str, expected: Expected | None) -> None:
    """Delete a key and give its bytes back, atomically; 404 if it is not visible."""
    user_id = user["userId"]
    known = (expected.version, expected.size) if expected and expected.size is not None else None
    state = {"known": known}

    def attempt(_user):
        known = state["known"]
        values = {":uid": to_attr(user_id)}
        if known:
            condition = "#v = :old AND #s = :oldsize AND ownerId = :uid"
            values.update({":old": to_attr(known[0]), ":oldsize": to_attr(known[1])})
            delta = -known[1]
        else:  # learn version and size from the cancelled attempt
            condition = "#s = :never AND ownerId = :uid"
            values[":never"] = to_attr(-1)
            delta = 0
        return [{"Delete": {"TableName": table_name(),
                            "Key": _key(schema.NS_PK.build(ns=ns), schema.KEY_SK.build(key=key)),
                            "ConditionExpression": condition,
                            "ExpressionAttributeNames": {"#s": "size", **({"#v": "version"} if known else {})},
                            "ExpressionAttributeValues": values,
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}], delta, on_cancel

    def on_cancel(reasons):
        old = from_item(reasons[0]["Item"]) if reasons[0].get("Item") else None
        if old is None or old.get("ownerId") != user_id:
            raise NotFound("key_not_found", f"no key {key!r} in namespace {ns!r}")
        if expected and int(old["version"]) != expected.version:
            raise Conflict("version_conflict", f"the key is at version {old['version']}, not {expected.version}")
        state["known"] = (int(old["version"]), int(old.get("size", 0)))
        return RETRY

    transact_with_usage(user, attempt, exhausted=Conflict("version_conflict", "the key kept changing; retry"))


def list_keys(user: dict, ns: str, prefix: str, *, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
    """One Query on GSI1 per page; expired keys are filtered server-side.

    Every page is authorized: the keys it returns must all be the caller's,
    and an empty page is only answered after the namespace's owner is checked.
    """
    user_id = user["userId"]
    try:
        after = cursors.decode(cursor, "keys", user_id, ns=ns, prefix=prefix)
    except cursors.InvalidCursor:
        raise _invalid_cursor() from None
    start = None
    if after is not None:
        start = {**_key(schema.NS_PK.build(ns=ns), schema.KEY_SK.build(key=after)),
                 "GSI1PK": to_attr(schema.KEY_GSI1PK.build(ns=ns)),
                 "GSI1SK": to_attr(schema.KEY_GSI1SK.build(key=after))}
    _, kwargs = _request("keys-by-prefix", {"ns": ns, "prefix": prefix}, limit=limit, start_key=start)
    kwargs["FilterExpression"] = "attribute_not_exists(#ttl) OR #ttl > :now"
    kwargs["ExpressionAttributeNames"]["#ttl"] = "ttl"
    kwargs["ExpressionAttributeValues"][":now"] = to_attr(int(now_epoch()))
    page = dynamodb().query(**kwargs)
    items = [from_item(i) for i in page.get("Items", [])]
    if any(i.get("ownerId") != user_id for i in items):
        raise NotFound("namespace_not_found", f"no namespace {ns!r}")
    if not items and not namespace_exists(user, ns):
        raise NotFound("namespace_not_found", f"no namespace {ns!r}")
    last_key = page.get("LastEvaluatedKey")
    last = from_item(last_key)["GSI1SK"][len("KEY#"):] if last_key else None
    return [public_key(i) for i in items], cursors.encode("keys", user_id, last, ns=ns, prefix=prefix)
