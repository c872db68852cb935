"""Prod hardening, pinned on the templates: the cdk-nag gate, scheduled jobs, kept logs and backups.

The cdk-nag packs run while the session synthesizes each stage
(``tests/synth.py``); the gate tests here fail with every finding that is
neither fixed nor acknowledged. The other tests pin the controls themselves,
so an acknowledgement can never hide their regression.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from app import DEFAULT_NAG_PACKS, NAG_PACKS, nag_packs
from tests.synth import findings_of, synthesis
from tools.catalog import ALL_TABLES

# (stack, construct-id prefix of the schedule, construct-id prefix of its function)
SCHEDULED_JOBS = [
    ("DepHealthService", "MonthlyResetSchedule", "MonthlyResetFunction"),
    ("IOpsDashboardCore", "MetricsRecomputeSchedule", "MetricsRecomputeFunction"),
]
DATA_STACKS = ("DepHealthData", "MyFusionData", "KvStorageData", "IOpsDashboardDatabase")
YEAR = 365


def of_type(template: dict, cfn_type: str) -> dict[str, dict]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == cfn_type}


def one(template: dict, cfn_type: str, prefix: str) -> tuple[str, dict]:
    found = [(k, r) for k, r in of_type(template, cfn_type).items() if k.startswith(prefix)]
    assert len(found) == 1, (cfn_type, prefix, [k for k, _ in found])
    return found[0]


def get_arn(logical_id: str) -> dict:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


# -- the cdk-nag gate --------------------------------------------------------


def test_prod_runs_three_packs_and_dev_only_aws_solutions():
    assert nag_packs("prod") == ("AwsSolutions", "Serverless", "NIST80053R5")
    assert nag_packs("dev") == ("AwsSolutions",)
    assert set(DEFAULT_NAG_PACKS["prod"]) == set(NAG_PACKS)
    # context nagPacks overrides the stage default, as a string (-c) or a list (cdk.json)
    assert nag_packs("dev", "AwsSolutions, NIST80053R5") == ("AwsSolutions", "NIST80053R5")
    assert nag_packs("prod", ["Serverless"]) == ("Serverless",)
    with pytest.raises(SystemExit, match="HIPAA"):
        nag_packs("prod", "AwsSolutions,HIPAA")


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_no_unacknowledged_cdk_nag_finding(stage):
    findings = synthesis(stage).findings
    listing = "\n".join(str(f) for f in findings)
    assert not findings, f"{len(findings)} unacknowledged cdk-nag finding(s) in {stage}:\n{listing}"


def test_the_gate_sees_a_finding_of_each_prod_pack():
    """A bare function under the prod packs: the gate must report it, so a clean app means something."""
    outdir = tempfile.mkdtemp(prefix="cdk-test-gate-")
    app = cdk.App(outdir=outdir, builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, "Bare")
    lambda_.Function(stack, "Fn", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler",
                     code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"))
    cdk.Validations.of(app).add_plugins(*(NAG_PACKS[name](app) for name in nag_packs("prod")))
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    findings = findings_of(json.loads((Path(outdir) / "validation-report.json").read_text()))
    rules = {(f.pack, f.rule) for f in findings}
    assert ("AwsSolutions", "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]") in rules
    assert ("Serverless", "Serverless-LambdaDLQ") in rules
    assert ("NIST.800.53.R5", "NIST.800.53.R5-LambdaInsideVPC") in rules


# -- scheduled jobs: retry policy, one dead-letter queue, an alarm ------------


@pytest.mark.parametrize("stage", ["dev", "prod"])
@pytest.mark.parametrize(("stack", "schedule", "function"), SCHEDULED_JOBS)
def test_scheduled_job_retries_then_dead_letters_and_alarms(stage, stack, schedule, function):
    template = synthesis(stage).templates[stack]
    rule_id, rule = one(template, "AWS::Events::Rule", f"{schedule}Rule")
    queue_id, queue = one(template, "AWS::SQS::Queue", f"{schedule}DeadLetterQueue")
    fn_id, fn = one(template, "AWS::Lambda::Function", function)

    [target] = rule["Properties"]["Targets"]
    assert target["Arn"] == get_arn(fn_id)
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 3600}
    assert target["DeadLetterConfig"] == {"Arn": get_arn(queue_id)}
    # the function's own failed asynchronous runs go to the same queue
    assert fn["Properties"]["DeadLetterConfig"] == {"TargetArn": get_arn(queue_id)}

    # SSE-SQS (aws/sqs cannot admit EventBridge), kept 14 days, TLS-only, EventBridge may send
    assert queue["Properties"] == {"MessageRetentionPeriod": 14 * 24 * 3600, "SqsManagedSseEnabled": True}
    [policy] = [p for p in of_type(template, "AWS::SQS::QueuePolicy").values()
                if p["Properties"]["Queues"] == [{"Ref": queue_id}]]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert {"Action": "sqs:*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}, "Effect": "Deny",
            "Principal": {"AWS": "*"}, "Resource": get_arn(queue_id)} in statements
    [allow] = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"} and allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": get_arn(rule_id)}}

    _, alarm = one(template, "AWS::CloudWatch::Alarm", f"{schedule}DeadLetterAlarm")
    props = alarm["Properties"]
    assert (props["Namespace"], props["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert props["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    assert (props["ComparisonOperator"], props["Threshold"], props["EvaluationPeriods"]) == (
        "GreaterThanOrEqualToThreshold", 1, 1)
    assert props["TreatMissingData"] == "notBreaching"

    # prod: one run at a time; dev reserves nothing
    reserved = fn["Properties"].get("ReservedConcurrentExecutions")
    assert reserved == (1 if stage == "prod" else None)


# -- function log groups: a year and retained in prod, a month in dev ---------


def function_log_groups(template: dict) -> dict[str, dict]:
    """The log groups functions write to (their LoggingConfig), by logical id."""
    groups = of_type(template, "AWS::Logs::LogGroup")
    used = {fn["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
            for fn in of_type(template, "AWS::Lambda::Function").values()}
    return {k: groups[k] for k in used}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_function_logs_are_kept_a_year_and_retained_in_prod(stage):
    seen = 0
    problems = []
    for stack, template in synthesis(stage).templates.items():
        for logical, group in function_log_groups(template).items():
            seen += 1
            days = group["Properties"]["RetentionInDays"]
            policies = (group.get("DeletionPolicy"), group.get("UpdateReplacePolicy"))
            if stage == "prod" and (days < YEAR or policies != ("Retain", "Retain")):
                problems.append((stack, logical, days, policies))
            if stage == "dev" and (days != 30 or policies != ("Delete", "Delete")):
                problems.append((stack, logical, days, policies))
    assert seen == 9  # every function of the four products
    assert problems == []


# -- AWS Backup: prod tables daily, kept 35 days, in each data stack's vault --


def table_refs(template: dict) -> dict[str, str]:
    """Table name -> logical id, for the tables of one template."""
    return {r["Properties"]["TableName"]: k for k, r in of_type(template, "AWS::DynamoDB::Table").items()}


def test_prod_tables_are_backed_up_daily_for_35_days_in_a_retained_vault():
    templates = synthesis("prod").templates
    backed_up = set()
    for stack in DATA_STACKS:
        template = templates[stack]
        vault_id, vault = one(template, "AWS::Backup::BackupVault", "BackupsVault")
        assert (vault.get("DeletionPolicy"), vault.get("UpdateReplacePolicy")) == ("Retain", "Retain")
        assert vault["Properties"]["BackupVaultName"] == f"{template_stack_name(stack)}-tables"
        assert "EncryptionKeyArn" not in vault["Properties"]  # the AWS-managed aws/backup key
        [deny] = vault["Properties"]["AccessPolicy"]["Statement"]
        assert deny["Effect"] == "Deny" and "backup:DeleteRecoveryPoint" in deny["Action"]

        _, plan = one(template, "AWS::Backup::BackupPlan", "BackupsPlan")
        [rule] = plan["Properties"]["BackupPlan"]["BackupPlanRule"]
        assert rule["ScheduleExpression"] == "cron(0 3 * * ? *)"
        assert rule["Lifecycle"] == {"DeleteAfterDays": 35}
        assert rule["TargetBackupVault"] == {"Fn::GetAtt": [vault_id, "BackupVaultName"]}

        _, selection = one(template, "AWS::Backup::BackupSelection", "BackupsPlanTables")
        selected = {r["Fn::GetAtt"][0] for r in selection["Properties"]["BackupSelection"]["Resources"]}
        by_name = table_refs(template)
        assert selected <= set(by_name.values())
        backed_up |= {name for name, logical in by_name.items() if logical in selected}

    kept = {spec.table_name("prod") for spec in ALL_TABLES if spec.protection("prod").retain}
    disposable = {spec.table_name("prod") for spec in ALL_TABLES} - kept
    assert backed_up == kept
    assert disposable == {"mfh-prod-oauth-states"}  # SPEC's one exemption, acknowledged by name


def template_stack_name(stack_id: str) -> str:
    product, part = {"DepHealthData": ("DepHealth", "Data"), "MyFusionData": ("MyFusion", "Data"),
                     "KvStorageData": ("KvStorage", "Data"),
                     "IOpsDashboardDatabase": ("IOpsDashboard", "Database")}[stack_id]
    return f"{product}-prod-{part}"


def test_dev_has_no_backups():
    backup = [(stack, k) for stack, template in synthesis("dev").templates.items()
              for k, r in template["Resources"].items() if r["Type"].startswith("AWS::Backup::")]
    assert backup == []


# -- SQS consumers: bounded by the mapping, failures through the redrive -------


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_sqs_consumer_is_bounded_by_its_mapping(stage):
    mappings = [(stack, k, r["Properties"]) for stack, template in synthesis(stage).templates.items()
                for k, r in of_type(template, "AWS::Lambda::EventSourceMapping").items()
                if "StartingPosition" not in r["Properties"]]  # SQS mappings (a stream mapping has one)
    assert len(mappings) == 3  # ingest, mail, collector
    problems = [(stack, k) for stack, k, props in mappings
                if not 2 <= props.get("ScalingConfig", {}).get("MaximumConcurrency", 0) <= 10
                or props.get("FunctionResponseTypes") != ["ReportBatchItemFailures"]]
    assert problems == []
