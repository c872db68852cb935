"""The KV API function's IAM policy, pinned: exact DynamoDB actions on the table and GSI1 only."""

from __future__ import annotations

import pytest

from stacks.kv.api import INDEX_ACTIONS, TABLE_ACTIONS

# Stacks default to us-east-1 (app.DEFAULT_REGION), so region and partition are literal.
ARN_PREFIX = ["arn:aws:dynamodb:us-east-1:", {"Ref": "AWS::AccountId"}]


def function_statements(template: dict) -> list[dict]:
    policies = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"]
    assert len(policies) == 1
    return policies[0]["Properties"]["PolicyDocument"]["Statement"]


def as_list(value):
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_dynamodb_statements_are_exact(staged_templates, stage):
    _, templates = staged_templates
    dynamo = [s for s in function_statements(templates["KvStorageApi"])
              if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))]
    assert dynamo == [
        {"Action": list(TABLE_ACTIONS), "Effect": "Allow",
         "Resource": {"Fn::Join": ["", ARN_PREFIX + [":table/kv-storage-data"]]}},
        {"Action": INDEX_ACTIONS[0], "Effect": "Allow",
         "Resource": {"Fn::Join": ["", ARN_PREFIX + [":table/kv-storage-data/index/GSI1"]]}},
    ]
    assert TABLE_ACTIONS == ("dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem",
                             "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem")


def test_no_other_permissions_beyond_logs_and_xray(dev_templates):
    others = [s for s in function_statements(dev_templates["KvStorageApi"])
              if not any(a.startswith(("dynamodb:", "secretsmanager:")) for a in as_list(s["Action"]))]
    actions = sorted(a for s in others for a in as_list(s["Action"]))
    assert actions == ["logs:CreateLogStream", "logs:PutLogEvents",
                       "xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    star = [s for s in others if s["Resource"] == "*"]
    assert [sorted(as_list(s["Action"])) for s in star] == [["xray:PutTelemetryRecords", "xray:PutTraceSegments"]]


def test_handler_environment_names_the_data_stack_table_and_index(dev_templates):
    data = dev_templates["KvStorageData"]["Resources"]
    table = next(r["Properties"] for r in data.values() if r["Type"] == "AWS::DynamoDB::Table")
    fn = next(r["Properties"] for r in dev_templates["KvStorageApi"]["Resources"].values()
              if r["Type"] == "AWS::Lambda::Function")
    env = fn["Environment"]["Variables"]
    assert env["TABLE_NAME"] == table["TableName"]
    assert env["GSI_NAME"] in [g["IndexName"] for g in table["GlobalSecondaryIndexes"]]
    assert fn["Handler"] == "lambda_src.kv.api.handler"


def test_context_overrides_reach_the_policy_and_environment():
    from tests.synth import synth

    templates = synth("dev", (("tableName", "kv-custom"), ("gsiName", "ByOwner")))
    api = templates["KvStorageApi"]
    fn = next(r["Properties"] for r in api["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    assert {k: fn["Environment"]["Variables"][k] for k in ("TABLE_NAME", "GSI_NAME")} == {
        "TABLE_NAME": "kv-custom", "GSI_NAME": "ByOwner"}
    resources = [s["Resource"]["Fn::Join"][1][-1] for s in function_statements(api) if "Fn::Join" in s["Resource"]]
    assert resources == [":table/kv-custom", ":table/kv-custom/index/ByOwner"]


def test_api_validates_throttles_and_logs(dev_templates):
    resources = dev_templates["KvStorageApi"]["Resources"]
    stage = next(r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::Stage")
    assert stage["AccessLogSetting"]["DestinationArn"]
    settings = stage["MethodSettings"][0]
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0
    validators = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::RequestValidator"]
    assert validators == [{"RestApiId": validators[0]["RestApiId"], "ValidateRequestBody": True,
                           "ValidateRequestParameters": True}]
    methods = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::Method"]
    assert len(methods) == 9
    assert all(m["Integration"]["Type"] == "AWS_PROXY" for m in methods)


def test_the_function_reads_only_its_cursor_secret(dev_templates):
    template = dev_templates["KvStorageApi"]
    secrets = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::SecretsManager::Secret"]
    assert len(secrets) == 1
    secret = template["Resources"][secrets[0]]["Properties"]
    assert "SecretString" not in secret and secret["GenerateSecretString"]["PasswordLength"] == 64
    statements = [s for s in function_statements(template)
                  if any(a.startswith("secretsmanager:") for a in as_list(s["Action"]))]
    assert [(sorted(as_list(s["Action"])), s["Resource"]) for s in statements] == [
        (["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"], {"Ref": secrets[0]})]
    fn = next(r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    assert fn["Environment"]["Variables"]["KV_CURSOR_HMAC_ARN"] == {"Ref": secrets[0]}


def test_the_data_stack_exports_the_table_name_and_arn(staged_templates):
    stage, templates = staged_templates
    template = templates["KvStorageData"]
    table = next(k for k, r in template["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table")
    outputs = {o["Export"]["Name"]: o["Value"] for o in template["Outputs"].values() if "Export" in o}
    assert outputs[f"KvStorage-{stage}-TableName"] == {"Ref": table}
    assert outputs[f"KvStorage-{stage}-TableArn"] == {"Fn::GetAtt": [table, "Arn"]}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_no_leading_keys_condition_the_one_function_writes_every_kind(staged_templates, stage):
    """KV's one function writes USER#, NS#, EMAIL# and SIGNUP# items alike (stacks/kv/api.py): no condition.

    The key formats those four kinds are built from are the ones the
    function's modules import; a condition would list them all.
    """
    from lambda_src.kv import schema

    _, templates = staged_templates
    assert all("Condition" not in s for s in function_statements(templates["KvStorageApi"]))
    prefixes = {f.prefix for f in (schema.USER_PK, schema.NS_PK, schema.EMAIL_PK, schema.SIGNUP_PK)}
    assert {k.partition.prefix for k in schema.TABLE.record_kinds} <= prefixes
