"""SPEC §1, stated literally and checked against the synthesized templates.

The expectations below are deliberately NOT derived from the schema modules:
this file is the independent check that the declarations say what the
contract says. Key tuples are (attribute, type); projection defaults to ALL.
"""

from __future__ import annotations

import pytest

from tests.synth import synth
from tools.cfn_tables import table_resources

S, N = "S", "N"

TABLES = {
    "dephealth-packages": {
        "keys": [("pk", S), ("sk", S)],
        "gsis": {
            "risk-level-index": ([("risk_level", S), ("last_updated", S)], "KEYS_ONLY"),
            "tier-index": ([("tier", S), ("last_updated", S)], "KEYS_ONLY"),
        },
    },
    "dephealth-api-keys": {
        "keys": [("pk", S), ("sk", S)],
        "ttl": "ttl",
        "gsis": {
            "key-hash-index": ([("key_hash", S)], "ALL"),
            "email-index": ([("email", S)], "ALL"),
            "verification-token-index": ([("verification_token", S)], "KEYS_ONLY"),
            "stripe-customer-index": ([("stripe_customer_id", S)], "ALL"),
            "magic-token-index": ([("magic_token", S)], "KEYS_ONLY"),
        },
    },
    "mfh-{stage}-users": {
        "keys": [("user_id", S)],
        "stream": "NEW_AND_OLD_IMAGES",
        "gsis": {"EmailIndex": ([("email", S)], "ALL"),
                 "CognitoUserIdIndex": ([("cognito_user_id", S)], "ALL")},
    },
    "mfh-{stage}-accounts": {
        "keys": [("account_id", S)],
        "stream": "NEW_AND_OLD_IMAGES",
        "gsis": {"OwnerUserIdIndex": ([("owner_user_id", S)], "ALL")},
    },
    "mfh-{stage}-user-accounts": {
        "keys": [("user_id", S), ("account_id", S)],
        "gsis": {"AccountIdIndex": ([("account_id", S)], "ALL")},
    },
    "mfh-{stage}-api-keys": {
        "keys": [("key_id", S)],
        "gsis": {"AccountIdIndex": ([("account_id", S)], "ALL"),
                 "KeyHashIndex": ([("key_hash", S)], "ALL")},
    },
    "mfh-{stage}-connections": {
        "keys": [("connection_id", S)],
        "gsis": {"AccountIdIndex": ([("account_id", S)], "ALL")},
    },
    "mfh-{stage}-helpers": {
        "keys": [("helper_id", S)],
        "gsis": {"AccountIdIndex": ([("account_id", S)], "ALL")},
    },
    "mfh-{stage}-executions": {
        "keys": [("execution_id", S)],
        "ttl": "ttl",
        "gsis": {
            "AccountIdCreatedAtIndex": ([("account_id", S), ("created_at", S)], "ALL"),
            "HelperIdCreatedAtIndex": ([("helper_id", S), ("created_at", S)], "ALL"),
        },
    },
    "mfh-{stage}-platforms": {
        "keys": [("platform_id", S)],
        "gsis": {"SlugIndex": ([("slug", S)], "ALL")},
    },
    "mfh-{stage}-platform-connection-auths": {
        "keys": [("auth_id", S)],
        "gsis": {"ConnectionIdIndex": ([("connection_id", S)], "ALL")},
    },
    "mfh-{stage}-oauth-states": {"keys": [("state_id", S)], "ttl": "expires_at", "gsis": {}},
    "kv-storage-data": {
        "keys": [("PK", S), ("SK", S)],
        "ttl": "ttl",
        "gsis": {"GSI1": ([("GSI1PK", S), ("GSI1SK", S)], "ALL")},
    },
    "iops-dashboard-metrics": {
        "keys": [("entity_id", S), ("entity_type", S)],
        "stream": "NEW_AND_OLD_IMAGES",
        "gsis": {
            "EntityTypeHealthIndex": ([("entity_type", S), ("health_score", N)], "ALL"),
            "LastUpdatedIndex": ([("entity_type", S), ("last_updated", S)], "ALL"),
        },
    },
    "iops-dashboard-insights": {
        "keys": [("pk", S), ("sk", S)],
        "ttl": "ttl",
        "gsis": {
            "PredictionTypeIndex": ([("prediction_type", S), ("timestamp", S)], "ALL"),
            "RiskScoreIndex": ([("prediction_type", S), ("risk_score", N)], "ALL"),
        },
    },
}

# (pitr, deletion_protection, retained) per stage, straight from SPEC §1.
_MFH_DEV = {"users": (True, True, True), "accounts": (True, True, True),
            "user-accounts": (True, True, True), "oauth-states": (False, False, False)}
PROTECTION = {
    "dev": {
        "dephealth-packages": (False, False, False),
        "dephealth-api-keys": (False, False, False),
        **{f"mfh-dev-{t}": _MFH_DEV.get(t, (False, True, True)) for t in (
            "users", "accounts", "user-accounts", "api-keys", "connections", "helpers",
            "executions", "platforms", "platform-connection-auths", "oauth-states")},
        "kv-storage-data": (True, False, True),
        "iops-dashboard-metrics": (True, False, False),
        "iops-dashboard-insights": (True, False, False),
    },
    "prod": {
        **{name.format(stage="prod"): (True, True, True) for name in TABLES},
        "mfh-prod-oauth-states": (False, False, False),
    },
}

EXPORTS = {
    "IOpsDashboard-MetricsTableName",
    "IOpsDashboard-MetricsTableArn",
    "IOpsDashboard-InsightsTableName",
    "IOpsDashboard-InsightsTableArn",
    "IOpsDashboard-MetricsTableStreamArn",
}


def tables_by_name(templates: dict) -> dict[str, dict]:
    found = {}
    for template in templates.values():
        for resource in table_resources(template).values():
            found[resource["Properties"]["TableName"]] = resource
    return found


def key_schema(key_schema: list, definitions: dict) -> list[tuple[str, str]]:
    order = {"HASH": 0, "RANGE": 1}
    keys = sorted(key_schema, key=lambda k: order[k["KeyType"]])
    return [(k["AttributeName"], definitions[k["AttributeName"]]) for k in keys]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_exactly_the_spec_tables_exist(stage):
    expected = {name.format(stage=stage) for name in TABLES}
    assert set(tables_by_name(synth(stage))) == expected


@pytest.mark.parametrize("stage", ["dev", "prod"])
@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_matches_spec(stage, name):
    spec = TABLES[name]
    resource = tables_by_name(synth(stage))[name.format(stage=stage)]
    props = resource["Properties"]
    definitions = {d["AttributeName"]: d["AttributeType"] for d in props["AttributeDefinitions"]}

    assert resource["Type"] == "AWS::DynamoDB::Table"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert key_schema(props["KeySchema"], definitions) == spec["keys"]
    gsis = {
        g["IndexName"]: (key_schema(g["KeySchema"], definitions), g["Projection"]["ProjectionType"])
        for g in props.get("GlobalSecondaryIndexes", [])
    }
    assert gsis == spec["gsis"]
    ttl = props.get("TimeToLiveSpecification")
    assert (ttl["AttributeName"] if ttl and ttl["Enabled"] else None) == spec.get("ttl")
    stream = props.get("StreamSpecification")
    assert (stream["StreamViewType"] if stream else None) == spec.get("stream")
    assert props["SSESpecification"] == {"SSEEnabled": True}  # AWS-managed KMS key


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_protection_per_stage(stage):
    tables = tables_by_name(synth(stage))
    actual = {
        name: (
            r["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
            r["Properties"].get("DeletionProtectionEnabled", False),
            r.get("DeletionPolicy") == "Retain" and r.get("UpdateReplacePolicy") == "Retain",
        )
        for name, r in tables.items()
    }
    assert actual == PROTECTION[stage]


def test_every_table_refuses_non_tls_requests(dev_templates):
    for name, resource in tables_by_name(dev_templates).items():
        statements = resource["Properties"]["ResourcePolicy"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        ), name


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_iops_exports(stage):
    outputs = synth(stage)["IOpsDashboardDatabase"]["Outputs"]
    exports = {o["Export"]["Name"]: o["Value"] for o in outputs.values() if "Export" in o}
    assert set(exports) == EXPORTS
    assert "StreamArn" in str(exports["IOpsDashboard-MetricsTableStreamArn"])


def test_iops_core_role_gets_read_write_from_database_stack(dev_templates):
    database = dev_templates["IOpsDashboardDatabase"]["Resources"]
    policies = [r for r in database.values() if r["Type"] == "AWS::IAM::Policy"]
    granted = [
        p for p in policies
        if any("LambdaExecutionRole" in str(role) for role in p["Properties"]["Roles"])
    ]
    assert granted, "the database stack attaches no policy to the core stack's role"
    actions = {
        a for p in granted for s in p["Properties"]["PolicyDocument"]["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
            "dynamodb:DeleteItem", "dynamodb:Query"} <= actions
    assert "dynamodb:Scan" not in actions


def test_iops_provisioned_mode_autoscales_5_to_100_at_70_percent():
    templates = synth("dev", (("iopsProvisioned", True),))
    resources = templates["IOpsDashboardDatabase"]["Resources"]
    for name in ("iops-dashboard-metrics", "iops-dashboard-insights"):
        props = tables_by_name(templates)[name]["Properties"]
        # CloudFormation's default billing mode is PROVISIONED, so CDK omits it.
        assert props.get("BillingMode", "PROVISIONED") == "PROVISIONED"
        assert props["ProvisionedThroughput"] == {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    targets = [r["Properties"] for r in resources.values()
               if r["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"]
    # table + 2 GSIs, read + write, for each of the two tables
    assert len(targets) == 12
    assert {(t["MinCapacity"], t["MaxCapacity"]) for t in targets} == {(5, 100)}
    policies = [r["Properties"] for r in resources.values()
                if r["Type"] == "AWS::ApplicationAutoScaling::ScalingPolicy"]
    assert len(policies) == 12
    assert {p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] for p in policies} == {70}


def test_kv_table_and_gsi_names_come_from_context():
    templates = synth("dev", (("tableName", "kv-custom"), ("gsiName", "ByNamespace")))
    props = tables_by_name(templates)["kv-custom"]["Properties"]
    assert [g["IndexName"] for g in props["GlobalSecondaryIndexes"]] == ["ByNamespace"]


def test_kv_stack_exposes_its_table():
    from aws_cdk import aws_dynamodb as dynamodb

    from app import build_app

    app = build_app({"aws:cdk:bundling-stacks": []}, validation=False)
    stack = app.node.find_child("KvStorageData")
    assert isinstance(stack.table, dynamodb.Table)
