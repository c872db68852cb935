"""Each DepHealth function's role allows exactly what its code calls, nothing more.

A policy is flattened into ``(action, resource)`` pairs, resources rendered
as readable strings, and compared with the full expected set per function:
any added action, table, index or wildcard fails the test.
"""

from __future__ import annotations

import pytest

from lambda_src.dephealth import schema

KEYS = "table/" + schema.API_KEYS.table_name("dev")
PKGS = "table/" + schema.PACKAGES.table_name("dev")
LOGS = ("logs:CreateLogStream", "logs:PutLogEvents")
XRAY = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")


def _pairs(actions, resource):
    return {(a, resource) for a in actions}


def _common(fn_id):
    return _pairs(LOGS, f"{fn_id}Logs.Arn") | _pairs(XRAY, "*")


EXPECTED = {
    "AuthApi": _common("AuthApi")
    | _pairs(("dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"), KEYS)
    | {("dynamodb:Query", f"{KEYS}/index/{schema.MAGIC_TOKEN_INDEX.name}"),
       ("dynamodb:Query", f"{KEYS}/index/{schema.VERIFICATION_TOKEN_INDEX.name}"),
       ("sqs:SendMessage", "MailQueue.Arn")},
    "Mailer": _common("Mailer")
    | _pairs(("dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"), KEYS)
    | {("ses:SendEmail", "arn:aws:ses:us-east-1::identity/no-reply@dephealth.example")}
    | _pairs(("sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl",
              "sqs:ReceiveMessage"), "MailQueue.Arn"),
    "PackagesApi": _common("PackagesApi")
    | {("dynamodb:UpdateItem", KEYS), ("dynamodb:Query", f"{KEYS}/index/{schema.KEY_HASH_INDEX.name}"),
       ("dynamodb:GetItem", PKGS), ("dynamodb:BatchGetItem", PKGS),
       ("dynamodb:Query", f"{PKGS}/index/{schema.RISK_LEVEL_INDEX.name}")},
    "CollectorDlqProcessor": _common("CollectorDlqProcessor")
    | {("dynamodb:PutItem", KEYS), ("dynamodb:UpdateItem", PKGS)}
    | _pairs(("sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl",
              "sqs:ReceiveMessage"), "CollectorQueue.Arn"),
    "MonthlyReset": _common("MonthlyReset")
    | _pairs(("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:UpdateItem"), KEYS),
}


def _render(value, logical_prefix) -> str:
    """A policy resource as text: table ARNs by their ``table/...`` suffix, GetAtt as ``Id.Attr``."""
    if isinstance(value, str):
        return value
    if "Fn::GetAtt" in value:
        logical, attr = value["Fn::GetAtt"]
        return f"{logical_prefix(logical)}.{attr}"
    if "Fn::Join" in value:
        text = "".join(p if isinstance(p, str) else "" for p in value["Fn::Join"][1])
        return text.split(":", 1)[1].rsplit(":", 1)[1] if ":table/" in text else text
    raise AssertionError(f"unexpected resource {value}")


def _as_list(value):
    return value if isinstance(value, list) else [value]


def role_pairs(template: dict) -> dict[str, set]:
    resources = template["Resources"]

    def strip_hash(logical: str) -> str:
        return logical[:-8] if len(logical) > 8 else logical

    out = {}
    for logical, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        [role] = resource["Properties"]["Roles"]
        fn_id = strip_hash(role["Ref"]).removesuffix("Role")
        pairs = set()
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow" and "Condition" not in statement
            for action in _as_list(statement["Action"]):
                for res in _as_list(statement["Resource"]):
                    pairs.add((action, _render(res, strip_hash)))
        out[fn_id] = pairs
    return out


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_each_function_policy_is_exactly_what_it_needs(stage, dev_templates, prod_templates):
    template = (dev_templates if stage == "dev" else prod_templates)["DepHealthService"]
    assert role_pairs(template) == EXPECTED


def test_only_the_monthly_reset_may_scan(dev_templates):
    scanners = {fn for fn, pairs in role_pairs(dev_templates["DepHealthService"]).items()
                if any(action == "dynamodb:Scan" for action, _ in pairs)}
    assert scanners == {"MonthlyReset"}


def test_roles_carry_no_managed_or_inline_policies(dev_templates):
    roles = [r for r in dev_templates["DepHealthService"]["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    assert len(roles) == 5
    for role in roles:
        assert not role["Properties"].get("ManagedPolicyArns") and not role["Properties"].get("Policies")
        [statement] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_functions_get_table_names_from_the_schema(dev_templates):
    functions = [r["Properties"] for r in dev_templates["DepHealthService"]["Resources"].values()
                 if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) == 5
    for fn in functions:
        env = fn["Environment"]["Variables"]
        assert env["PACKAGES_TABLE"] == schema.PACKAGES.table_name("dev")
        assert env["API_KEYS_TABLE"] == schema.API_KEYS.table_name("dev")
        assert fn["Handler"].startswith("lambda_src.dephealth.") and fn["TracingConfig"] == {"Mode": "Active"}


def test_queue_is_encrypted_tls_only_with_a_dlq_and_partial_batch_responses(dev_templates):
    resources = dev_templates["DepHealthService"]["Resources"]
    queues = {k: r["Properties"] for k, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    assert len(queues) == 4 and all(q.get("SqsManagedSseEnabled") for q in queues.values())
    redriven = sorted(k.rstrip("0123456789ABCDEF") for k, q in queues.items() if "RedrivePolicy" in q)
    assert redriven == ["CollectorQueue", "MailQueue"]
    assert all(q["RedrivePolicy"]["maxReceiveCount"] == 5 for q in queues.values() if "RedrivePolicy" in q)
    policies = [r["Properties"]["PolicyDocument"]["Statement"] for r in resources.values()
                if r["Type"] == "AWS::SQS::QueuePolicy"]
    assert len(policies) == 4
    for statements in policies:
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in statements)
    mappings = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert len(mappings) == 2
    assert all(m["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for m in mappings)


def _ses_statement(template):
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy":
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                if statement["Action"] == "ses:SendEmail":
                    return statement
    raise AssertionError("no ses:SendEmail statement")


def test_mail_is_sent_from_the_context_identity_only(dev_templates):
    from tests.synth import synth

    statement = _ses_statement(dev_templates["DepHealthService"])
    joined = "".join(p if isinstance(p, str) else "{%s}" % p.get("Ref") for p in statement["Resource"]["Fn::Join"][1])
    assert joined == "arn:aws:ses:us-east-1:{AWS::AccountId}:identity/no-reply@dephealth.example"
    service = synth("dev", (("mailFrom", "links@mail.example.org"),))["DepHealthService"]
    statement = _ses_statement(service)
    assert statement["Resource"]["Fn::Join"][1][-1] == ":identity/links@mail.example.org"
    [mailer] = [r["Properties"] for r in service["Resources"].values()
                if r["Type"] == "AWS::Lambda::Function" and r["Properties"]["Handler"].endswith("mail_worker.handler")]
    assert mailer["Environment"]["Variables"]["MAIL_FROM"] == "links@mail.example.org"
    assert "PUBLIC_BASE_URL" in mailer["Environment"]["Variables"]


def test_api_validates_requests_logs_access_and_throttles(dev_templates):
    resources = dev_templates["DepHealthService"]["Resources"]
    [stage] = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::Stage"]
    assert "AccessLogSetting" in stage and "$context.requestId" in stage["AccessLogSetting"]["Format"]
    assert "querystring" not in stage["AccessLogSetting"]["Format"].lower()
    assert stage["MethodSettings"][0]["ThrottlingRateLimit"] == 50
    methods = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::Method"]
    assert len(methods) == 7
    assert all(m["Integration"]["Type"] == "AWS_PROXY" and "RequestValidatorId" in m for m in methods)
    # The gateway responses come from JsonRestApi (tests/infra/test_rest_api.py pins them on both APIs).


def test_monthly_reset_runs_on_a_schedule(dev_templates):
    [rule] = [r["Properties"] for r in dev_templates["DepHealthService"]["Resources"].values()
              if r["Type"] == "AWS::Events::Rule"]
    assert rule["ScheduleExpression"] == "cron(5 0-5 1 * ? *)"
