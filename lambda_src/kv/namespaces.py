"""KV namespaces: listing (signed cursors), creation and deletion with exact counters."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambda_src.common import clock
from lambda_src.common.requests import from_item, to_attr, to_item
from lambda_src.kv import cursor as cursors
from lambda_src.kv import deadline, schema
from lambda_src.kv.errors import Conflict, DomainError, InvalidInput, NotFound
from lambda_src.kv.usage import (
    DELETE_BATCH,
    DELETE_CONFLICTS,
    dynamodb,
    failed,
    item_key,
    request,
    table_name,
    transact,
    transact_with_usage,
    usage_update,
    user_after_usage_failed,
)


def invalid_cursor() -> DomainError:
    return InvalidInput("invalid_cursor", "the cursor does not belong to this listing")


def list_namespaces(user: dict, *, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
    """One Query under the user's own partition: every page is the caller's by construction."""
    user_id = user["userId"]
    try:
        after = cursors.decode(cursor, "namespaces", user_id)
    except cursors.InvalidCursor:
        raise invalid_cursor() from None
    start = None
    if after is not None:
        start = item_key(schema.USER_PK.build(userId=user_id), schema.NS_MEMBER_SK.build(ns=after))
    _, kwargs = request("user-namespaces", {"userId": user_id}, limit=limit, start_key=start)
    page = dynamodb().query(**kwargs)
    items = [from_item(i) for i in page.get("Items", [])]
    last = items[-1]["ns"] if items and page.get("LastEvaluatedKey") else None
    return ([{"namespace": i["ns"], "createdAt": i.get("createdAt")} for i in items],
            cursors.encode("namespaces", user_id, last))


def create_namespace(user: dict, ns: str) -> tuple[dict, bool]:
    """Namespace names are global: one owner each. Returns (namespace, created)."""
    user_id = user["userId"]
    now = clock.iso_seconds()
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
    _, kwargs = request("namespace", {"ns": ns})
    item = dynamodb().get_item(**kwargs).get("Item")
    return bool(item) and from_item(item).get("ownerId") == user["userId"]


def _namespace_key_page(ns: str, start: dict | None, limit: int) -> dict:
    """Keys of a namespace from the base table, strongly consistent (for deletes)."""
    _, kwargs = request("namespace-keys", {"ns": ns}, limit=limit, start_key=start)
    kwargs["ConsistentRead"] = True
    return dynamodb().query(**kwargs)


def _mark_deleting(user: dict, ns: str, *, on: bool) -> None:
    """Set (or clear) ``deleting`` on the namespace; writes of keys check it is absent."""
    update: dict[str, Any] = {"TableName": table_name(),
                              "Key": item_key(schema.NS_PK.build(ns=ns), schema.METADATA_SK.build()),
                              "ConditionExpression": "ownerId = :uid",
                              "ExpressionAttributeValues": {":uid": to_attr(user["userId"])}}
    if on:
        update["UpdateExpression"] = "SET deleting = :now, updatedAt = :iso"
        update["ExpressionAttributeValues"].update({":now": to_attr(int(clock.now())),
                                                    ":iso": to_attr(clock.iso_seconds())})
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
            reasons = transact(
                [{"Delete": {"TableName": table_name(), "Key": item_key(i["PK"], i["SK"]),
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
                if conflicts > DELETE_CONFLICTS:
                    raise Conflict("transaction_conflict", "keys kept changing during the delete; retry")
                if failed(reasons[-1]):
                    user = user_after_usage_failed(user, reasons[-1], 0)
                continue  # a key changed under us: read the same page again
            deleted += len(items)
            continue  # the page is gone: read from the same start again
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    def attempt(_user):
        return [{"Delete": {"TableName": table_name(),
                            "Key": item_key(schema.NS_PK.build(ns=ns), schema.METADATA_SK.build()),
                            "ConditionExpression": "ownerId = :uid",
                            "ExpressionAttributeValues": {":uid": to_attr(user_id)}}},
                {"Delete": {"TableName": table_name(),
                            "Key": item_key(schema.USER_PK.build(userId=user_id),
                                        schema.NS_MEMBER_SK.build(ns=ns))}}], 0, on_cancel

    def on_cancel(cancellation_reasons):
        raise NotFound("namespace_not_found", f"no namespace {ns!r}")

    transact_with_usage(user, attempt, exhausted=Conflict("transaction_conflict", "concurrent updates; retry"))
    return deleted

