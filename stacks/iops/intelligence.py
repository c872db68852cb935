"""IOps dashboard intelligence: the metrics-stream consumer and the alert topic.

The consumer reads the metrics table's stream (NEW_AND_OLD_IMAGES), applies the
risk rules of ``lambda_src/iops/insights.py``, writes insights and publishes
alerts. It has a role of its own with exactly: stream read on that one stream,
PutItem on the insights table, sns:Publish on the alert topic, send on its
failure queue, its log group and X-Ray. The stream and table ARNs arrive as
values (the database stack's exports), so this stack depends on the database
stack and nothing depends on it.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, Duration, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sns as sns
from constructs import Construct

from constructs_lib import queues
from constructs_lib.python_function import Invocation, PythonFunction
from lambda_src.iops import declarations, schema

STREAM_READ_ACTIONS = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
)


class IOpsIntelligenceStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        metrics_stream_arn: str,
        insights_table_arn: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.stage = stage

        self.alert_topic = sns.Topic(
            self,
            "AlertTopic",
            display_name="IOps dashboard risk alerts",
            master_key=kms.Alias.from_alias_name(self, "SnsManagedKey", "alias/aws/sns"),
            enforce_ssl=True,
        )

        self.role = iam.Role(
            self,
            "StreamConsumerRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="IOps metrics-stream consumer: stream read, insight PutItem, alert publish",
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(STREAM_READ_ACTIONS), resources=[metrics_stream_arn])
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["dynamodb:PutItem"], resources=[insights_table_arn])
        )
        # The topic uses the AWS-managed SNS key, whose key policy already admits
        # this account's principals through SNS: no KMS statement is needed.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.alert_topic.topic_arn])
        )

        self.consumer = PythonFunction(
            self,
            "StreamConsumer",
            product="iops",
            handler="insights.handler",
            description="IOps metrics stream -> risk insights and SNS alerts",
            stage=stage,
            invoked_by=Invocation.STREAM,
            environment={
                declarations.INSIGHTS_TABLE_VAR: schema.INSIGHTS.table_name(stage),
                declarations.ALERT_TOPIC_ARN_VAR: self.alert_topic.topic_arn,
            },
            timeout=Duration.seconds(60),
            role=self.role,
        )

        # Records that still fail after the retries are described (not stored)
        # on this queue, so an operator can replay them from the stream.
        self.failures = queues.dead_letter_queue(self, "StreamFailureQueue",
                                                 receives_from="stream consumer (on-failure destination)")
        mapping = lambda_.EventSourceMapping(
            self,
            "MetricsStreamMapping",
            target=self.consumer.function,
            event_source_arn=metrics_stream_arn,
            starting_position=lambda_.StartingPosition.LATEST,
            batch_size=100,
            max_batching_window=Duration.seconds(1),
            bisect_batch_on_error=True,
            retry_attempts=5,
            max_record_age=Duration.hours(24),
            report_batch_item_failures=True,
            on_failure=event_sources.SqsDlq(self.failures),
        )
        Validations.of(self.consumer.function).acknowledge(
            Acknowledgment(id="NIST.800.53.R5-LambdaConcurrency",
                           reason="Bounded by the stream: one batch per shard at a time (parallelization "
                           "factor 1), so concurrency never exceeds the metrics table's shard count."),
        )
        # Lambda checks its stream permissions when the mapping is created.
        mapping.node.add_dependency(self.role.node.find_child("DefaultPolicy"))
        CfnOutput(self, "AlertTopicArn", value=self.alert_topic.topic_arn,
                  description="SNS topic for risk alerts")

