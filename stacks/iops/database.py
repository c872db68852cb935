"""IOps dashboard database: the metrics and insights tables and the five exports (SPEC §1.4).

It grants the core stack's execution role item read/write on both tables and
their indexes, and exports the names, ARNs and the metrics stream ARN that
other systems (and the intelligence stack) import.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, Validations
from aws_cdk import aws_iam as iam
from constructs import Construct

from constructs_lib.access import table_statement
from constructs_lib.schema_table import ProvisionedCapacity
from lambda_src.iops import schema

from ..product_data import ProductDataStack

EXPORT_PREFIX = "IOpsDashboard"
# The source design's output descriptions, word for word.
EXPORT_DESCRIPTIONS = {
    "MetricsTableName": "DynamoDB table for operational metrics",
    "MetricsTableArn": "ARN of metrics table",
    "InsightsTableName": "DynamoDB table for AI insights",
    "InsightsTableArn": "ARN of insights table",
    "MetricsTableStreamArn": "DynamoDB stream ARN for real-time updates",
}
# Item-level read/write: what the metric ingest and insight writers call.
READ_WRITE_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
)

class IOpsDatabaseStack(ProductDataStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        execution_role: iam.IRole,
        provisioned: ProvisionedCapacity | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope, construct_id, stage=stage, specs=schema.TABLES, provisioned=provisioned, **kwargs
        )
        self.metrics = self.tables[schema.METRICS.alias]
        self.insights = self.tables[schema.INSIGHTS.alias]

        statements = [
            table_statement(
                table,
                actions=READ_WRITE_ACTIONS,
                indexes=[index.name for index in table.spec.indexes],
            )
            for table in (self.metrics, self.insights)
        ]
        access = iam.Policy(
            self,
            "ExecutionRoleTableAccess",
            roles=[execution_role],
            statements=statements,
        )
        Validations.of(access).acknowledge(Acknowledgment(
            id="NIST.800.53.R5-IAMNoInlinePolicy",
            reason="Attached to the core stack's execution role only, from the stack that owns the tables "
            "(so the dependency runs core -> database); item actions on the two tables and their indexes, "
            "pinned by tests/infra/test_iops_iam.py.",
        ))

        stream_arn = self.metrics.table.table_stream_arn
        if stream_arn is None:
            raise ValueError(f"{schema.METRICS.alias} must declare a stream: the intelligence stack consumes it")
        exports = {
            "MetricsTableName": self.metrics.table.table_name,
            "MetricsTableArn": self.metrics.table.table_arn,
            "InsightsTableName": self.insights.table.table_name,
            "InsightsTableArn": self.insights.table.table_arn,
            "MetricsTableStreamArn": stream_arn,
        }
        for name, value in exports.items():
            CfnOutput(self, name, value=value, export_name=f"{EXPORT_PREFIX}-{name}",
                      description=EXPORT_DESCRIPTIONS[name])
