"""CDK context for the tools, read the way the app reads it.

``cdk.json``'s ``context`` block, then ``-c key=value`` overrides (strings,
as the CDK CLI passes them). The KV table's ``tableName`` and ``gsiName``
change its deployed table and index names, exactly as ``stacks/kv/``
applies them; every other table is named by its schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from lambda_src.common.schema_types import TableSpec
from lambda_src.kv import schema as kv_schema
from tools.admin.errors import UsageError

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"


def cdk_json_context(path: Path | None = None) -> dict[str, Any]:
    path = path or CDK_JSON
    try:
        return dict(json.loads(path.read_text())["context"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"cannot read the context of {path}: {exc}") from exc


def load(overrides: Iterable[str] = (), path: Path | None = None) -> dict[str, Any]:
    """cdk.json's context with ``key=value`` overrides applied."""
    context = cdk_json_context(path)
    for pair in overrides:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"-c expects key=value, got {pair!r}")
        context[key] = value
    return context


def apply(spec: TableSpec, context: Mapping[str, Any], stage: str) -> TableSpec:
    """The spec as the app deploys it under ``context`` (KV's table and GSI names)."""
    if spec.alias != kv_schema.TABLE.alias:
        return spec
    name = str(context.get("tableName") or spec.table_name(stage))
    gsi = str(context.get("gsiName") or kv_schema.GSI1.name)
    literal = name.replace("{", "{{").replace("}", "}}")  # a name, not a template
    return replace(spec, name_template=literal).with_index_renamed(kv_schema.GSI1.name, gsi)
