"""IAM as the deployed functions get it, enforced on the in-process DynamoDB calls.

moto does not evaluate IAM, so a handler could send a request its role does
not allow and every runtime test would still pass; on AWS it would be
AccessDenied. This module reads each function's policy from the synthesized
templates (the handler module from ``Handler``, its role, the role's policies:
actions, table and index ARNs, ``dynamodb:LeadingKeys`` conditions) and checks
every DynamoDB request a handler module makes while a test runs. A request no
statement allows fails the way AWS would: ``AccessDeniedException``.

The caller is the innermost handler module on the stack (``lambda_src.<product>.
<module>`` named by some function's ``Handler``); calls from test code or tools
are not a function's and pass unchecked.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import botocore.client
from botocore.exceptions import ClientError

LAMBDA_SRC = Path(__file__).resolve().parents[2] / "lambda_src"
CONDITION = "ForAllValues:StringLike"
# Operations that name one item: the action they need is their own name.
_ITEM_OPERATIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem")
_TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


@dataclass(frozen=True)
class Statement:
    actions: frozenset[str]
    resources: frozenset[str]  # "table" or "table/index/name"
    leading_keys: tuple[str, ...] | None  # StringLike patterns, or None when unconditioned

    def allows(self, action: str, resource: str, keys: tuple[str, ...] | None) -> bool:
        if action not in self.actions or resource not in self.resources:
            return False
        if self.leading_keys is None:
            return True
        # ForAllValues: every leading key of the request matches one pattern
        # (a request that names no key satisfies it vacuously, as IAM does).
        return all(any(_string_like(key, pattern) for pattern in self.leading_keys) for key in keys or ())


@dataclass(frozen=True)
class Need:
    """One authorization a request needs: an action on a table or index, for these partition keys."""

    action: str
    resource: str
    keys: tuple[str, ...] | None


@dataclass
class Policies:
    by_module: dict[str, list[Statement]] = field(default_factory=dict)
    partition_key: dict[str, str] = field(default_factory=dict)  # table name -> its partition key attribute
    checked: int = 0

    def check(self, module: str, operation: str, params: dict) -> None:
        statements = self.by_module.get(module)
        if statements is None:
            return
        for need in self.needs(operation, params):
            self.checked += 1
            if not any(statement.allows(need.action, need.resource, need.keys) for statement in statements):
                raise ClientError(
                    {"Error": {"Code": "AccessDeniedException",
                               "Message": f"{module} is not authorized to perform dynamodb:{need.action} on "
                                          f"{need.resource} for leading keys {need.keys}"},
                     "ResponseMetadata": {"HTTPStatusCode": 400}},
                    operation,
                )

    def needs(self, operation: str, params: dict) -> list[Need]:
        table = params.get("TableName", "")
        if operation in _ITEM_OPERATIONS:
            item = params["Item"] if operation == "PutItem" else params["Key"]
            return [Need(operation, table, (self._pk(table, item),))]
        if operation in ("Query", "Scan"):
            if params.get("IndexName"):
                # On an index the leading key is the index's own partition key, never a record kind.
                return [Need(operation, f"{table}/index/{params['IndexName']}", None)]
            if operation == "Scan":
                return [Need(operation, table, None)]
            return [Need(operation, table, (self._query_pk(table, params),))]
        if operation in ("BatchGetItem", "BatchWriteItem"):
            needs = []
            for name, spec in params["RequestItems"].items():
                if operation == "BatchGetItem":
                    keys = tuple(self._pk(name, key) for key in spec["Keys"])
                else:
                    keys = tuple(self._pk(name, (w.get("PutRequest") or {}).get("Item")
                                          or w["DeleteRequest"]["Key"]) for w in spec)
                needs.append(Need(operation, name, keys))
            return needs
        if operation in ("TransactWriteItems", "TransactGetItems"):
            needs = []
            for element in params["TransactItems"]:
                ((kind, body),) = element.items()
                item = body["Item"] if kind == "Put" else body["Key"]
                needs.append(Need(_TRANSACT_ACTIONS[kind], body["TableName"], (self._pk(body["TableName"], item),)))
            return needs
        # DescribeTable and the like: the action is the operation, on the table.
        return [Need(operation, table, None)]

    def _pk(self, table: str, item: dict) -> str:
        value = item[self.partition_key[table]]
        return str(next(iter(value.values())) if isinstance(value, dict) else value)

    def _query_pk(self, table: str, params: dict) -> str:
        names = params.get("ExpressionAttributeNames", {})
        attribute = self.partition_key[table]
        for name_token, value_token in re.findall(r"([#\w]+)\s*=\s*(:\w+)", params["KeyConditionExpression"]):
            if names.get(name_token, name_token) == attribute:
                value = params["ExpressionAttributeValues"][value_token]
                return str(next(iter(value.values())) if isinstance(value, dict) else value)
        raise AssertionError(f"no partition key condition in {params['KeyConditionExpression']!r}")


def _string_like(value: str, pattern: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.S) is not None


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


class _Resolver:
    """Resolves the reference forms the templates use for roles and tables, across stacks."""

    def __init__(self, templates: dict[str, dict]) -> None:
        self.templates = templates
        self.outputs = {name: (stack, output) for stack, template in templates.items()
                        for name, output in template.get("Outputs", {}).items()}
        self.exports = {output["Export"]["Name"]: (stack, output) for stack, template in templates.items()
                        for output in template.get("Outputs", {}).values() if "Export" in output}

    def _output_value(self, ref: dict) -> tuple[str, object] | None:
        if "Fn::GetStackOutput" in ref:
            found = self.outputs.get(ref["Fn::GetStackOutput"]["OutputName"])
        elif "Fn::ImportValue" in ref and isinstance(ref["Fn::ImportValue"], str):
            found = self.exports.get(ref["Fn::ImportValue"])
        else:
            return None
        return None if found is None else (found[0], found[1]["Value"])

    def role(self, stack: str, ref) -> tuple[str, str] | None:
        """A role reference -> (stack, logical id)."""
        if isinstance(ref, dict) and "Ref" in ref:
            return stack, ref["Ref"]
        if isinstance(ref, dict) and "Fn::GetAtt" in ref:
            return stack, ref["Fn::GetAtt"][0]
        value = self._output_value(ref) if isinstance(ref, dict) else None
        return None if value is None else self.role(*value)

    def resource(self, stack: str, ref) -> str | None:
        """A table or index ARN -> ``NAME`` or ``NAME/index/INDEX``; None for anything else."""
        if isinstance(ref, str):
            return ref.split(":table/", 1)[1] if ":table/" in ref else None
        if not isinstance(ref, dict):
            return None
        if "Fn::Join" in ref:
            # pseudo parameters (partition, region, account) stand as they are; table ARNs resolve
            parts = [part if not isinstance(part, dict) else "ref" if "Ref" in part else self.resource(stack, part)
                     for part in ref["Fn::Join"][1]]
            if any(part is None for part in parts):
                return None
            text = "".join(str(part) for part in parts)
            if ":table/" in text:
                return text.split(":table/", 1)[1]
            return text if "/index/" in text and not text.startswith("arn:") else None
        if "Fn::GetAtt" in ref and ref["Fn::GetAtt"][1] == "Arn":
            resource = self.templates[stack]["Resources"].get(ref["Fn::GetAtt"][0], {})
            if resource.get("Type") == "AWS::DynamoDB::Table":
                return resource["Properties"]["TableName"]
            return None
        value = self._output_value(ref)
        return None if value is None else self.resource(*value)


def read_policies(templates: dict[str, dict]) -> Policies:
    """Each handler module's DynamoDB statements, and each table's partition key, from the templates."""
    resolve = _Resolver(templates)
    policies = Policies()
    by_role: dict[tuple[str, str], list[Statement]] = {}
    for stack, template in templates.items():
        for logical_id, resource in template["Resources"].items():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::DynamoDB::Table":
                hash_key = next(k["AttributeName"] for k in props["KeySchema"] if k["KeyType"] == "HASH")
                policies.partition_key[props["TableName"]] = hash_key
            if resource["Type"] not in ("AWS::IAM::Policy", "AWS::IAM::Role"):
                continue
            if resource["Type"] == "AWS::IAM::Policy":
                documents = [props["PolicyDocument"]]
                roles = [resolve.role(stack, ref) for ref in props.get("Roles", [])]
            else:
                documents = [policy["PolicyDocument"] for policy in props.get("Policies", [])]
                roles = [(stack, logical_id)]
            for document in documents:
                for raw in document["Statement"]:
                    if raw.get("Effect", "Allow") != "Allow":
                        continue
                    actions = {a.split(":", 1)[1] for a in _listed(raw["Action"]) if a.startswith("dynamodb:")}
                    names = {n for n in (resolve.resource(stack, r) for r in _listed(raw.get("Resource", []))) if n}
                    if not actions or not names:
                        continue
                    condition = raw.get("Condition", {}).get(CONDITION, {}).get("dynamodb:LeadingKeys")
                    statement = Statement(frozenset(actions), frozenset(names),
                                          None if condition is None else tuple(_listed(condition)))
                    for role in roles:
                        if role is None:
                            raise AssertionError(f"{stack}: a policy names a role this module cannot resolve")
                        by_role.setdefault(role, []).append(statement)
    for stack, template in templates.items():
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            props = resource["Properties"]
            module = str(props.get("Handler", "")).rsplit(".", 1)[0]
            role = resolve.role(stack, props.get("Role"))
            if module.startswith("lambda_src.") and role is not None:
                policies.by_module.setdefault(module, []).extend(by_role.get(role, []))
    return policies


def _calling_module(modules: dict[str, str]) -> str | None:
    """The innermost frame that belongs to a handler module: which function is calling."""
    frame = sys._getframe(2)
    while frame is not None:
        module = modules.get(frame.f_code.co_filename)
        if module is not None:
            return module
        frame = frame.f_back
    return None


@contextmanager
def enforced(policies: Policies) -> Iterator[Policies]:
    """Every DynamoDB request a handler module makes inside the block is authorized first."""
    modules = {str(LAMBDA_SRC.parent / (module.replace(".", "/") + ".py")): module for module in policies.by_module}
    original = botocore.client.BaseClient._make_api_call

    def checked(client, operation_name, api_params):
        if client.meta.service_model.service_name == "dynamodb":
            module = _calling_module(modules)
            if module is not None:
                policies.check(module, operation_name, api_params)
        return original(client, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = checked
    try:
        yield policies
    finally:
        botocore.client.BaseClient._make_api_call = original
