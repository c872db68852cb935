"""How a metrics item is read and written: consistently, under an optimistic lock.

Ingest and the daily recompute both write whole metrics items. Each write is
one conditional PutItem on ``version`` (the version read plus one), so of two
writers that read the same item only the first wins; the other re-reads the
item and decides again, at most ``MAX_ATTEMPTS`` times.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambda_src.common.requests import from_item, to_item

MAX_ATTEMPTS = 5


def read(client: Any, table: str, entity_id: str, entity_type: str) -> dict[str, Any] | None:
    """The item as stored now (consistent GetItem), or None when there is none."""
    key = {"entity_id": entity_id, "entity_type": entity_type}
    found = client.get_item(TableName=table, Key=to_item(key), ConsistentRead=True).get("Item")
    return from_item(found) if found else None


def put_versioned(client: Any, table: str, item: Mapping[str, Any], version: int | None) -> bool:
    """PutItem ``item`` as version ``version + 1``, only if the stored item is still at ``version``.

    ``version`` None means "read no version": no item, or one written by
    something other than ingest (e.g. the sample data). Returns False when
    another writer got there first; the caller re-reads and decides again.
    """
    versioned = {**item, "version": (version or 0) + 1}
    condition: dict[str, Any]
    if version is None:
        condition = {"ConditionExpression": "attribute_not_exists(version)"}
    else:
        condition = {"ConditionExpression": "version = :v",
                     "ExpressionAttributeValues": to_item({":v": version})}
    try:
        client.put_item(TableName=table, Item=to_item(versioned), **condition)
        return True
    except client.exceptions.ConditionalCheckFailedException:
        return False
