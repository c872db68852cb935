"""KV keys: get, put and delete with versions and exact storage accounting, and listings by prefix.

The storage delta of a write needs the old value's size; the ETag
``"version.size"`` gives it, and without one a cancelled transaction returns
the old item (``ReturnValuesOnConditionCheckFailure``), so the retry is exact
with no read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lambda_src.common import clock
from lambda_src.common.requests import from_item, to_attr, to_item
from lambda_src.kv import cursor as cursors
from lambda_src.kv import schema
from lambda_src.kv.errors import Conflict, InvalidInput, NotFound
from lambda_src.kv.namespaces import invalid_cursor, namespace_exists
from lambda_src.kv.usage import RETRY, dynamodb, failed, is_live, item_key, request, table_name, transact_with_usage
from lambda_src.kv.validation import Expected


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
    _, kwargs = request("key", {"ns": ns, "key": key})
    raw = dynamodb().get_item(**kwargs).get("Item")
    item = from_item(raw) if raw else None
    if not item or item.get("ownerId") != user["userId"] or not is_live(item):
        raise NotFound("key_not_found", f"no key {key!r} in namespace {ns!r}")
    return item


@dataclass
class _PutState:
    """What ``put_key``'s attempts learn: the stored version and size, and the item written."""

    known: tuple[int, int] | None  # (version, size) of the stored key
    probe: bool  # only the version is known: the first attempt learns the size
    created_at: str | None = None
    item: dict = field(default_factory=dict)


def put_key(user: dict, ns: str, key: str, value, size: int, ttl_seconds: int | None,
            expected: Expected | None) -> tuple[dict, bool]:
    """Create or replace a key in one transaction; returns (item, created)."""
    user_id = user["userId"]
    known = (expected.version, expected.size) if expected and expected.size is not None else None
    probe = expected is not None and known is None
    state = _PutState(known=known, probe=probe)

    def attempt(_user):
        known, probe = state.known, state.probe
        now = clock.iso_seconds()
        item = {"PK": schema.NS_PK.build(ns=ns), "SK": schema.KEY_SK.build(key=key),
                "GSI1PK": schema.KEY_GSI1PK.build(ns=ns), "GSI1SK": schema.KEY_GSI1SK.build(key=key),
                "entityType": schema.KEY_TYPE, "ns": ns, "key": key, "ownerId": user_id,
                "value": value, "size": size,
                "updatedAt": now, "createdAt": now, "version": 1}
        if ttl_seconds:
            item["ttl"] = int(clock.now()) + ttl_seconds
        names = {"#v": "version", "#s": "size"}
        values = {":uid": to_attr(user_id)}
        if known:
            item["version"] = known[0] + 1
            condition = "#v = :old AND #s = :oldsize AND ownerId = :uid"
            values.update({":old": to_attr(known[0]), ":oldsize": to_attr(known[1])})
            delta = size - known[1]
        elif probe and expected is not None:  # only the version is known: fail on purpose to learn the size
            condition = "#v = :old AND #s = :never AND ownerId = :uid"
            values.update({":old": to_attr(expected.version), ":never": to_attr(-1)})
            delta = size
        else:
            condition = "attribute_not_exists(PK)"
            values = {}
            names = {}
            delta = size
        state.item = item
        return [
            {"ConditionCheck": {"TableName": table_name(),
                                "Key": item_key(schema.NS_PK.build(ns=ns), schema.METADATA_SK.build()),
                                "ConditionExpression": "ownerId = :uid AND attribute_not_exists(deleting)",
                                "ExpressionAttributeValues": {":uid": to_attr(user_id)}}},
            {"Update": _key_update(item, condition, names, values)},
        ], delta, on_cancel

    def on_cancel(reasons):
        if failed(reasons[0]):
            raise NotFound("namespace_not_found", f"no namespace {ns!r}")
        old = from_item(reasons[1]["Item"]) if reasons[1].get("Item") else None
        if old is None or old.get("ownerId") != user_id:
            if expected:
                raise Conflict("version_conflict", "the key does not exist at that version")
            state.known, state.probe = None, False
            return RETRY  # deleted meanwhile: try creating again
        if expected and (int(old["version"]) != expected.version or not is_live(old)):
            raise Conflict("version_conflict",
                           f"the key is at version {old['version']}, not {expected.version}"
                           if is_live(old) else "the key does not exist at that version")
        state.known, state.probe = (int(old["version"]), int(old.get("size", 0))), False
        state.created_at = old.get("createdAt")
        return RETRY

    transact_with_usage(user, attempt, exhausted=Conflict("version_conflict", "the key kept changing; retry"))
    item = state.item
    if state.known:
        item["createdAt"] = state.created_at
    return item, not state.known


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
    return {"TableName": table_name(), "Key": item_key(item["PK"], item["SK"]),
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
                            "Key": item_key(schema.NS_PK.build(ns=ns), schema.KEY_SK.build(key=key)),
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
        raise invalid_cursor() from None
    start = None
    if after is not None:
        start = {**item_key(schema.NS_PK.build(ns=ns), schema.KEY_SK.build(key=after)),
                 "GSI1PK": to_attr(schema.KEY_GSI1PK.build(ns=ns)),
                 "GSI1SK": to_attr(schema.KEY_GSI1SK.build(key=after))}
    _, kwargs = request("keys-by-prefix", {"ns": ns, "prefix": prefix}, limit=limit, start_key=start)
    kwargs["FilterExpression"] = "attribute_not_exists(#ttl) OR #ttl > :now"
    kwargs["ExpressionAttributeNames"]["#ttl"] = "ttl"
    kwargs["ExpressionAttributeValues"][":now"] = to_attr(int(clock.now()))
    page = dynamodb().query(**kwargs)
    items = [from_item(i) for i in page.get("Items", [])]
    if any(i.get("ownerId") != user_id for i in items):
        raise NotFound("namespace_not_found", f"no namespace {ns!r}")
    if not items and not namespace_exists(user, ns):
        raise NotFound("namespace_not_found", f"no namespace {ns!r}")
    last_key = page.get("LastEvaluatedKey")
    last = from_item(last_key)["GSI1SK"][len("KEY#"):] if last_key else None
    return [public_key(i) for i in items], cursors.encode("keys", user_id, last, ns=ns, prefix=prefix)

