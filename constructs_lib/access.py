"""Least-privilege DynamoDB grants: named actions on named tables and indexes.

CDK's ``grant_read_write_data`` hands out a dozen actions and every index;
a function here gets only what its code calls. Templates tests pin the result.

A table that holds several record kinds (DepHealth's api-keys table) is
narrowed further with ``leading_keys``: the statement then allows its item
actions only on partition keys of the named key formats, through
``ForAllValues:StringLike`` on ``dynamodb:LeadingKeys`` (``user_*``,
``FAILED#*``, the constant ``SYSTEM#RESET_STATE``). The patterns come from
the schema's key declarations, so a key format lives in one place.

Two IAM facts shape the checks below:

- ``ForAllValues`` is true when the request carries no leading key at all,
  so an action without one (``Scan``) would pass the condition unchecked:
  ``table_statement`` refuses it under ``leading_keys``.
- On an index query the leading key is the *index's* partition key (a token
  or key hash, not a record kind): index statements never take
  ``leading_keys`` and stay statements of their own.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

from lambda_src.common.schema_types import KeyFormat, TableSpec

from .schema_table import SchemaTable

READ_ITEM = ("dynamodb:GetItem",)
QUERY = ("dynamodb:Query",)
WRITE_ITEM = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
# Actions whose every request names partition keys, so ``dynamodb:LeadingKeys``
# is always present (TransactWriteItems is authorized per element as these).
KEYED_ACTIONS = frozenset({
    "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem",
    "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem",
})
IAM_WILDCARDS = ("*", "?")


def leading_key_pattern(key: KeyFormat) -> str:
    """The ``StringLike`` pattern of a partition-key format: ``FAILED#{name}`` -> ``FAILED#*``.

    A constant format (``SYSTEM#RESET_STATE``) is matched exactly. A format
    with no literal prefix (``{ecosystem}#{name}``) cannot tell kinds apart
    and is refused, as is a literal that holds an IAM wildcard.
    """
    literal = key.prefix
    if any(w in literal for w in IAM_WILDCARDS):
        raise ValueError(f"key format {key.template!r} holds an IAM wildcard character")
    if not key.params:
        return literal
    if not literal:
        raise ValueError(f"key format {key.template!r} has no literal prefix to restrict on")
    return literal + "*"


def leading_keys_condition(keys: Iterable[KeyFormat]) -> dict:
    """``ForAllValues:StringLike`` on ``dynamodb:LeadingKeys``: every key of the request matches a pattern."""
    patterns = sorted({leading_key_pattern(k) for k in keys})
    if not patterns:
        raise ValueError("leading_keys needs at least one key format")
    return {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": patterns}}


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


def _may_overlap(granted: KeyFormat, other: KeyFormat) -> bool:
    """True if some partition key of ``other`` could match ``granted``'s pattern."""
    mine, theirs = granted.prefix, other.prefix
    if not granted.params:  # exact
        return granted.template == other.template if not other.params else mine.startswith(theirs)
    return theirs.startswith(mine) or (bool(other.params) and mine.startswith(theirs))


def _check_kinds(spec: TableSpec, keys: list[KeyFormat]) -> None:
    """Every format is a record kind's partition format of ``spec``, and no pattern reaches another kind."""
    declared = {kind.partition for kind in spec.record_kinds}
    if not declared:
        raise ValueError(f"{spec.alias} declares no record kinds: leading_keys has nothing to tell apart")
    unknown = [k.template for k in keys if k not in declared]
    if unknown:
        raise ValueError(f"{spec.alias} declares no record kind keyed {', '.join(unknown)}")
    for key in keys:
        reached = [o.template for o in declared - set(keys) if _may_overlap(key, o)]
        if reached:
            raise ValueError(f"{leading_key_pattern(key)!r} would also match {', '.join(reached)}")


def table_statement(
    table: SchemaTable | TableByName,
    *,
    actions: Iterable[str],
    indexes: Iterable[str] = (),
    include_table: bool = True,
    leading_keys: Iterable[KeyFormat] = (),
) -> iam.PolicyStatement:
    """One Allow statement: ``actions`` on the table and/or the named indexes.

    Index names are checked against the table's spec, so a typo fails synth.
    ``leading_keys`` limits the statement to items whose partition key fits
    one of the formats (table only; see the module docstring).
    """
    actions = sorted(set(actions))
    for action in actions:
        if not action.startswith("dynamodb:") or "*" in action:
            raise ValueError(f"refusing broad or foreign action {action!r}")
    indexes = list(indexes)
    keys = list(leading_keys)
    resources = [table.table_arn] if include_table else []
    resources += [table.index_arn(name) for name in indexes]
    if not resources:
        raise ValueError("a statement needs the table or at least one index")
    if not keys:
        return iam.PolicyStatement(actions=actions, resources=resources)
    if indexes:
        raise ValueError("leading_keys applies to the table's own keys; grant index queries in their own statement")
    unkeyed = [a for a in actions if a not in KEYED_ACTIONS]
    if unkeyed:
        raise ValueError(f"{', '.join(unkeyed)} carries no leading key: the condition would not restrict it")
    _check_kinds(table.spec, keys)
    return iam.PolicyStatement(actions=actions, resources=resources, conditions=leading_keys_condition(keys))


def grant(
    principal: iam.IGrantable,
    table: SchemaTable | TableByName,
    *,
    actions: Iterable[str],
    indexes: Iterable[str] = (),
    include_table: bool = True,
    leading_keys: Iterable[KeyFormat] = (),
) -> None:
    """Add ``table_statement(...)`` to the principal's policy."""
    principal.grant_principal.add_to_principal_policy(
        table_statement(table, actions=actions, indexes=indexes, include_table=include_table,
                        leading_keys=leading_keys)
    )
