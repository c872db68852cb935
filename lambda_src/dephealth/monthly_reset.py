"""Monthly usage reset: the one full-table sweep (a Scan) in DepHealth.

It runs on a schedule several times on the first day of a month. Progress is
checkpointed after every page in ``SYSTEM#RESET_STATE`` / ``monthly_reset``
(month, status, the Scan's last evaluated key), so a run that crashes or
runs out of time is resumed by the next one; a month already complete is a
no-op. Each user is reset with a condition on ``reset_month``, so even a
replayed page never resets a user twice in one month.

``users_reset`` is exact after any crash: only this month's sweep sets
``reset_month`` to the month, and the checkpoint only ever counts whole
pages, so every user after the checkpoint whose ``reset_month`` already is
this month was reset by a run that crashed before counting it. A page
therefore counts the users it resets plus the users it finds already reset
(read from the failed condition's old item: no extra request), and the
checkpoint adds a page's count only if it still holds the page's start key,
so two overlapping runs never count one page twice.
"""

from __future__ import annotations

import json

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from lambda_src.common import clock
from lambda_src.common.requests import from_item, to_attr, to_item

from . import config
from .runtime import begin, dynamodb
from .schema import PENDING_SK, RESET_PK, RESET_SK, USER_PK

logger = Logger()
PAGE_SIZE = 200
SAFETY_MS = 10_000


def _state_key() -> dict:
    return {"pk": to_attr(RESET_PK.build()), "sk": to_attr(RESET_SK.build())}


def _load_state(client) -> dict:
    item = client.get_item(TableName=config.api_keys_table(), Key=_state_key(), ConsistentRead=True).get("Item")
    return from_item(item) if item else {}


def _begin(client, month: str) -> bool:
    """Start this month's reset; False if another run already started it."""
    try:
        client.put_item(
            TableName=config.api_keys_table(),
            Item=to_item({"pk": RESET_PK.build(), "sk": RESET_SK.build(), "month": month,
                          "status": "in_progress", "users_reset": 0, "started_at": clock.iso_millis(),
                          "updated_at": clock.iso_millis()}),
            ConditionExpression="attribute_not_exists(pk) OR #m <> :m",
            ExpressionAttributeNames={"#m": "month"},
            ExpressionAttributeValues={":m": to_attr(month)},
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def _checkpoint(client, month: str, start_key: dict | None, last_key: dict | None, reset: int) -> bool:
    """Record a finished page; False when another run already recorded it."""
    values = {":m": to_attr(month), ":n": to_attr(reset), ":now": to_attr(clock.iso_millis())}
    if start_key:
        condition = "#m = :m AND #s <> :done AND last_key = :start"
        values[":start"] = to_attr(json.dumps(start_key, sort_keys=True))
    else:
        condition = "#m = :m AND #s <> :done AND attribute_not_exists(last_key)"
    if last_key:
        expression = "SET last_key = :k, updated_at = :now ADD users_reset :n"
        values[":k"] = to_attr(json.dumps(last_key, sort_keys=True))
    else:
        expression = "SET #s = :done, updated_at = :now, completed_at = :now REMOVE last_key ADD users_reset :n"
    values[":done"] = to_attr("complete")
    try:
        client.update_item(
            TableName=config.api_keys_table(), Key=_state_key(), UpdateExpression=expression,
            ConditionExpression=condition, ExpressionAttributeValues=values,
            ExpressionAttributeNames={"#m": "month", "#s": "status"},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _reset_user(client, key: dict, month: str) -> bool:
    """True if the user is reset for ``month`` (now, or already by this month's sweep)."""
    try:
        client.update_item(
            TableName=config.api_keys_table(), Key=key,
            UpdateExpression="SET requests_this_month = :zero, reset_month = :m",
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(reset_month) OR reset_month <> :m)",
            ExpressionAttributeValues={":zero": to_attr(0), ":m": to_attr(month)},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            old = exc.response.get("Item") or {}
            return old.get("reset_month", {}).get("S") == month  # False: the user was deleted
        raise


def run(client, *, month: str | None = None, time_left_ms=lambda: 10**9, page_size: int = PAGE_SIZE) -> dict:
    """Reset every user's monthly counter once for ``month`` (default: now)."""
    month = month or clock.month()
    state = _load_state(client)
    if state.get("month") == month and state.get("status") == "complete":
        return {"month": month, "status": "complete", "users_reset": 0, "skipped": True}
    if state.get("month") != month and not _begin(client, month):
        state = _load_state(client)  # a concurrent run started it a moment ago
    start = json.loads(state["last_key"]) if state.get("month") == month and state.get("last_key") else None
    scan = {
        "TableName": config.api_keys_table(),
        "Limit": page_size,
        "ProjectionExpression": "pk, sk",
        "FilterExpression": "begins_with(pk, :user) AND sk <> :pending",
        "ExpressionAttributeValues": {":user": to_attr(USER_PK.prefix), ":pending": to_attr(PENDING_SK.build())},
        "ConsistentRead": True,
    }
    total = 0
    while True:
        if start:
            scan["ExclusiveStartKey"] = start
        page = client.scan(**scan)
        reset = sum(_reset_user(client, item, month) for item in page.get("Items", []))
        last = page.get("LastEvaluatedKey")
        if not _checkpoint(client, month, start, last, reset):
            logger.info("another run recorded this page; stopping", extra={"month": month})
            return {"month": month, "status": "in_progress", "users_reset": total}
        total += reset
        start = last
        if not start:
            logger.info("monthly reset complete", extra={"month": month, "users_reset": total})
            return {"month": month, "status": "complete", "users_reset": total}
        if time_left_ms() < SAFETY_MS:
            logger.info("monthly reset paused", extra={"month": month, "users_reset": total})
            return {"month": month, "status": "in_progress", "users_reset": total}


@logger.inject_lambda_context(log_event=False)
def handler(event, context):
    begin(context)
    return run(dynamodb(), time_left_ms=context.get_remaining_time_in_millis)
