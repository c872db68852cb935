"""No IAM policy in any stack grants DynamoDB actions broadly."""

from __future__ import annotations

import pytest

from tests.synth import synth


def allow_statements(template: dict):
    for logical_id, resource in template.get("Resources", {}).items():
        if resource["Type"] not in ("AWS::IAM::Policy", "AWS::IAM::Role", "AWS::IAM::ManagedPolicy"):
            continue
        props = resource["Properties"]
        documents = [props["PolicyDocument"]] if "PolicyDocument" in props else []
        documents += [p["PolicyDocument"] for p in props.get("Policies", [])]
        for document in documents:
            for statement in document["Statement"]:
                if statement.get("Effect", "Allow") == "Allow":
                    yield logical_id, statement


def as_list(value):
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_no_dynamodb_grant_on_wildcards(stage):
    problems = []
    for stack_id, template in synth(stage).items():
        for logical_id, statement in allow_statements(template):
            actions = [a for a in as_list(statement["Action"]) if a.lower().startswith("dynamodb:") or a == "*"]
            if not actions:
                continue
            if any("*" in a for a in actions):
                problems.append((stack_id, logical_id, "wildcard action", actions))
            if any(r == "*" for r in as_list(statement["Resource"])):
                problems.append((stack_id, logical_id, "resource *", actions))
    assert problems == []


def test_detector_flags_a_wildcard():
    template = {"Resources": {"P": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyDocument": {
        "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}}}}}
    statements = list(allow_statements(template))
    assert statements and statements[0][1]["Action"] == "dynamodb:*"
