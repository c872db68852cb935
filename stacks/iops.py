"""IOps dashboard: core (execution role) and database stacks (SPEC §1.4).

The core stack owns the Lambda execution role; the database stack owns the
tables, grants that role read/write on them (a policy attached from the
database side, so the dependency runs core -> database) and exports the five
names other systems import.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from constructs_lib.access import table_statement
from constructs_lib.schema_table import ProvisionedCapacity
from lambda_src.iops import schema

from .data import ProductDataStack

EXPORT_PREFIX = "IOpsDashboard"
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


class IOpsCoreStack(Stack):
    """Owns the Lambda execution role shared by the dashboard's data functions."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.stage = stage
        self.execution_role = iam.Role(
            self,
            "LambdaExecutionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="IOps dashboard data functions (metrics and insights read/write)",
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
        **kwargs,
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
        iam.Policy(
            self,
            "ExecutionRoleTableAccess",
            roles=[execution_role],
            statements=statements,
        )

        exports = {
            "MetricsTableName": self.metrics.table.table_name,
            "MetricsTableArn": self.metrics.table.table_arn,
            "InsightsTableName": self.insights.table.table_name,
            "InsightsTableArn": self.insights.table.table_arn,
            "MetricsTableStreamArn": self.metrics.table.table_stream_arn,
        }
        for name, value in exports.items():
            CfnOutput(self, name, value=value, export_name=f"{EXPORT_PREFIX}-{name}")


def build(app, settings) -> dict:
    """Add the IOps dashboard's stacks; ``iopsProvisioned`` switches on provisioned mode."""
    core = IOpsCoreStack(app, "IOpsDashboardCore", **settings.stack_kwargs("IOpsDashboard", "Core"))
    database = IOpsDatabaseStack(
        app,
        "IOpsDashboardDatabase",
        execution_role=core.execution_role,
        provisioned=ProvisionedCapacity() if settings.flag("iopsProvisioned") else None,
        **settings.stack_kwargs("IOpsDashboard", "Database"),
    )
    return {"core": core, "database": database}
