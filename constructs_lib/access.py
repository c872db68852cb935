"""Least-privilege DynamoDB grants: named actions on named tables and indexes.

CDK's ``grant_read_write_data`` hands out a dozen actions and every index;
a function here gets only what its code calls. Templates tests pin the result.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

from lambda_src.common.schema_types import TableSpec

from .schema_table import SchemaTable

READ_ITEM = ("dynamodb:GetItem",)
QUERY = ("dynamodb:Query",)
WRITE_ITEM = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")


class TableByName:
    """A table of another stack, addressed by its fixed name from ``stack``'s account and region.

    Same ``table_arn`` / ``index_arn`` shape as ``SchemaTable``, so the grant
    helpers apply, without a cross-stack reference: service stacks grant on
    their data stack's tables by name (the local endpoint cannot resolve
    ``Fn::GetStackOutput``), and IOps core must not reference its database stack.
    """

    def __init__(self, stack: Stack, *, spec: TableSpec, table_name: str) -> None:
        self.spec = spec
        self.table_name = table_name
        self.table_arn = stack.format_arn(service="dynamodb", resource="table", resource_name=table_name)

    def index_arn(self, index_name: str) -> str:
        self.spec.index(index_name)  # a name the spec does not declare fails synth
        return f"{self.table_arn}/index/{index_name}"


def table_statement(
    table: SchemaTable | TableByName,
    *,
    actions: Iterable[str],
    indexes: Iterable[str] = (),
    include_table: bool = True,
) -> iam.PolicyStatement:
    """One Allow statement: ``actions`` on the table and/or the named indexes.

    Index names are checked against the table's spec, so a typo fails synth.
    """
    actions = sorted(set(actions))
    for action in actions:
        if not action.startswith("dynamodb:") or "*" in action:
            raise ValueError(f"refusing broad or foreign action {action!r}")
    resources = [table.table_arn] if include_table else []
    resources += [table.index_arn(name) for name in indexes]
    if not resources:
        raise ValueError("a statement needs the table or at least one index")
    return iam.PolicyStatement(actions=actions, resources=resources)


def grant(
    principal: iam.IGrantable,
    table: SchemaTable | TableByName,
    *,
    actions: Iterable[str],
    indexes: Iterable[str] = (),
    include_table: bool = True,
) -> None:
    """Add ``table_statement(...)`` to the principal's policy."""
    principal.grant_principal.add_to_principal_policy(
        table_statement(table, actions=actions, indexes=indexes, include_table=include_table)
    )
