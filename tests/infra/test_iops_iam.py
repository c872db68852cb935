"""Pin each IOps function's IAM policy, statement by statement, in both stages."""

from __future__ import annotations

import pytest
from aws_cdk import Stack

from tests.synth import synth

STREAM_ARN = {"Fn::ImportValue": "IOpsDashboard-MetricsTableStreamArn"}
INSIGHTS_ARN = {"Fn::ImportValue": "IOpsDashboard-InsightsTableArn"}


def resources(template, kind):
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def one(template, kind, prefix):
    found = [(k, r) for k, r in resources(template, kind).items() if k.startswith(prefix)]
    assert len(found) == 1, (prefix, [k for k, _ in found])
    return found[0]


def statements(policy) -> list[dict]:
    out = []
    for s in policy["Properties"]["PolicyDocument"]["Statement"]:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        out.append({"Action": sorted(actions), "Resource": s["Resource"], "Effect": s["Effect"]})
    return sorted(out, key=lambda s: s["Action"])


def ref_arn(logical_id):
    return {"Fn::GetAtt": [logical_id, "Arn"]}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_stream_consumer_role_is_least_privilege(stage):
    template = synth(stage)["IOpsDashboardIntelligence"]
    role_id, _ = one(template, "AWS::IAM::Role", "StreamConsumerRole")
    _, policy = one(template, "AWS::IAM::Policy", "StreamConsumerRoleDefaultPolicy")
    assert policy["Properties"]["Roles"] == [{"Ref": role_id}]
    topic, _ = one(template, "AWS::SNS::Topic", "AlertTopic")
    logs, _ = one(template, "AWS::Logs::LogGroup", "StreamConsumerLogs")
    failures, _ = one(template, "AWS::SQS::Queue", "StreamFailureQueue")
    assert statements(policy) == [
        {"Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams"], "Resource": STREAM_ARN, "Effect": "Allow"},
        {"Action": ["dynamodb:PutItem"], "Resource": INSIGHTS_ARN, "Effect": "Allow"},
        {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": ref_arn(logs), "Effect": "Allow"},
        {"Action": ["sns:Publish"], "Resource": {"Ref": topic}, "Effect": "Allow"},
        {"Action": ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"],
         "Resource": ref_arn(failures), "Effect": "Allow"},
        {"Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "Resource": "*", "Effect": "Allow"},
    ]
    # nothing else is attached to the role
    role = template["Resources"][role_id]["Properties"]
    assert "ManagedPolicyArns" not in role and "Policies" not in role


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_ingest_function_uses_the_core_execution_role(stage):
    template = synth(stage)["IOpsDashboardCore"]
    role_id, role = one(template, "AWS::IAM::Role", "LambdaExecutionRole")
    # the shared execution role, and the recompute's own (pinned below)
    assert sorted(k.rstrip("0123456789ABCDEF") for k in resources(template, "AWS::IAM::Role")) == [
        "LambdaExecutionRole", "MetricsRecomputeRole"]
    _, fn = one(template, "AWS::Lambda::Function", "IngestFunction")
    assert fn["Properties"]["Role"] == ref_arn(role_id)
    assert fn["Properties"]["Environment"]["Variables"]["METRICS_TABLE"] == "iops-dashboard-metrics"
    _, policy = one(template, "AWS::IAM::Policy", "LambdaExecutionRoleDefaultPolicy")
    logs, _ = one(template, "AWS::Logs::LogGroup", "IngestFunctionLogs")
    queue, _ = one(template, "AWS::SQS::Queue", "IngestQueue")
    assert statements(policy) == [
        {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": ref_arn(logs), "Effect": "Allow"},
        {"Action": ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                    "sqs:GetQueueUrl", "sqs:ReceiveMessage"], "Resource": ref_arn(queue), "Effect": "Allow"},
        {"Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "Resource": "*", "Effect": "Allow"},
    ]
    assert "ManagedPolicyArns" not in role["Properties"]


def metrics_arn(suffix=""):
    # Stacks default to us-east-1 (app.DEFAULT_REGION), so region and partition are literal.
    return {"Fn::Join": ["", ["arn:aws:dynamodb:us-east-1:",
                              {"Ref": "AWS::AccountId"}, f":table/iops-dashboard-metrics{suffix}"]]}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_recompute_role_is_least_privilege(stage):
    template = synth(stage)["IOpsDashboardCore"]
    role_id, role = one(template, "AWS::IAM::Role", "MetricsRecomputeRole")
    fn_id, fn = one(template, "AWS::Lambda::Function", "MetricsRecompute")
    assert fn["Properties"]["Role"] == ref_arn(role_id)
    assert fn["Properties"]["Handler"] == "lambda_src.iops.recompute.handler"
    assert fn["Properties"]["Timeout"] == 900
    assert fn["Properties"]["Environment"]["Variables"]["METRICS_TABLE"] == "iops-dashboard-metrics"
    _, policy = one(template, "AWS::IAM::Policy", "MetricsRecomputeRoleDefaultPolicy")
    assert policy["Properties"]["Roles"] == [{"Ref": role_id}]
    logs, _ = one(template, "AWS::Logs::LogGroup", "MetricsRecomputeLogs")
    dead_letters, _ = one(template, "AWS::SQS::Queue", "MetricsRecomputeScheduleDeadLetterQueue")
    assert statements(policy) == [
        {"Action": ["dynamodb:GetItem", "dynamodb:PutItem"], "Resource": metrics_arn(), "Effect": "Allow"},
        {"Action": ["dynamodb:Query"], "Resource": metrics_arn("/index/LastUpdatedIndex"), "Effect": "Allow"},
        {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": ref_arn(logs), "Effect": "Allow"},
        {"Action": ["sqs:SendMessage"], "Resource": ref_arn(dead_letters), "Effect": "Allow"},
        {"Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "Resource": "*", "Effect": "Allow"},
    ]
    assert "ManagedPolicyArns" not in role["Properties"] and "Policies" not in role["Properties"]
    # no other policy in any IOps stack names this role
    for stack in ("IOpsDashboardCore", "IOpsDashboardDatabase", "IOpsDashboardIntelligence"):
        others = [p for k, p in resources(synth(stage)[stack], "AWS::IAM::Policy").items()
                  if not k.startswith("MetricsRecomputeRoleDefaultPolicy")]
        assert all({"Ref": role_id} not in p["Properties"]["Roles"] for p in others), stack


def test_recompute_runs_daily_after_the_utc_day_changes(dev_templates):
    template = dev_templates["IOpsDashboardCore"]
    fn_id, _ = one(template, "AWS::Lambda::Function", "MetricsRecompute")
    rule_id, rule = one(template, "AWS::Events::Rule", "MetricsRecomputeSchedule")
    dead_letters, _ = one(template, "AWS::SQS::Queue", "MetricsRecomputeScheduleDeadLetterQueue")
    assert rule["Properties"]["ScheduleExpression"] == "cron(15 0 * * ? *)"
    assert rule["Properties"]["State"] == "ENABLED"
    [target] = rule["Properties"]["Targets"]
    assert target["Arn"] == ref_arn(fn_id)
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 3600}
    assert target["DeadLetterConfig"] == {"Arn": ref_arn(dead_letters)}
    [permission] = resources(template, "AWS::Lambda::Permission").values()
    assert permission["Properties"] == {"Action": "lambda:InvokeFunction", "FunctionName": ref_arn(fn_id),
                                        "Principal": "events.amazonaws.com", "SourceArn": ref_arn(rule_id)}


def test_core_role_table_access_comes_from_the_database_stack(dev_templates):
    database = dev_templates["IOpsDashboardDatabase"]
    _, policy = one(database, "AWS::IAM::Policy", "ExecutionRoleTableAccess")
    assert "LambdaExecutionRole" in str(policy["Properties"]["Roles"])
    actions = {a for s in statements(policy) for a in s["Action"]}
    assert "dynamodb:Scan" not in actions and not any("*" in a for a in actions)


def test_ingest_queue_is_encrypted_tls_only_with_a_dlq(dev_templates):
    template = dev_templates["IOpsDashboardCore"]
    queue_id, queue = one(template, "AWS::SQS::Queue", "IngestQueue")
    dlq_id, dlq = one(template, "AWS::SQS::Queue", "IngestDeadLetterQueue")
    assert queue["Properties"]["KmsMasterKeyId"] == "alias/aws/sqs"
    assert dlq["Properties"]["KmsMasterKeyId"] == "alias/aws/sqs"
    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": ref_arn(dlq_id), "maxReceiveCount": 5}
    for qid in (queue_id, dlq_id):
        policies = [p for p in resources(template, "AWS::SQS::QueuePolicy").values()
                    if {"Ref": qid} in p["Properties"]["Queues"]]
        denies = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]
                  if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies), qid
    [mapping] = resources(template, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["Properties"]["EventSourceArn"] == ref_arn(queue_id)


def test_alert_topic_is_encrypted_and_tls_only(dev_templates):
    template = dev_templates["IOpsDashboardIntelligence"]
    topic_id, topic = one(template, "AWS::SNS::Topic", "AlertTopic")
    assert topic["Properties"]["KmsMasterKeyId"]
    [policy] = resources(template, "AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in policy["Properties"]["PolicyDocument"]["Statement"])


def test_stream_mapping_reads_the_exported_stream_with_partial_failures(dev_templates):
    template = dev_templates["IOpsDashboardIntelligence"]
    [(mid, mapping)] = resources(template, "AWS::Lambda::EventSourceMapping").items()
    props = mapping["Properties"]
    assert props["EventSourceArn"] == STREAM_ARN
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BisectBatchOnFunctionError"] is True and props["MaximumRetryAttempts"] == 5
    assert "OnFailure" in props["DestinationConfig"]
    assert any("StreamConsumerRoleDefaultPolicy" in d for d in mapping.get("DependsOn", [])), mid


def _imports(value) -> list:
    if isinstance(value, dict):
        found = [value["Fn::ImportValue"]] if "Fn::ImportValue" in value else []
        return found + [x for v in value.values() for x in _imports(v)]
    if isinstance(value, list):
        return [x for v in value for x in _imports(v)]
    return []


def test_stacks_depend_one_way_core_database_intelligence(dev_templates):
    from app import build_app

    core = dev_templates["IOpsDashboardCore"]
    database = dev_templates["IOpsDashboardDatabase"]
    intelligence = dev_templates["IOpsDashboardIntelligence"]
    assert _imports(core) == []  # core needs nothing: table names are literals
    assert all("Intelligence" not in str(v) for v in _imports(database))
    assert set(map(str, _imports(intelligence))) == {
        "IOpsDashboard-MetricsTableStreamArn", "IOpsDashboard-InsightsTableArn"}
    app = build_app({"aws:cdk:bundling-stacks": []}, validation=False)
    stacks = {n: Stack.of(app.node.find_child(f"IOpsDashboard{n}")) for n in ("Database", "Intelligence")}
    assert stacks["Database"] in stacks["Intelligence"].dependencies
