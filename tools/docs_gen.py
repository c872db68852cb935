"""Generate docs/database-schema.md from the schema declarations.

Run ``make docs`` after changing a schema; ``tests/unit/test_docs.py`` fails
while the committed file differs from what this prints.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from lambda_src.common.requests import build_request
from lambda_src.common.schema_types import AccessPattern, Attribute, TableSpec
from tools.catalog import PRODUCTS

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "database-schema.md"
TITLES = {
    "dephealth": "DepHealth",
    "mfh": "MyFusion Helper",
    "kv": "KV storage",
    "iops": "IOps dashboard",
}


def _key(attr) -> str:
    return f"`{attr.name}` ({attr.type})" if attr else "—"


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _condition(spec: TableSpec, pattern: AccessPattern) -> str:
    pk, sk = spec.pattern_keys(pattern)
    text = f"`{pk.name} = {pattern.partition}`"
    if pattern.sort:
        if sk is None:
            raise ValueError(f"{spec.alias}: pattern {pattern.name} has a sort condition but its key has no sort key")
        op = pattern.sort.op
        value = pattern.sort.value
        if op == "begins_with":
            text += f" AND `begins_with({sk.name}, {value})`"
        else:
            text += f" AND `{sk.name} {op} {value}`"
    return text


def render_table(spec: TableSpec) -> list[str]:
    lines = [f"### `{spec.name_template}`", "", spec.description, ""]
    lines += [
        "| property | value |",
        "|---|---|",
        f"| alias | `{spec.alias}` |",
        f"| partition key | {_key(spec.partition)} |",
        f"| sort key | {_key(spec.sort)} |",
        f"| TTL attribute | {f'`{spec.ttl_attribute}`' if spec.ttl_attribute else '—'} |",
        f"| stream | {spec.stream or '—'} |",
        f"| encryption | {spec.encryption.replace('_', '-').lower()} key |",
        "| billing | on-demand |",
    ]
    for stage in ("dev", "prod"):
        p = spec.protection(stage)
        lines.append(
            f"| {stage} | PITR {_yes(p.pitr)}, deletion protection {_yes(p.deletion_protection)}, "
            f"{'retained' if p.retain else 'destroyed'} with its stack |"
        )
    lines.append("")
    lines += _attributes(spec)
    if spec.indexes:
        lines += ["| index | partition key | sort key | projection | use case |", "|---|---|---|---|---|"]
        for index in spec.indexes:
            projection: str = index.projection
            if index.non_key_attributes:
                projection += f" ({', '.join(index.non_key_attributes)})"
            lines.append(f"| `{index.name}` | {_key(index.partition)} | {_key(index.sort)} | {projection} "
                         f"| {_use_case(spec, index)} |")
        lines.append("")
    lines += ["| access pattern | request | key condition | order | parameters |", "|---|---|---|---|---|"]
    for pattern in spec.access_patterns:
        request = "GetItem" if pattern.get_item else f"Query {pattern.index or 'table'}"
        if pattern.get_item:
            order = "—"
        else:
            order = "descending" if pattern.newest_first else "ascending"
            if pattern.limit:
                order += f", first {pattern.limit}"
        params = ", ".join(f"`{p}`" for p in pattern.params) or "—"
        lines.append(
            f"| `{pattern.name}`: {pattern.description} | {request} | {_condition(spec, pattern)} "
            f"| {order} | {params} |"
        )
    lines += [""] + _examples(spec) + _query_examples(spec)
    if spec.stream:
        lines += _stream_steps(spec)
    lines += TROUBLESHOOTING.get(spec.alias, lambda _spec: [])(spec)
    return lines


def _attribute_rows(attributes: tuple[Attribute, ...]) -> list[str]:
    rows = ["| attribute | type | description |", "|---|---|---|"]
    for attribute in attributes:
        kind = "any" if attribute.type == "ANY" else attribute.type
        note = " (optional)" if attribute.optional else ""
        rows.append(f"| `{attribute.name}` | {kind} | {attribute.description}{note} |")
    return rows + [""]


def _attributes(spec: TableSpec) -> list[str]:
    if spec.record_kinds:
        lines = [f"Item kinds ({len(spec.record_kinds)}), told apart by their keys:", ""]
        for kind in spec.record_kinds:
            keys = f"`{spec.partition.name} = {kind.partition}`"
            if spec.sort is not None and kind.sort is not None:
                keys += f", `{spec.sort.name} = {kind.sort}`"
            lines += [f"**{kind.name}** ({keys}): {kind.description}", ""]
            lines += _attribute_rows(kind.attributes)
        return lines
    if spec.attributes:
        return ["Attributes:", ""] + _attribute_rows(spec.attributes)
    return []


def _use_case(spec: TableSpec, index) -> str:
    served = [p.description.rstrip(".") for p in spec.access_patterns if p.index == index.name]
    parts = ([index.use_case] if index.use_case else []) + served
    return "; ".join(parts) or "—"


def _examples(spec: TableSpec) -> list[str]:
    title = "Example item:" if len(spec.examples) == 1 else f"Example items ({len(spec.examples)}):"
    lines = [title, ""]
    for item in spec.examples:
        kind = spec.record_kind(item) if spec.record_kinds else None
        if kind is not None:
            lines += [f"{kind.name}:", ""]
        lines += ["```json", json.dumps(item, indent=2, sort_keys=False, default=str), "```", ""]
    return lines


def _shell_json(value) -> str:
    return shlex.quote(json.dumps(value, separators=(", ", ": ")))


def cli_command(spec: TableSpec, pattern: AccessPattern, params=None) -> str:
    """The aws CLI command for a declared pattern (the request build_request makes)."""
    operation, kwargs = build_request(spec, pattern, params if params is not None else pattern.example,
                                      table_name=spec.table_name("dev"))
    if operation == "GetItem":
        return (f"aws dynamodb get-item --table-name {kwargs['TableName']} \\\n"
                f"  --key {_shell_json(kwargs['Key'])}")
    parts = [f"aws dynamodb query --table-name {kwargs['TableName']}"]
    if "IndexName" in kwargs:
        parts.append(f"--index-name {kwargs['IndexName']}")
    parts.append(f"--key-condition-expression {shlex.quote(kwargs['KeyConditionExpression'])}")
    parts.append(f"--expression-attribute-names {_shell_json(kwargs['ExpressionAttributeNames'])}")
    parts.append(f"--expression-attribute-values {_shell_json(kwargs['ExpressionAttributeValues'])}")
    if not kwargs["ScanIndexForward"]:
        parts.append("--no-scan-index-forward")
    if "Limit" in kwargs:
        parts.append(f"--max-items {kwargs['Limit']}")
    return " \\\n  ".join(parts)


def _query_examples(spec: TableSpec) -> list[str]:
    lines = ["Query examples (each a declared access pattern with its example parameters; the same",
             f"through the admin CLI: `dynamo-admin query {spec.alias}:PATTERN name=value ...`):", ""]
    for pattern in spec.access_patterns:
        params = " ".join(f"{k}={v}" for k, v in pattern.example.items())
        lines += ["```bash", f"# {pattern.name}: {pattern.description}",
                  f"#   dynamo-admin query {spec.alias}:{pattern.name} {params}".rstrip(),
                  cli_command(spec, pattern), "```", ""]
    return lines


def _stream_steps(spec: TableSpec) -> list[str]:
    table = spec.table_name("dev")
    return [
        f"Stream verification ({spec.stream}): the stream's ARN, its shards, an iterator and the records.",
        "",
        "```bash",
        f"STREAM_ARN=$(aws dynamodb describe-table --table-name {table} \\",
        "  --query 'Table.LatestStreamArn' --output text)",
        "aws dynamodbstreams describe-stream --stream-arn \"$STREAM_ARN\"",
        "SHARD_ID=$(aws dynamodbstreams describe-stream --stream-arn \"$STREAM_ARN\" \\",
        "  --query 'StreamDescription.Shards[0].ShardId' --output text)",
        "ITERATOR=$(aws dynamodbstreams get-shard-iterator --stream-arn \"$STREAM_ARN\" \\",
        "  --shard-id \"$SHARD_ID\" --shard-iterator-type TRIM_HORIZON \\",
        "  --query 'ShardIterator' --output text)",
        "aws dynamodbstreams get-records --shard-iterator \"$ITERATOR\"",
        "```",
        "",
        "`TRIM_HORIZON` reads from the oldest record kept (24 hours); `LATEST` (the source's choice)",
        "returns only records written after the iterator was taken.",
        "",
    ]


def _iops_troubleshooting(spec: TableSpec) -> list[str]:
    table = spec.table_name("dev")
    return [
        "Troubleshooting:",
        "",
        "- **Table already exists** (a deploy fails because the name is taken, e.g. by a table left",
        "  from an earlier stack). Dev tables may be destroyed; this loses their data:",
        "",
        "  ```bash",
        f"  aws dynamodb delete-table --table-name {table}",
        f"  aws dynamodb wait table-not-exists --table-name {table}",
        "  make deploy                                      # or: make deploy TARGET=aws",
        "  ```",
        "",
        "  On the local target a fresh endpoint is the clean reset: `make destroy && make deploy`.",
        "- **GSI not found** (`ValidationException` naming an index): the index is still being",
        "  created. Wait until every index reports `ACTIVE`:",
        "",
        "  ```bash",
        f"  aws dynamodb describe-table --table-name {table} \\",
        "    --query 'Table.GlobalSecondaryIndexes[].[IndexName,IndexStatus]' --output text",
        "  ```",
        "",
        "- **Permission denied** (`AccessDeniedException` in a function's log): check the table's ARN",
        "  and the policies on the functions' roles (granted by the database stack):",
        "",
        "  ```bash",
        f"  aws dynamodb describe-table --table-name {table} --query 'Table.TableArn' --output text",
        "  aws cloudformation describe-stack-resources --stack-name IOpsDashboard-dev-Database \\",
        "    --query \"StackResources[?ResourceType=='AWS::IAM::Policy'].PhysicalResourceId\" --output text",
        "  ```",
        "",
    ]


TROUBLESHOOTING = {"iops.metrics": _iops_troubleshooting}


def render() -> str:
    lines = [
        "# Database schema",
        "",
        "Generated by `make docs` from `lambda_src/*/schema.py`; do not edit by hand",
        "(a test fails when this file is stale). `{stage}` is `dev` or `prod`.",
        "Every table is `AWS::DynamoDB::Table`, on-demand, encrypted with the",
        "AWS-managed KMS key, and refuses non-TLS requests through its resource policy.",
        "",
        "Types are DynamoDB's: S string, N number, BOOL boolean, L list, M map; `any` is any JSON value.",
        "",
        "The `aws` commands below run against the local target as they stand once these are set",
        "(unset them, and give `--region`, to run them against an AWS account):",
        "",
        "```bash",
        "export AWS_ENDPOINT_URL=http://localhost:4566 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \\",
        "  AWS_DEFAULT_REGION=us-east-1",
        "```",
        "",
        "Tables of stage `dev` are named in the commands; for prod, put `prod` in the name.",
        "",
    ]
    for product, specs in PRODUCTS.items():
        lines += [f"## {TITLES[product]}", ""]
        for spec in specs:
            lines += render_table(spec)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(f"{TARGET.relative_to(ROOT)} is stale: run make docs", file=sys.stderr)
            return 1
        return 0
    TARGET.parent.mkdir(exist_ok=True)
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
