"""Each DepHealth function's role allows exactly what its code calls, nothing more.

A policy is flattened into ``(action, resource, leading keys)`` triples,
resources rendered as readable strings, leading keys the
``dynamodb:LeadingKeys`` patterns of the statement (``()`` when it has no
condition), and compared with the full expected set per function: any added
action, table, index, record kind or wildcard fails the test.

The key patterns are written out here on purpose (not derived from the
schema): a changed key format that widens a grant must show up as a failing
test. The writes behind each pattern are listed in ``stacks.dephealth.service.PERMISSIONS``.
"""

from __future__ import annotations

import pytest

from lambda_src.dephealth import schema

KEYS = "table/" + schema.API_KEYS.table_name("dev")
PKGS = "table/" + schema.PACKAGES.table_name("dev")
LOGS = ("logs:CreateLogStream", "logs:PutLogEvents")
XRAY = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")


USER = ("user_*",)


def _pairs(actions, resource, keys=()):
    return {(a, resource, tuple(keys)) for a in actions}


def _common(fn_id):
    return _pairs(LOGS, f"{fn_id}Logs.Arn") | _pairs(XRAY, "*")


SQS_CONSUMER = ("sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl",
                "sqs:ReceiveMessage")
EXPECTED = {
    "AuthApi": _common("AuthApi")
    | _pairs(("dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"), KEYS, USER)
    | _pairs(("dynamodb:UpdateItem",), KEYS, ("mail#*", "user_*"))
    | {("dynamodb:Query", f"{KEYS}/index/{schema.MAGIC_TOKEN_INDEX.name}", ()),
       ("dynamodb:Query", f"{KEYS}/index/{schema.VERIFICATION_TOKEN_INDEX.name}", ()),
       ("sqs:SendMessage", "MailQueue.Arn", ())},
    "Mailer": _common("Mailer")
    | _pairs(("dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"), KEYS, USER)
    | {("ses:SendEmail", "arn:aws:ses:us-east-1::identity/no-reply@dephealth.example", ())}
    | _pairs(SQS_CONSUMER, "MailQueue.Arn"),
    "PackagesApi": _common("PackagesApi")
    | {("dynamodb:UpdateItem", KEYS, ("demo#*", "user_*")),
       ("dynamodb:Query", f"{KEYS}/index/{schema.KEY_HASH_INDEX.name}", ()),
       ("dynamodb:GetItem", PKGS, ()), ("dynamodb:BatchGetItem", PKGS, ()),
       ("dynamodb:Query", f"{PKGS}/index/{schema.RISK_LEVEL_INDEX.name}", ())},
    "CollectorDlqProcessor": _common("CollectorDlqProcessor")
    | {("dynamodb:PutItem", KEYS, ("FAILED#*", "FAILED_MESSAGE#*")), ("dynamodb:UpdateItem", PKGS, ())}
    | _pairs(SQS_CONSUMER, "CollectorQueue.Arn"),
    "MonthlyReset": _common("MonthlyReset")
    | _pairs(("dynamodb:GetItem", "dynamodb:PutItem"), KEYS, ("SYSTEM#RESET_STATE",))
    | {("dynamodb:UpdateItem", KEYS, ("SYSTEM#RESET_STATE", "user_*")), ("dynamodb:Scan", KEYS, ())}
    # a failed asynchronous run goes to the schedule's dead-letter queue (constructs_lib/scheduled_target.py)
    | _pairs(("sqs:SendMessage",), "MonthlyResetScheduleDeadLetterQueue.Arn"),
}
ITEM_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem",
               "dynamodb:BatchWriteItem"}


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


def _leading_keys(statement: dict) -> tuple[str, ...]:
    """The statement's LeadingKeys patterns, sorted; the only condition a statement may carry."""
    condition = statement.get("Condition")
    if condition is None:
        return ()
    assert list(condition) == ["ForAllValues:StringLike"], condition
    assert list(condition["ForAllValues:StringLike"]) == ["dynamodb:LeadingKeys"], condition
    patterns = _as_list(condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
    assert patterns == sorted(patterns) and patterns
    return tuple(patterns)


def role_pairs(template: dict) -> dict[str, set]:
    resources = template["Resources"]

    def strip_hash(logical: str) -> str:
        return logical[:-8] if len(logical) > 8 else logical

    out = {}
    for resource in resources.values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        [role] = resource["Properties"]["Roles"]
        fn_id = strip_hash(role["Ref"]).removesuffix("Role")
        pairs = set()
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            keys = _leading_keys(statement)
            for action in _as_list(statement["Action"]):
                for res in _as_list(statement["Resource"]):
                    pairs.add((action, _render(res, strip_hash), keys))
        out[fn_id] = pairs
    return out


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_each_function_policy_is_exactly_what_it_needs(stage, dev_templates, prod_templates):
    template = (dev_templates if stage == "dev" else prod_templates)["DepHealthService"]
    assert role_pairs(template) == EXPECTED


def test_only_the_monthly_reset_may_scan(dev_templates):
    scanners = {fn for fn, pairs in role_pairs(dev_templates["DepHealthService"]).items()
                if any(action == "dynamodb:Scan" for action, _, _ in pairs)}
    assert scanners == {"MonthlyReset"}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_item_write_to_the_api_keys_table_names_its_record_kinds(stage, dev_templates, prod_templates):
    """No function may write an api-keys item of any kind: the DLQ processor cannot forge a key record."""
    template = (dev_templates if stage == "dev" else prod_templates)["DepHealthService"]
    for fn_id, pairs in role_pairs(template).items():
        for action, resource, keys in pairs:
            if resource == KEYS and action in ITEM_WRITES:
                assert keys, (fn_id, action)
    writers_of_keys = {fn for fn, pairs in role_pairs(template).items()
                       if any(res == KEYS and a in ITEM_WRITES and "user_*" in k for a, res, k in pairs)}
    assert writers_of_keys == {"AuthApi", "Mailer", "PackagesApi", "MonthlyReset"}
    dlq = role_pairs(template)["CollectorDlqProcessor"]
    assert {k for a, res, k in dlq if res == KEYS} == {("FAILED#*", "FAILED_MESSAGE#*")}
    writers_of_failed = {fn for fn, pairs in role_pairs(template).items()
                         if any(res == KEYS and any(p.startswith("FAILED") for p in k) for _, res, k in pairs)}
    assert writers_of_failed == {"CollectorDlqProcessor"}


def test_the_patterns_come_from_the_schema_key_formats():
    from constructs_lib.access import leading_key_pattern

    assert [leading_key_pattern(k) for k in (schema.USER_PK, schema.MAIL_PK, schema.DEMO_PK, schema.FAILED_PK,
                                             schema.FAILED_MESSAGE_PK, schema.RESET_PK)] == [
        "user_*", "mail#*", "demo#*", "FAILED#*", "FAILED_MESSAGE#*", "SYSTEM#RESET_STATE"]


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
    # collector and mail queues, their DLQs, and the monthly reset schedule's DLQ
    assert len(queues) == 5 and all(q.get("SqsManagedSseEnabled") for q in queues.values())
    redriven = sorted(k.rstrip("0123456789ABCDEF") for k, q in queues.items() if "RedrivePolicy" in q)
    assert redriven == ["CollectorQueue", "MailQueue"]
    assert all(q["RedrivePolicy"]["maxReceiveCount"] == 5 for q in queues.values() if "RedrivePolicy" in q)
    policies = [r["Properties"]["PolicyDocument"]["Statement"] for r in resources.values()
                if r["Type"] == "AWS::SQS::QueuePolicy"]
    assert len(policies) == 5
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
    joined = "".join(p if isinstance(p, str) else f"{{{p.get('Ref')}}}" for p in statement["Resource"]["Fn::Join"][1])
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


@pytest.fixture(scope="module")
def api_keys_table():
    import aws_cdk as cdk

    from constructs_lib.access import TableByName

    stack = cdk.Stack(cdk.App(), "Grants", env=cdk.Environment(account="123456789012", region="us-east-1"))
    return TableByName(stack, spec=schema.API_KEYS, table_name="api-keys"), stack


def test_table_statement_renders_the_leading_keys_condition(api_keys_table):
    from constructs_lib.access import table_statement

    table, stack = api_keys_table
    statement = stack.resolve(table_statement(table, actions=["dynamodb:PutItem"],
                                              leading_keys=[schema.USER_PK, schema.RESET_PK]).to_statement_json())
    assert statement["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["SYSTEM#RESET_STATE", "user_*"]}}


@pytest.mark.parametrize(("kwargs", "message"), [
    # ForAllValues is true for a request without a leading key: a Scan would pass unchecked.
    ({"actions": ["dynamodb:Scan"], "leading_keys": [schema.USER_PK]}, "carries no leading key"),
    # On an index the leading key is the index's partition key, not a record kind.
    ({"actions": ["dynamodb:Query"], "indexes": [schema.KEY_HASH_INDEX.name], "leading_keys": [schema.USER_PK]},
     "own statement"),
    # A format the table does not declare as a record kind.
    ({"actions": ["dynamodb:PutItem"], "leading_keys": [schema.PACKAGE_PK]}, "declares no record kind"),
])
def test_table_statement_refuses_conditions_that_would_not_restrict(api_keys_table, kwargs, message):
    from constructs_lib.access import table_statement

    table, _ = api_keys_table
    with pytest.raises(ValueError, match=message):
        table_statement(table, **kwargs)


def test_a_pattern_that_reaches_another_record_kind_is_refused():
    from constructs_lib.access import _check_kinds, leading_key_pattern
    from lambda_src.common.schema_types import Attr, KeyFormat, RecordKind, TableSpec

    short, long = KeyFormat("NS#{ns}"), KeyFormat("NS#META#{ns}")
    spec = TableSpec(alias="t", name_template="t", description="two kinds, one prefix of the other",
                     partition=Attr("pk"), record_kinds=(RecordKind("a", "a", short), RecordKind("b", "b", long)))
    with pytest.raises(ValueError, match="would also match"):
        _check_kinds(spec, [short])
    _check_kinds(spec, [short, long])  # both granted: nothing else is reached
    with pytest.raises(ValueError, match="no literal prefix"):
        leading_key_pattern(KeyFormat("{ecosystem}#{name}"))
    with pytest.raises(ValueError, match="wildcard"):
        leading_key_pattern(KeyFormat("A*{x}"))
