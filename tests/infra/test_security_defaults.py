"""The defaults a security reviewer expects, checked on every synthesized template.

cdk-nag, cfn-lint and checkov check these too, but their findings can be
acknowledged; these tests pin the properties themselves, so an
acknowledgement can never hide a regression of the default.
"""

from __future__ import annotations

import re

import pytest

from tests.synth import synth
from tools.catalog import ALL_TABLES

STAGES = ["dev", "prod"]
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE|CREDENTIAL|API_KEY$", re.IGNORECASE)
# A literal that looks like key material: long, unbroken, mixed-alphabet.
SECRET_VALUE = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9+/=_-]{32,}$")


def resources(stage: str, cfn_type: str):
    for stack_id, template in synth(stage).items():
        for logical_id, resource in template.get("Resources", {}).items():
            if resource["Type"] == cfn_type:
                yield stack_id, logical_id, resource


def _ids(rows) -> list[str]:
    return [f"{stack}/{logical}" for stack, logical, _ in rows]


@pytest.mark.parametrize("stage", STAGES)
def test_no_secret_in_function_environment(stage):
    functions = list(resources(stage, "AWS::Lambda::Function"))
    assert functions, "the app has Lambda functions"
    leaks = []
    for stack, logical, resource in functions:
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        for name, value in variables.items():
            if SECRET_NAME.search(name) or (isinstance(value, str) and SECRET_VALUE.match(value)):
                leaks.append((stack, logical, name))
    assert leaks == []


def test_secret_detector_flags_key_material():
    assert SECRET_NAME.search("GITHUB_TOKEN")
    assert SECRET_VALUE.match("ghp_" + "a1B2" * 9)
    assert not SECRET_VALUE.match("dephealth-api-keys")


@pytest.mark.parametrize("stage", STAGES)
def test_functions_trace_log_and_bound_their_runs(stage):
    problems = []
    for stack, logical, resource in resources(stage, "AWS::Lambda::Function"):
        props = resource["Properties"]
        if props.get("TracingConfig") != {"Mode": "Active"}:
            problems.append((stack, logical, "tracing"))
        if not props.get("MemorySize") or not props.get("Timeout"):
            problems.append((stack, logical, "memory/timeout"))
        if "LogGroup" not in props.get("LoggingConfig", {}):
            problems.append((stack, logical, "own log group"))
        # The function waits for its role policy, and only for it (cfn-lint W3005).
        if not all("DefaultPolicy" in dep for dep in resource.get("DependsOn", [])):
            problems.append((stack, logical, "DependsOn"))
    assert problems == []


@pytest.mark.parametrize("stage", STAGES)
def test_log_groups_have_retention(stage):
    groups = list(resources(stage, "AWS::Logs::LogGroup"))
    assert groups
    assert [g for g in groups if not g[2]["Properties"].get("RetentionInDays")] == []


@pytest.mark.parametrize("stage", STAGES)
def test_queues_are_encrypted_tls_only_and_redrive(stage):
    queues = list(resources(stage, "AWS::SQS::Queue"))
    assert queues
    tls_denied: set[str] = set()
    for _stack, _logical, policy in resources(stage, "AWS::SQS::QueuePolicy"):
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                    "Bool": {"aws:SecureTransport": "false"}}:
                tls_denied.update(q["Ref"] for q in policy["Properties"]["Queues"])
    problems = []
    for stack, logical, queue in queues:
        props = queue["Properties"]
        if not (props.get("KmsMasterKeyId") or props.get("SqsManagedSseEnabled")):
            problems.append((stack, logical, "encryption"))
        if logical not in tls_denied:
            problems.append((stack, logical, "TLS-only policy"))
        is_dead_letter_queue = re.search(r"DeadLetter|Failure", logical)
        if not is_dead_letter_queue and "RedrivePolicy" not in props:
            problems.append((stack, logical, "redrive"))
    assert problems == []


@pytest.mark.parametrize("stage", STAGES)
def test_api_stages_log_throttle_and_validate(stage):
    stages = list(resources(stage, "AWS::ApiGateway::Stage"))
    assert len(stages) == 2, _ids(stages)
    for _stack, _logical, resource in stages:
        props = resource["Properties"]
        assert props["AccessLogSetting"]["DestinationArn"]
        assert props["TracingEnabled"] is True
        (settings,) = props["MethodSettings"]
        assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0
        assert settings["DataTraceEnabled"] is False  # request bodies carry emails and keys
    for stack, logical, method in resources(stage, "AWS::ApiGateway::Method"):
        if method["Properties"]["HttpMethod"] != "OPTIONS":
            assert "RequestValidatorId" in method["Properties"], (stack, logical)


@pytest.mark.parametrize("stage", STAGES)
def test_tables_are_encrypted_and_tls_only(stage):
    tables = list(resources(stage, "AWS::DynamoDB::Table"))
    assert len(tables) == len(ALL_TABLES)
    for stack, logical, table in tables:
        props = table["Properties"]
        assert props["SSESpecification"]["SSEEnabled"] is True, (stack, logical)
        statements = props["ResourcePolicy"]["PolicyDocument"]["Statement"]
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in statements), (stack, logical)
