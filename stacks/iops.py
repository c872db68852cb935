"""IOps dashboard: core, database and intelligence stacks (SPEC §1.4).

The core stack owns the Lambda execution role, the ingest queue (with its
DLQ), the ingest function and the daily window recompute (its own role:
Query on LastUpdatedIndex, GetItem/PutItem on the metrics table); the database stack owns the tables, grants that
role read/write on them (a policy attached from the database side, so the
dependency runs core -> database) and exports the five names other systems
import; the intelligence stack (``stacks/iops_intelligence.py``) consumes the
metrics stream through those exports. Dependencies: core -> database ->
intelligence, never back: the ingest function gets the metrics table's
literal name from the schema, not a token from the database stack (and the
recompute's grants name the table and index ARNs built from that name).
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Fn, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import Construct

from constructs_lib import queues
from constructs_lib.access import TableByName, grant, table_statement
from constructs_lib.python_function import PythonFunction
from constructs_lib.schema_table import ProvisionedCapacity
from lambda_src.iops import schema

from .data import ProductDataStack
from .iops_intelligence import IOpsIntelligenceStack

EXPORT_PREFIX = "IOpsDashboard"
# The source design's stack and output descriptions, word for word.
CORE_DESCRIPTION = "Core infrastructure for Intelligent Operations Dashboard"
DATABASE_DESCRIPTION = "DynamoDB tables for metrics and insights"
INTELLIGENCE_DESCRIPTION = "AI inference and alerting"
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
# The daily recompute: one Query page per selection, a consistent GetItem
# after a lost write race, one conditional PutItem per changed item.
RECOMPUTE_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem")
RECOMPUTE_INDEX_ACTIONS = ("dynamodb:Query",)


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
        # Ingest path: producers send session / IB-call events to the queue; a
        # message that fails 5 receives moves to the DLQ (kept 14 days).
        self.ingest_dlq = queues.dead_letter_queue(self, "IngestDeadLetterQueue", receives_from="ingest queue")
        self.ingest_queue = queues.work_queue(
            self, "IngestQueue", dead_letters=self.ingest_dlq, max_receive_count=5,
            visibility_timeout=Duration.seconds(180),  # 6x the function timeout
        )
        self.ingest = PythonFunction(
            self,
            "IngestFunction",
            product="iops",
            handler="ingest.handler",
            description="IOps metric ingest: session / IB-call events -> per-entity aggregates",
            environment={"METRICS_TABLE": schema.METRICS.table_name(stage)},
            timeout=Duration.seconds(30),
            role=self.execution_role,
        )
        self.ingest.function.add_event_source(
            event_sources.SqsEventSource(
                self.ingest_queue,
                batch_size=10,
                max_batching_window=Duration.seconds(1),
                report_batch_item_failures=True,
            )
        )
        CfnOutput(self, "IngestQueueUrl", value=self.ingest_queue.queue_url,
                  description="SQS queue for session and IB-call events (metric ingest)")
        self._recompute(stage)

    def _recompute(self, stage: str) -> None:
        """The daily window recompute (lambda_src/iops/recompute.py), with a role of its own."""
        metrics = TableByName(self, spec=schema.METRICS, table_name=schema.METRICS.table_name(stage))
        self.recompute = PythonFunction(
            self,
            "MetricsRecompute",
            product="iops",
            handler="recompute.handler",
            description="IOps daily window recompute: slides the windows of entities without new events",
            environment={"METRICS_TABLE": metrics.table_name},
            timeout=Duration.minutes(15),
        )
        grant(self.recompute, metrics, actions=RECOMPUTE_TABLE_ACTIONS)
        grant(self.recompute, metrics, actions=RECOMPUTE_INDEX_ACTIONS,
              indexes=[schema.LAST_UPDATED_INDEX.name], include_table=False)
        # Windows move at 00:00 UTC. A run that stops at its deadline or fails
        # is redone by the next one (done items read as unchanged).
        rule = events.Rule(
            self,
            "MetricsRecomputeSchedule",
            description="Daily IOps window recompute, after the UTC day changes",
            schedule=events.Schedule.cron(minute="15", hour="0"),
        )
        rule.add_target(targets.LambdaFunction(self.recompute.function, retry_attempts=2))


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
            CfnOutput(self, name, value=value, export_name=f"{EXPORT_PREFIX}-{name}",
                      description=EXPORT_DESCRIPTIONS[name])


def build(app, settings) -> dict:
    """Add the IOps dashboard's stacks; ``iopsProvisioned`` switches on provisioned mode."""
    core = IOpsCoreStack(app, "IOpsDashboardCore", description=CORE_DESCRIPTION,
                         **settings.stack_kwargs("IOpsDashboard", "Core"))
    database = IOpsDatabaseStack(
        app,
        "IOpsDashboardDatabase",
        execution_role=core.execution_role,
        description=DATABASE_DESCRIPTION,
        provisioned=ProvisionedCapacity() if settings.flag("iopsProvisioned") else None,
        **settings.stack_kwargs("IOpsDashboard", "Database"),
    )
    intelligence = IOpsIntelligenceStack(
        app,
        "IOpsDashboardIntelligence",
        metrics_stream_arn=Fn.import_value(f"{EXPORT_PREFIX}-MetricsTableStreamArn"),
        insights_table_arn=Fn.import_value(f"{EXPORT_PREFIX}-InsightsTableArn"),
        description=INTELLIGENCE_DESCRIPTION,
        **settings.stack_kwargs("IOpsDashboard", "Intelligence"),
    )
    intelligence.add_stack_dependency(database, "reads the database stack's exports")
    return {"core": core, "database": database, "intelligence": intelligence}
