"""KV table plumbing and usage accounting: the client, names, keys, and the write-with-usage loop.

Every write is one TransactWriteItems that carries its own checks and the
user's usage counters (``ADD requestCount, storageBytes`` with the plan caps
as conditions); ``transact_with_usage`` is that loop, written once. Reads are
metered in batches (``record_read``).
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from lambda_src.common import clock, faults
from lambda_src.common.aws_clients import dynamodb as _client
from lambda_src.common.environment import required
from lambda_src.common.requests import build_request, from_item, to_attr
from lambda_src.kv import deadline, schema
from lambda_src.kv.declarations import GSI_NAME_VAR, TABLE_NAME_VAR
from lambda_src.kv.errors import (
    Busy,
    DomainError,
    RequestCapExceeded,
    StorageCapExceeded,
    Unauthenticated,
    ValueTooLarge,
)
from lambda_src.kv.meter import METER
from lambda_src.kv.plans import current_month, plan_of, requests_this_month

MAX_PAGE = 100

DEFAULT_PAGE = 50

DELETE_BATCH = 25  # keys per force-delete transaction (plus the usage update)

ATTEMPTS = 3

DELETE_CONFLICTS = 10  # cancelled force-delete batches tolerated before answering 409


def dynamodb():
    """The container's DynamoDB client, with the invocation deadline hooked in."""
    client = _client()
    deadline.install(client)
    return client


def table_name() -> str:
    """The deployed table (``TABLE_NAME``); ``MissingSetting`` when the stack did not set it."""
    return required(TABLE_NAME_VAR)


def spec():
    """The table's declaration, its GSI1 under the deployed name (``GSI_NAME``)."""
    return schema.TABLE.with_index_renamed(schema.GSI1.name, required(GSI_NAME_VAR))


def request(pattern: str, params: dict, **kwargs) -> tuple[str, dict]:
    table_spec = spec()
    return build_request(table_spec, table_spec.pattern(pattern), params, table_name=table_name(), **kwargs)


def item_key(pk: str, sk: str) -> dict:
    return {"PK": to_attr(pk), "SK": to_attr(sk)}


def is_live(item: dict) -> bool:
    """Expired items stay until DynamoDB's TTL sweep deletes them; they are never shown."""
    ttl = item.get("ttl")
    return ttl is None or ttl > clock.now()


def check_request_cap(user: dict) -> None:
    month = current_month(clock.now())
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
    month = current_month(clock.now())
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
        "Key": item_key(schema.USER_PK.build(userId=user_id), schema.METADATA_SK.build()),
        "UpdateExpression": expression,
        "ConditionExpression": condition,
        "ExpressionAttributeValues": values,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    return update, count


def over_cap_error(user: dict, delta_bytes: int) -> DomainError:
    plan = plan_of(user)
    month = current_month(clock.now())
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
            # This request fails with the write, so it is not counted; the reads
            # pending before it stay pending for the next write or flush.
            METER.settle(user["userId"], 1)
            raise
        return  # the user is gone or the month turned over meanwhile: drop the batch
    except Exception:
        METER.settle(user["userId"], 1)
        raise
    METER.settle(user["userId"], count)


def cancellation_reasons(exc: ClientError) -> list[dict]:
    return exc.response.get("CancellationReasons") or []


def failed(reason: dict) -> bool:
    return reason.get("Code") not in (None, "None", "")


def _item_too_large(exc: ClientError) -> bool:
    """DynamoDB refused an item for its size (a key's value is the only part a client sizes)."""
    code = faults.error_code(exc)
    if code == "TransactionCanceledException":
        messages = [str((r or {}).get("Message") or "") for r in cancellation_reasons(exc)]
    elif code == "ValidationException":
        messages = [exc.response.get("Error", {}).get("Message", "")]
    else:
        return False
    return any("item size" in m.lower() for m in messages)


def transact(items: list[dict]) -> list[dict] | None:
    """Run a transaction; None on success, else the cancellation reasons."""
    try:
        dynamodb().transact_write_items(TransactItems=items)
        return None
    except ClientError as exc:
        if _item_too_large(exc):
            raise ValueTooLarge("value_too_large", "the item exceeds DynamoDB's 400 KB limit") from None
        if exc.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = cancellation_reasons(exc)
        if "ConditionalCheckFailed" in faults.transaction_reasons(exc):
            return reasons
        if faults.classify(exc) is None:
            raise  # cancelled for a reason no retry fixes (a ValidationError): a defect
        # Cancelled for throttling, a conflicting transaction or a transient
        # fault: nothing was written and the same request can succeed.
        raise Busy("busy", "a concurrent request or the table's capacity held this one; retry",
                       {"Retry-After": "1"}) from None


def user_after_usage_failed(user: dict, reason: dict, delta_bytes: int) -> dict:
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
    reached (its error). After ``ATTEMPTS`` rounds, ``exhausted`` is raised.
    """
    for _ in range(ATTEMPTS):
        items, delta, on_cancel = attempt(user)
        usage, count = usage_update(user, delta_bytes=delta)
        reasons = transact(items + [{"Update": usage}])
        if reasons is None:
            METER.settle(user["userId"], count - 1)
            return None
        if any(failed(r) for r in reasons[:-1]):
            outcome = on_cancel(reasons[:-1])
            if outcome is not RETRY:
                return outcome
            continue
        user = user_after_usage_failed(user, reasons[-1], delta)
    raise exhausted

