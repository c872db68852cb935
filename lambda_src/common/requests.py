"""Turn a declared access pattern plus parameters into one DynamoDB request.

Handlers, the admin CLI, the docs and the tests call ``build_request`` so the
key condition of a pattern is written once, with placeholders (never string
pasting), straight from the schema declaration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from .schema_types import AccessPattern, SchemaError, TableSpec

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_attr(value: Any) -> dict:
    return _serializer.serialize(value)


def to_item(item: Mapping[str, Any]) -> dict:
    """Python values -> DynamoDB attribute-value map (floats go via Decimal)."""
    from decimal import Decimal

    def fix(v: Any) -> Any:
        if isinstance(v, float):
            return Decimal(str(v))
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        if isinstance(v, list):
            return [fix(x) for x in v]
        return v

    return {k: _serializer.serialize(fix(v)) for k, v in item.items()}


def from_item(item: Mapping[str, Any]) -> dict:
    """DynamoDB attribute-value map -> plain Python (Decimal -> int/float)."""
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    return value


def build_request(
    spec: TableSpec,
    pattern: AccessPattern,
    params: Mapping[str, Any],
    *,
    table_name: str,
    limit: int | None = None,
    descending: bool | None = None,
    start_key: Mapping[str, Any] | None = None,
) -> tuple[str, dict]:
    """Return ``(operation, kwargs)`` for a low-level client: GetItem or Query.

    Raises SchemaError when a parameter is missing or has the wrong type.
    """
    unknown = sorted(set(params) - set(pattern.params))
    if unknown:
        raise SchemaError(f"{pattern.name}: unknown parameter(s) {', '.join(unknown)}")
    pk_attr, sk_attr = spec.pattern_keys(pattern)
    pk_value = pk_attr.coerce(pattern.partition.build(**params))

    if pattern.get_item:
        key = {pk_attr.name: to_attr(pk_value)}
        if pattern.sort is not None and sk_attr is not None:
            key[sk_attr.name] = to_attr(sk_attr.coerce(pattern.sort.value.build(**params)))
        return "GetItem", {"TableName": table_name, "Key": key}

    names = {"#pk": pk_attr.name}
    values = {":pk": to_attr(pk_value)}
    condition = "#pk = :pk"
    if pattern.sort is not None:
        if sk_attr is None:
            raise SchemaError(f"{pattern.name}: sort condition on a key without a sort key")
        names["#sk"] = sk_attr.name
        op = pattern.sort.op
        sort_params = {p: params.get(p, "") for p in pattern.sort.value.params}
        if op == "begins_with":
            # An empty prefix is legal: it lists everything under the literal prefix.
            raw = pattern.sort.value.template.format(**{k: v or "" for k, v in sort_params.items()})
            values[":sk"] = to_attr(sk_attr.coerce(raw))
            condition += " AND begins_with(#sk, :sk)"
        else:
            values[":sk"] = to_attr(sk_attr.coerce(pattern.sort.value.build(**params)))
            if op == "between":
                if pattern.sort.upper is None:
                    raise SchemaError(f"{pattern.name}: between needs an upper bound")
                values[":sk2"] = to_attr(sk_attr.coerce(pattern.sort.upper.build(**params)))
                condition += " AND #sk BETWEEN :sk AND :sk2"
            else:
                condition += f" AND #sk {op} :sk"
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": not (pattern.newest_first if descending is None else descending),
    }
    if pattern.index:
        kwargs["IndexName"] = pattern.index
    effective_limit = limit if limit is not None else pattern.limit
    if effective_limit:
        kwargs["Limit"] = int(effective_limit)
    if start_key:
        kwargs["ExclusiveStartKey"] = dict(start_key)
    return "Query", kwargs
