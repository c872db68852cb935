"""docs/database-schema.md is generated from the schemas and must be current.

The source designs' hand-written schema document is the floor: every table's
attributes, each index's use case, the sources' example items and queries,
and the metrics stream's verification steps.
"""

from __future__ import annotations

import pytest

from lambda_src.common.schema_types import item_type
from tools import docs_gen
from tools.catalog import ALL_TABLES

TEXT = docs_gen.render()

# The attributes the source designs list, per table alias (written out here).
SOURCE_ATTRIBUTES = {
    "iops.metrics": ["entity_id", "entity_type", "sessions_7d", "sessions_14d", "sessions_30d", "ib_calls_7d",
                     "ib_calls_14d", "avg_rating", "health_score", "last_updated"],
    "iops.insights": ["pk", "sk", "alert_id", "entity_id", "prediction_type", "risk_score", "explanation",
                      "recommendations", "timestamp", "model_used", "ttl"],
    "kv.data": ["PK", "SK", "GSI1PK", "GSI1SK", "entityType", "email", "plan", "requestCount", "storageBytes",
                "createdAt", "updatedAt", "value", "ttl"],
    "mfh.users": ["user_id", "email", "cognito_user_id"],
    "mfh.accounts": ["account_id", "owner_user_id"],
    "mfh.user-accounts": ["user_id", "account_id", "linked_at"],
    "mfh.api-keys": ["key_id", "account_id", "key_hash"],
    "mfh.connections": ["connection_id", "account_id"],
    "mfh.helpers": ["helper_id", "account_id", "helper_type"],
    "mfh.executions": ["execution_id", "ttl", "account_id", "created_at", "helper_id"],
    "mfh.platforms": ["platform_id", "slug"],
    "mfh.platform-connection-auths": ["auth_id", "connection_id"],
    "mfh.oauth-states": ["state_id", "expires_at"],
    "dephealth.packages": ["pk", "sk", "risk_level", "tier", "last_updated"],
    "dephealth.api-keys": ["pk", "sk", "key_hash", "email", "tier", "requests_this_month", "created_at",
                           "verification_token", "ttl", "ecosystem", "name", "message_id", "last_error",
                           "retry_count", "original_message", "failed_at"],
}


def test_schema_doc_is_current():
    assert docs_gen.TARGET.read_text() == TEXT, "stale: run `make docs`"


def test_schema_doc_names_every_table_index_and_pattern():
    for spec in ALL_TABLES:
        assert f"`{spec.name_template}`" in TEXT
        for index in spec.indexes:
            assert f"`{index.name}`" in TEXT
        for pattern in spec.access_patterns:
            assert f"`{pattern.name}`" in TEXT


def _declared(spec):
    names = {a.name for a in spec.attributes}
    for kind in spec.record_kinds:
        names |= {a.name for a in kind.attributes}
    return names


@pytest.mark.parametrize("alias", sorted(SOURCE_ATTRIBUTES))
def test_every_source_attribute_is_declared_and_documented(alias):
    spec = next(s for s in ALL_TABLES if s.alias == alias)
    missing = [name for name in SOURCE_ATTRIBUTES[alias] if name not in _declared(spec)]
    assert not missing, f"{alias}: undeclared {missing}"
    section = TEXT.split(f"### `{spec.name_template}`", 1)[1].split("\n### ", 1)[0]
    for name in SOURCE_ATTRIBUTES[alias]:
        assert f"| `{name}` |" in section, f"{alias}: {name} not in its attribute table"


def test_every_table_declares_its_attributes():
    assert {s.alias for s in ALL_TABLES} == set(SOURCE_ATTRIBUTES)
    for spec in ALL_TABLES:
        assert spec.attributes or spec.record_kinds, spec.alias


@pytest.mark.parametrize("spec", ALL_TABLES, ids=[s.alias for s in ALL_TABLES])
def test_examples_use_only_declared_attributes_with_their_types(spec):
    for item in spec.examples:
        declared = {a.name: a for a in spec.declared_attributes(item)}
        for name, value in item.items():
            assert name in declared, f"{spec.alias} {spec.key_of(item)}: {name} is not declared"
            if declared[name].type != "ANY":
                assert declared[name].type == item_type(value), f"{spec.alias}: {name} declared " \
                    f"{declared[name].type}, example has {item_type(value)}"
        for attr in spec.key_attrs:
            assert attr.name in declared, f"{spec.alias}: key {attr.name} not declared"


def test_every_index_has_a_use_case():
    for spec in ALL_TABLES:
        for index in spec.indexes:
            row = next(line for line in TEXT.splitlines() if line.startswith(f"| `{index.name}` |")
                       and spec.name_template in TEXT.split(line)[0].rsplit("### ", 1)[1])
            assert not row.rstrip(" |").endswith("—"), f"{spec.alias}: {index.name} has no use case"


def test_the_sources_example_items_and_queries_are_in_the_doc():
    assert '"entity_id": "stu_4532"' in TEXT and '"health_score": 72' in TEXT
    assert '"alert_id": "high_ib_call_frequency_stu_4532_1705318200000"' in TEXT
    assert '"risk_score": 82' in TEXT
    # insights by month, RiskScoreIndex > 80, EntityTypeHealthIndex < 70, all students of a type
    assert "begins_with(#sk, :sk)" in TEXT and '":sk": {"S": "2025-01"}' in TEXT
    assert "--index-name RiskScoreIndex" in TEXT and "#sk > :sk" in TEXT and '{"N": "80"}' in TEXT
    assert "--index-name EntityTypeHealthIndex" in TEXT and "#sk < :sk" in TEXT and '{"N": "70"}' in TEXT
    assert "entities-by-type" in TEXT


def test_metrics_stream_verification_and_troubleshooting():
    section = TEXT.split("### `iops-dashboard-metrics`", 1)[1].split("\n### ", 1)[0]
    for step in ("aws dynamodbstreams describe-stream", "aws dynamodbstreams get-shard-iterator",
                 "aws dynamodbstreams get-records", "Table already exists", "GSI not found",
                 "Permission denied", "aws dynamodb wait table-not-exists"):
        assert step in section, step
    assert "AWS_ENDPOINT_URL=http://localhost:4566" in TEXT


def _as_request(command: str) -> tuple[str, dict]:
    """Read a documented ``aws dynamodb`` command back into a boto3 request."""
    import json
    import shlex

    words = shlex.split(command.replace("\\\n", " "))
    assert words[:2] == ["aws", "dynamodb"], command
    operation, args = words[2], words[3:]
    kwargs: dict = {}
    flags = {"--table-name": "TableName", "--index-name": "IndexName", "--key": "Key",
             "--key-condition-expression": "KeyConditionExpression",
             "--expression-attribute-names": "ExpressionAttributeNames",
             "--expression-attribute-values": "ExpressionAttributeValues", "--max-items": "Limit"}
    i = 0
    while i < len(args):
        flag = args[i]
        if flag == "--no-scan-index-forward":
            kwargs["ScanIndexForward"] = False
            i += 1
            continue
        value = args[i + 1]
        if flag in ("--key", "--expression-attribute-names", "--expression-attribute-values"):
            value = json.loads(value)
        elif flag == "--max-items":
            value = int(value)
        kwargs[flags[flag]] = value
        i += 2
    return operation.replace("-", "_"), kwargs


PATTERNS = [(s, p) for s in ALL_TABLES for p in s.access_patterns]


@pytest.mark.parametrize("spec,pattern", PATTERNS, ids=[f"{s.alias}:{p.name}" for s, p in PATTERNS])
def test_documented_cli_commands_return_the_patterns_items(aws, spec, pattern):
    from lambda_src.common.requests import from_item, to_item

    for item in spec.examples:
        aws.put_item(TableName=spec.table_name("dev"), Item=to_item(item))
    command = docs_gen.cli_command(spec, pattern)
    assert command in TEXT
    operation, kwargs = _as_request(command)
    response = getattr(aws, operation)(**kwargs)
    items = [response["Item"]] if "Item" in response else response.get("Items", [])
    got = [spec.key_of(from_item(i)) for i in items]
    expected = [spec.key_of(k) for k in pattern.expect]
    _, sort_attr = spec.pattern_keys(pattern)
    if sort_attr is None:
        assert sorted(map(repr, got)) == sorted(map(repr, expected))
    else:
        assert got == expected
