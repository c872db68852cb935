"""The source designs' region default, stack descriptions and output descriptions.

The strings are written out here, not imported from the stacks, so that a
changed word in the code fails this test.
"""

from __future__ import annotations

import os
import tempfile

import aws_cdk as cdk
import pytest

IOPS_STACK_DESCRIPTIONS = {
    "IOpsDashboardCore": "Core infrastructure for Intelligent Operations Dashboard",
    "IOpsDashboardDatabase": "DynamoDB tables for metrics and insights",
    "IOpsDashboardIntelligence": "AI inference and alerting",
}
IOPS_EXPORTS = {
    "IOpsDashboard-MetricsTableName": "DynamoDB table for operational metrics",
    "IOpsDashboard-MetricsTableArn": "ARN of metrics table",
    "IOpsDashboard-InsightsTableName": "DynamoDB table for AI insights",
    "IOpsDashboard-InsightsTableArn": "ARN of insights table",
    "IOpsDashboard-MetricsTableStreamArn": "DynamoDB stream ARN for real-time updates",
}


@pytest.mark.parametrize("stack_id,description", sorted(IOPS_STACK_DESCRIPTIONS.items()))
def test_iops_stacks_carry_the_source_descriptions(staged_templates, stack_id, description):
    _stage, templates = staged_templates
    assert templates[stack_id]["Description"] == description


def test_iops_exports_carry_the_source_descriptions(staged_templates):
    _stage, templates = staged_templates
    outputs = templates["IOpsDashboardDatabase"]["Outputs"]
    by_export = {o["Export"]["Name"]: o.get("Description") for o in outputs.values() if "Export" in o}
    assert by_export == IOPS_EXPORTS


# Outputs CDK writes itself for cross-stack references (weak references).
CDK_REFERENCE_OUTPUTS = ("PublishOutputRef", "ExportsOutput")


def test_every_iops_output_is_described(staged_templates):
    _stage, templates = staged_templates
    for stack_id in IOPS_STACK_DESCRIPTIONS:
        for name, output in templates[stack_id].get("Outputs", {}).items():
            if name.startswith(CDK_REFERENCE_OUTPUTS):
                continue
            assert output.get("Description", "").strip(), f"{stack_id}.{name} has no description"


def _stack_regions(region_env: str | None) -> dict[str, str]:
    from app import build_app

    saved = os.environ.pop("CDK_DEFAULT_REGION", None)
    try:
        if region_env is not None:
            os.environ["CDK_DEFAULT_REGION"] = region_env
        outdir = tempfile.mkdtemp(prefix="cdk-test-region-")
        app = build_app({"aws:cdk:bundling-stacks": []}, outdir=outdir, validation=False)
        return {c.node.id: c.region for c in app.node.children if isinstance(c, cdk.Stack)}
    finally:
        os.environ.pop("CDK_DEFAULT_REGION", None)
        if saved is not None:
            os.environ["CDK_DEFAULT_REGION"] = saved


def test_stacks_default_to_us_east_1_without_cdk_default_region():
    regions = _stack_regions(None)
    assert len(regions) == 8
    assert set(regions.values()) == {"us-east-1"}


def test_cdk_default_region_still_wins():
    regions = _stack_regions("eu-west-1")
    assert set(regions.values()) == {"eu-west-1"}
