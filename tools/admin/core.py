"""Table and pattern lookup, item checks and the DynamoDB operations of the CLI.

Its public functions take Python values (typed keys, item dicts, parameter
mappings); turning command-line text into them is ``tools.admin.parsing``.

Everything here is driven by the ``TableSpec`` declarations; no table name,
key attribute or index name is written in this package.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from lambda_src.common.requests import build_request, from_item, to_attr, to_item
from lambda_src.common.schema_types import STAGES, AccessPattern, SchemaError, TableSpec
from tools.admin.connect import Connection
from tools.admin.errors import Failure, UsageError
from tools.catalog import ALL_TABLES, PRODUCTS

DEFAULT_QUERY_LIMIT = 25
DEFAULT_SCAN_LIMIT = 25
MAX_SCAN_LIMIT = 1000


# -- names -------------------------------------------------------------------
def known_tables() -> str:
    return ", ".join(spec.alias for spec in ALL_TABLES)


def tables(stage: str, context: Mapping[str, Any] | None = None) -> tuple[TableSpec, ...]:
    """Every table as deployed at ``stage`` under the CDK ``context`` (see tools.admin.context)."""
    from tools.admin.context import apply

    return tuple(apply(spec, context or {}, stage) for spec in ALL_TABLES)


def product_tables(product: str, stage: str, context: Mapping[str, Any] | None = None) -> tuple[TableSpec, ...]:
    return tuple(s for s in tables(stage, context) if s.product == product)


def resolve_table(name: str, stage: str, context: Mapping[str, Any] | None = None) -> TableSpec:
    """A table by alias (``mfh.users``) or deployed name (``mfh-dev-users``)."""
    specs = tables(stage, context)
    for spec in specs:
        if name in (spec.alias, spec.table_name(stage)):
            return spec
    for other in STAGES:
        if other == stage:
            continue
        for spec in tables(other, context):
            if name == spec.table_name(other):
                raise UsageError(f"table {name!r} is a {other} table: pass --stage {other}")
    choices = [s.alias for s in specs] + [s.table_name(stage) for s in specs]
    close = difflib.get_close_matches(name, choices, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise UsageError(f"unknown table {name!r}{hint} (known: {known_tables()})")


def qualified(spec: TableSpec, pattern: AccessPattern) -> str:
    return f"{spec.alias}:{pattern.name}"


def tables_named(name: str, stage: str, context: Mapping[str, Any] | None = None) -> tuple[TableSpec, ...]:
    """A table, or every table of a product (``mfh``), named on the command line."""
    if name in PRODUCTS:
        return product_tables(name, stage, context)
    return (resolve_table(name, stage, context),)


def resolve_pattern(name: str, table: str | None, stage: str,
                    context: Mapping[str, Any] | None = None) -> tuple[TableSpec, AccessPattern]:
    """``PATTERN``, ``TABLE:PATTERN`` or ``PRODUCT:PATTERN``, optionally with ``--table``."""
    if ":" in name:
        prefix, name = name.rsplit(":", 1)
        if table and prefix != table:
            raise UsageError(f"pattern names table {prefix!r} but --table says {table!r}")
        table = prefix
    specs = tables_named(table, stage, context) if table else tables(stage, context)
    matches = [(s, p) for s in specs for p in s.access_patterns if p.name == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        options = ", ".join(qualified(s, p) for s, p in matches)
        raise UsageError(f"pattern {name!r} is ambiguous: use one of {options} (or --table)")
    names = sorted({p.name for s in specs for p in s.access_patterns})
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    where = f" on {table}" if table else ""
    raise UsageError(f"unknown pattern {name!r}{where}{hint} (known: {', '.join(names)})")


# -- keys and item checks (the CLI's text parsing is tools/admin/parsing.py) ---
def key_usage(spec: TableSpec) -> str:
    return " ".join(f"{a.name}=<{'number' if a.type == 'N' else 'string'}>" for a in spec.key_attrs)


def key_attr_values(key: Mapping[str, Any]) -> dict:
    return {name: to_attr(value) for name, value in key.items()}


def check_types(spec: TableSpec, item: Mapping[str, Any]) -> None:
    """Key and index-key attributes must carry the declared type; TTL a number."""
    for name, kind in spec.attribute_types.items():
        if name not in item:
            continue
        value = item[name]
        if kind == "N" and (isinstance(value, bool) or not isinstance(value, (int, float, Decimal))):
            raise UsageError(f"{spec.alias}: {name} must be a number, got {value!r}")
        if kind == "S" and not isinstance(value, str):
            raise UsageError(f"{spec.alias}: {name} must be a string, got {value!r}")
        if kind == "S" and value == "":
            raise UsageError(f"{spec.alias}: {name} is a key attribute and cannot be empty")
    ttl = spec.ttl_attribute
    if ttl and ttl in item:
        value = item[ttl]
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            raise UsageError(f"{spec.alias}: TTL attribute {ttl} must be epoch seconds (a number), got {value!r}")


# -- operations --------------------------------------------------------------
def _consumed(response: Mapping[str, Any]) -> float:
    return float((response.get("ConsumedCapacity") or {}).get("CapacityUnits") or 0)


def run_pattern(
    conn: Connection,
    spec: TableSpec,
    pattern: AccessPattern,
    params: Mapping[str, str],
    *,
    stage: str,
    limit: int | None = None,
    descending: bool | None = None,
    all_pages: bool = False,
    page_size: int | None = None,
    start_key: Mapping[str, Any] | None = None,
) -> dict:
    """Run one declared pattern: a GetItem, one Query page, or every page with ``all_pages``."""
    table_name = spec.table_name(stage)
    start = to_item(start_key) if start_key else None
    try:
        operation, kwargs = build_request(
            spec, pattern, params, table_name=table_name, descending=descending, start_key=start
        )
    except SchemaError as exc:
        usage = " ".join(f"{p}=..." for p in pattern.params)
        raise UsageError(f"{qualified(spec, pattern)}: {exc} (usage: query {pattern.name} {usage})") from exc
    result: dict[str, Any] = {
        "table": table_name,
        "alias": spec.alias,
        "pattern": pattern.name,
        "operation": operation,
        "index": pattern.index,
    }
    before = conn.requests
    consumed = 0.0
    items: list[dict] = []
    next_key = None
    if operation == "GetItem":
        response = conn.call("get_item", **kwargs, ReturnConsumedCapacity="TOTAL")
        consumed += _consumed(response)
        if "Item" in response:
            items.append(from_item(response["Item"]))
    else:
        kwargs["ReturnConsumedCapacity"] = "TOTAL"
        cap = limit if all_pages else (limit or pattern.limit or DEFAULT_QUERY_LIMIT)
        while True:
            if all_pages:
                page = page_size
                if cap is not None:
                    page = min(page or cap - len(items), cap - len(items))
                if page:
                    kwargs["Limit"] = page
                else:
                    kwargs.pop("Limit", None)
            else:
                kwargs["Limit"] = cap
            response = conn.call("query", **kwargs)
            consumed += _consumed(response)
            items.extend(from_item(i) for i in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            next_key = from_item(last) if last else None
            if not all_pages or not last or (cap is not None and len(items) >= cap):
                break
            kwargs["ExclusiveStartKey"] = last
    result.update(
        items=items,
        count=len(items),
        requests=conn.requests - before,
        consumed_capacity=consumed,
        next_key=next_key,
    )
    return result


def get_item(conn: Connection, spec: TableSpec, key: Mapping[str, Any], stage: str, *, consistent=True) -> dict | None:
    response = conn.call(
        "get_item", TableName=spec.table_name(stage), Key=key_attr_values(key), ConsistentRead=consistent
    )
    return from_item(response["Item"]) if "Item" in response else None


def _exists_condition(spec: TableSpec) -> tuple[str, dict]:
    names = {f"#k{i}": a.name for i, a in enumerate(spec.key_attrs)}
    return " AND ".join(f"attribute_exists({n})" for n in names), names


def put_item(conn: Connection, spec: TableSpec, item: Mapping[str, Any], stage: str, *, no_overwrite=False) -> dict:
    if not isinstance(item, dict):
        raise UsageError(f"{spec.alias}: the item must be a JSON object")
    try:
        key = spec.key_of(item)
    except SchemaError as exc:
        raise UsageError(f"{exc} (key: {key_usage(spec)})") from exc
    check_types(spec, item)
    kwargs: dict[str, Any] = {"TableName": spec.table_name(stage), "Item": to_item(item),
                              "ReturnValues": "ALL_OLD"}
    if no_overwrite:
        names = {f"#k{i}": a.name for i, a in enumerate(spec.key_attrs)}
        kwargs["ConditionExpression"] = " AND ".join(f"attribute_not_exists({n})" for n in names)
        kwargs["ExpressionAttributeNames"] = names
    try:
        response = conn.call("put_item", **kwargs)
    except Failure as exc:
        if no_overwrite and "condition failed" in str(exc):
            raise Failure(f"{spec.alias}: an item with key {show_key(key)} already exists (nothing written)") from exc
        raise
    return {"table": spec.table_name(stage), "key": from_item(key_attr_values(key)),
            "replaced": "Attributes" in response}


def show_key(key: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in from_item(key_attr_values(key)).items())


def update_item(
    conn: Connection,
    spec: TableSpec,
    key: Mapping[str, Any],
    sets: Mapping[str, Any],
    removes: Iterable[str],
    stage: str,
) -> dict:
    removes = list(removes)
    if not sets and not removes:
        raise UsageError("nothing to update: give --set name=value and/or --remove name")
    key_names = {a.name for a in spec.key_attrs}
    touched = list(sets) + removes
    for name in touched:
        if name in key_names:
            raise UsageError(f"{spec.alias}: {name} is part of the primary key and cannot be updated")
    dup = sorted({n for n in touched if touched.count(n) > 1})
    if dup:
        raise UsageError(f"{', '.join(dup)} given more than once")
    condition, names = _exists_condition(spec)
    values: dict[str, Any] = {}
    clauses: list[str] = []
    for i, (name, value) in enumerate(sets.items()):
        names[f"#s{i}"] = name
        values[f":s{i}"] = to_attr(value) if not isinstance(value, float) else to_attr(Decimal(str(value)))
        clauses.append(f"#s{i} = :s{i}")
    expression = f"SET {', '.join(clauses)}" if clauses else ""
    if removes:
        for i, name in enumerate(removes):
            names[f"#r{i}"] = name
        expression += (" " if expression else "") + "REMOVE " + ", ".join(f"#r{i}" for i in range(len(removes)))
    kwargs: dict[str, Any] = {
        "TableName": spec.table_name(stage),
        "Key": key_attr_values(key),
        "UpdateExpression": expression,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ReturnValues": "ALL_NEW",
    }
    if values:
        kwargs["ExpressionAttributeValues"] = values
    try:
        response = conn.call("update_item", **kwargs)
    except Failure as exc:
        if "condition failed" in str(exc):
            raise Failure(f"{spec.alias}: no item with key {show_key(key)} (nothing updated)") from exc
        raise
    return from_item(response.get("Attributes", {}))


def delete_item(conn: Connection, spec: TableSpec, key: Mapping[str, Any], stage: str) -> dict:
    condition, names = _exists_condition(spec)
    try:
        response = conn.call(
            "delete_item",
            TableName=spec.table_name(stage),
            Key=key_attr_values(key),
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ReturnValues="ALL_OLD",
        )
    except Failure as exc:
        if "condition failed" in str(exc):
            raise Failure(f"{spec.alias}: no item with key {show_key(key)} (nothing deleted)") from exc
        raise
    return from_item(response.get("Attributes", {}))


def scan(conn: Connection, spec: TableSpec, stage: str, *, limit: int, index: str | None = None,
         start_key: Mapping[str, Any] | None = None) -> dict:
    if limit < 1 or limit > MAX_SCAN_LIMIT:
        raise UsageError(f"--limit must be between 1 and {MAX_SCAN_LIMIT}, got {limit}")
    kwargs: dict[str, Any] = {"TableName": spec.table_name(stage), "ReturnConsumedCapacity": "TOTAL"}
    if index:
        try:
            spec.index(index)
        except SchemaError as exc:
            known = ", ".join(i.name for i in spec.indexes) or "none"
            raise UsageError(f"{exc} (indexes: {known})") from exc
        kwargs["IndexName"] = index
    if start_key:
        kwargs["ExclusiveStartKey"] = to_item(start_key)
    before, consumed, next_key = conn.requests, 0.0, None
    items: list[dict] = []
    while True:
        kwargs["Limit"] = limit - len(items)
        response = conn.call("scan", **kwargs)
        consumed += _consumed(response)
        items.extend(from_item(i) for i in response.get("Items", []))
        last = response.get("LastEvaluatedKey")
        next_key = from_item(last) if last else None
        if not last or len(items) >= limit:
            break
        kwargs["ExclusiveStartKey"] = last
    return {"table": spec.table_name(stage), "alias": spec.alias, "index": index, "items": items,
            "count": len(items), "requests": conn.requests - before, "consumed_capacity": consumed,
            "next_key": next_key}


def describe_raw(conn: Connection, spec: TableSpec, stage: str) -> dict:
    return conn.call("describe_table", TableName=spec.table_name(stage))["Table"]


def count(conn: Connection, spec: TableSpec, stage: str, *, exact: bool,
          progress: Callable[[int, int], None] | None = None) -> dict:
    name = spec.table_name(stage)
    before = conn.requests
    if not exact:
        table = describe_raw(conn, spec, stage)
        return {"table": name, "alias": spec.alias, "count": int(table.get("ItemCount", 0)), "exact": False,
                "requests": conn.requests - before,
                "note": "ItemCount as DynamoDB reports it; refreshed about every six hours"}
    kwargs: dict[str, Any] = {"TableName": name, "Select": "COUNT"}
    total = scanned = pages = 0
    while True:
        response = conn.call("scan", **kwargs)
        total += int(response.get("Count", 0))
        scanned += int(response.get("ScannedCount", 0))
        pages += 1
        if progress:
            progress(total, pages)
        last = response.get("LastEvaluatedKey")
        if not last:
            break
        kwargs["ExclusiveStartKey"] = last
    return {"table": name, "alias": spec.alias, "count": total, "exact": True,
            "requests": conn.requests - before, "scanned": scanned}


def describe(conn: Connection, spec: TableSpec, stage: str) -> dict:
    """Declared settings next to what the endpoint reports."""
    before = conn.requests
    table = describe_raw(conn, spec, stage)
    name = spec.table_name(stage)

    def optional(operation: str, pick: Callable[[dict], Any]) -> Any:
        try:
            return pick(conn.call(operation, TableName=name))
        except Failure as exc:
            return f"unknown ({exc})"

    ttl = optional("describe_time_to_live", lambda r: r.get("TimeToLiveDescription", {}))
    pitr = optional(
        "describe_continuous_backups",
        lambda r: r["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {})
        .get("PointInTimeRecoveryStatus", "DISABLED"),
    )
    stream = table.get("StreamSpecification") or {}
    protection = spec.protection(stage)
    reported_indexes = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}
    indexes = []
    for index in spec.indexes:
        got = reported_indexes.pop(index.name, None)
        indexes.append({
            "name": index.name,
            "keys": list(index.key_names),
            "projection": index.projection,
            "status": got.get("IndexStatus", "ACTIVE") if got else "MISSING",
            "reported_projection": (got or {}).get("Projection", {}).get("ProjectionType"),
            "item_count": (got or {}).get("ItemCount"),
        })
    for extra, got in reported_indexes.items():
        indexes.append({"name": extra, "keys": [k["AttributeName"] for k in got.get("KeySchema", [])],
                        "projection": None, "status": "UNDECLARED " + got.get("IndexStatus", ""),
                        "reported_projection": got.get("Projection", {}).get("ProjectionType"),
                        "item_count": got.get("ItemCount")})
    ttl_reported = ttl if isinstance(ttl, str) else (
        f"{ttl.get('TimeToLiveStatus', 'DISABLED')}"
        + (f" on {ttl['AttributeName']}" if ttl.get("AttributeName") else "")
    )
    def onoff(flag: bool) -> str:
        return "ENABLED" if flag else "DISABLED"

    reported_pitr = pitr
    settings = [
        ("status", None, table.get("TableStatus")),
        ("key", " + ".join(a.name for a in spec.key_attrs),
         " + ".join(k["AttributeName"] for k in table.get("KeySchema", []))),
        ("billing", "PAY_PER_REQUEST", (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")),
        ("item count", None, table.get("ItemCount")),
        ("size bytes", None, table.get("TableSizeBytes")),
        ("deletion protection", onoff(protection.deletion_protection),
         onoff(bool(table.get("DeletionProtectionEnabled", False)))),
        ("stream", spec.stream or "DISABLED",
         stream.get("StreamViewType", "ENABLED") if stream.get("StreamEnabled") else "DISABLED"),
        ("ttl", f"ENABLED on {spec.ttl_attribute}" if spec.ttl_attribute else "DISABLED", ttl_reported),
        ("point-in-time recovery", onoff(protection.pitr), reported_pitr),
        ("encryption", "KMS" if spec.encryption == "AWS_MANAGED" else "AWS_OWNED",
         (table.get("SSEDescription") or {}).get("SSEType", "AWS_OWNED")),
    ]
    rows = []
    for setting, declared, reported in settings:
        match = None if declared is None or str(reported).startswith("unknown") else declared == reported
        rows.append({"setting": setting, "declared": declared, "reported": reported, "match": match})
    return {
        "table": name,
        "alias": spec.alias,
        "description": spec.description,
        "arn": table.get("TableArn"),
        "settings": rows,
        "indexes": indexes,
        "requests": conn.requests - before,
    }


def list_deployed(conn: Connection) -> set[str]:
    names: set[str] = set()
    kwargs: dict[str, Any] = {}
    while True:
        response = conn.call("list_tables", **kwargs)
        names.update(response.get("TableNames", []))
        if not response.get("LastEvaluatedTableName"):
            return names
        kwargs["ExclusiveStartTableName"] = response["LastEvaluatedTableName"]


def pattern_info(spec: TableSpec, pattern: AccessPattern, stage: str) -> dict:
    pk, sk = spec.pattern_keys(pattern)
    sort = None
    if pattern.sort:
        sort = {"attribute": sk.name if sk else None, "op": pattern.sort.op, "value": str(pattern.sort.value)}
    example = " ".join(f"{k}={v}" for k, v in pattern.example.items())
    return {
        "table": spec.alias,
        "table_name": spec.table_name(stage),
        "pattern": pattern.name,
        "qualified": qualified(spec, pattern),
        "operation": "GetItem" if pattern.get_item else "Query",
        "index": pattern.index,
        "params": list(pattern.params),
        "partition": {"attribute": pk.name, "value": str(pattern.partition)},
        "sort": sort,
        "newest_first": pattern.newest_first,
        "limit": pattern.limit,
        "description": pattern.description,
        "example": f"query {qualified(spec, pattern)} {example}".strip(),
    }


def set_plan(conn: Connection, user_id: str, plan: str, stage: str,
             context: Mapping[str, Any] | None = None) -> dict:
    """Move a KV storage user to ``plan`` (free, pro, scale): plans are the operator's, not the client's.

    One conditional UpdateItem on ``USER#<id>`` / ``METADATA``: an unknown
    user is a failure, nothing is created.
    """
    from lambda_src.kv import plans
    from lambda_src.kv import schema as kv_schema

    if plan not in plans.PLANS:
        raise UsageError(f"unknown plan {plan!r}: one of {', '.join(plans.PLANS)}")
    if not user_id:
        raise UsageError("give the user's id (the userId of /me, e.g. u_0123abcd)")
    spec = resolve_table(kv_schema.TABLE.alias, stage, context)
    key = {"PK": kv_schema.USER_PK.build(userId=user_id), "SK": kv_schema.METADATA_SK.build()}
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        response = conn.call(
            "update_item", TableName=spec.table_name(stage), Key=key_attr_values(key),
            UpdateExpression="SET #plan = :plan, #updated = :now",
            ConditionExpression="attribute_exists(PK) AND entityType = :user",
            ExpressionAttributeNames={"#plan": "plan", "#updated": "updatedAt"},
            ExpressionAttributeValues={":plan": to_attr(plan), ":now": to_attr(now),
                                       ":user": to_attr(kv_schema.USER_TYPE)},
            ReturnValues="ALL_NEW",
        )
    except Failure as exc:
        if "condition failed" in str(exc):
            raise Failure(f"no KV user {user_id!r} (nothing changed)") from exc
        raise
    item = from_item(response.get("Attributes", {}))
    return {"userId": item.get("userId"), "email": item.get("email"), "plan": item.get("plan"),
            "updatedAt": item.get("updatedAt")}
