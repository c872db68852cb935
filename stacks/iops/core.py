"""IOps dashboard core: the shared execution role, the ingest queue and function, the daily recompute.

Ingest events arrive on the queue (with its DLQ) and are folded into
per-entity aggregates by the ingest function, which runs under the execution
role that the database stack grants table access to (the policy is attached
from the database side, so the dependency runs core -> database). The daily
window recompute has a role of its own: Query on LastUpdatedIndex,
GetItem/PutItem on the metrics table, named by the ARNs built from the
schema's literal table name, not by a token from the database stack.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct

from constructs_lib import queues
from constructs_lib.access import TableByName, grant
from constructs_lib.python_function import Invocation, PythonFunction
from constructs_lib.scheduled_target import ScheduledInvocation
from lambda_src.iops import declarations, schema

# The daily recompute: one Query page per selection, a consistent GetItem
# after a lost write race, one conditional PutItem per changed item.
RECOMPUTE_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem")
RECOMPUTE_INDEX_ACTIONS = ("dynamodb:Query",)
# At most this many ingest batches run at once (the mapping's MaximumConcurrency).
INGEST_MAX_CONCURRENCY = 5

class IOpsCoreStack(Stack):
    """Owns the Lambda execution role shared by the dashboard's data functions."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: str, **kwargs: Any) -> None:
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
            stage=stage,
            invoked_by=Invocation.QUEUE,
            environment={declarations.METRICS_TABLE_VAR: schema.METRICS.table_name(stage)},
            timeout=Duration.seconds(30),
            role=self.execution_role,
        )
        queues.consume(self.ingest, self.ingest_queue, batch_size=10, max_concurrency=INGEST_MAX_CONCURRENCY,
                       max_batching_window=Duration.seconds(1))
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
            stage=stage,
            environment={declarations.METRICS_TABLE_VAR: metrics.table_name},
            timeout=Duration.minutes(15),
        )
        grant(self.recompute, metrics, actions=RECOMPUTE_TABLE_ACTIONS)
        grant(self.recompute, metrics, actions=RECOMPUTE_INDEX_ACTIONS,
              indexes=[schema.LAST_UPDATED_INDEX.name], include_table=False)
        # Windows move at 00:00 UTC. A run that stops at its deadline or fails
        # is redone by the next one (done items read as unchanged).
        self.recompute_schedule = ScheduledInvocation(
            self,
            "MetricsRecomputeSchedule",
            stage=stage,
            function=self.recompute,
            description="Daily IOps window recompute, after the UTC day changes",
            schedule=events.Schedule.cron(minute="15", hour="0"),
        )
