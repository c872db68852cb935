"""Command-line text to Python values: the CLI's parsing, apart from core's operations.

``name=value`` pairs, primary keys typed from the key schema, JSON
arguments and ``--set`` values. Core takes the results (dicts of typed
values) and never sees command-line text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from lambda_src.common.schema_types import SchemaError, TableSpec
from tools.admin.core import check_types, key_usage
from tools.admin.errors import UsageError


def parse_pairs(pairs: Iterable[str], what: str = "key=value") -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair or pair.startswith("="):
            raise UsageError(f"expected {what}, got {pair!r}")
        name, value = pair.split("=", 1)
        if name in out:
            raise UsageError(f"{name!r} given twice")
        out[name] = value
    return out


def parse_key(spec: TableSpec, pairs: Iterable[str]) -> dict[str, Any]:
    """``user_id=...`` pairs -> the primary key, typed from the key schema."""
    values = parse_pairs(pairs)
    names = [a.name for a in spec.key_attrs]
    unknown = [n for n in values if n not in names]
    if unknown:
        raise UsageError(f"{spec.alias}: {', '.join(unknown)} not a key attribute (key: {key_usage(spec)})")
    missing = [n for n in names if values.get(n) in (None, "")]
    if missing:
        raise UsageError(f"{spec.alias}: missing key part(s) {', '.join(missing)} (key: {key_usage(spec)})")
    try:
        return {a.name: a.coerce(values[a.name]) for a in spec.key_attrs}
    except SchemaError as exc:
        raise UsageError(f"{spec.alias}: {exc}") from exc


def parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc


def set_value(spec: TableSpec, name: str, raw: str, is_json: bool) -> Any:
    """A ``--set`` value: ``a=text`` is a string, ``a:=json`` a JSON value."""
    value: Any = parse_json(raw, f"--set {name}") if is_json else raw
    kind = spec.attribute_types.get(name)
    if kind == "N" and isinstance(value, str):
        try:
            value = Decimal(value)
        except Exception:
            raise UsageError(f"{spec.alias}: {name} must be a number, got {raw!r}") from None
    if name == spec.ttl_attribute and isinstance(value, str):
        try:
            value = Decimal(value)
        except Exception:
            raise UsageError(f"{spec.alias}: TTL attribute {name} must be epoch seconds, got {raw!r}") from None
    check_types(spec, {name: value})
    return value
