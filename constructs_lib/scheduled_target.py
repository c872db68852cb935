"""A function run on a schedule, whose failed runs are kept and raise an alarm.

EventBridge invokes the function asynchronously. Two things can go wrong,
and both land in the same dead-letter queue:

- EventBridge cannot deliver the event (throttling, a missing permission):
  it retries ``retry_attempts`` times for at most ``max_event_age``, then
  sends the event to the queue (the target's retry policy and DLQ);
- the function is invoked but fails: Lambda retries the asynchronous
  invocation twice, then sends the event to the function's dead-letter queue
  (``DeadLetterConfig``), the same queue.

The queue is encrypted with SSE-SQS (the AWS-managed ``aws/sqs`` key's policy
cannot admit the EventBridge service principal, so EventBridge could not send
to a queue under it), TLS-only and keeps messages 14 days
(``constructs_lib.queues``). An alarm fires as soon as a message is visible
in it. In prod the function runs one invocation at a time (reserved
concurrency 1), so a Lambda retry never overlaps a run still going; dev
reserves nothing (a new account's pool of 10 cannot spare a reservation).

The project has no operations alert topic, so the alarm has no action:
it shows in the CloudWatch console and in ``aws cloudwatch describe-alarms
--state-value ALARM``; subscribe it to the account's alerting where one exists.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from . import queues
from .python_function import PythonFunction

RETRY_ATTEMPTS = 4
MAX_EVENT_AGE = Duration.hours(1)
ALARM_PERIOD = Duration.minutes(5)


class ScheduledInvocation(Construct):
    """``function`` on ``schedule``, with a retry policy, one dead-letter queue and an alarm on it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        function: PythonFunction,
        schedule: events.Schedule,
        description: str | None = None,
        retry_attempts: int = RETRY_ATTEMPTS,
        max_event_age: Duration = MAX_EVENT_AGE,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = queues.dead_letter_queue(
            self, "DeadLetterQueue", receives_from=f"{construct_id} (schedule and function)",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
        )
        self.rule = events.Rule(self, "Rule", description=description, schedule=schedule)
        self.rule.add_target(targets.LambdaFunction(
            function.function, dead_letter_queue=self.dead_letter_queue,
            retry_attempts=retry_attempts, max_event_age=max_event_age,
        ))
        self._dead_letter_function(function, one_at_a_time=stage == "prod")
        self.alarm = cloudwatch.Alarm(
            self, "DeadLetterAlarm",
            alarm_description=f"A run of {construct_id} failed: its event is in the dead-letter queue "
            f"{self.dead_letter_queue.queue_name}",
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        Validations.of(self.alarm).acknowledge(
            Acknowledgment(id="NIST.800.53.R5-CloudWatchAlarmAction",
                           reason="The project has no operations alert topic to notify; the alarm state is "
                           "the signal (console, describe-alarms), and the account's alerting subscribes to it."),
        )

    def _dead_letter_function(self, function: PythonFunction, *, one_at_a_time: bool) -> None:
        """Failed asynchronous runs of ``function`` go to the same queue (its ``DeadLetterConfig``)."""
        # SendMessage only (grant_send_messages adds GetQueueAttributes/GetQueueUrl, which Lambda never calls).
        function.function.add_to_role_policy(iam.PolicyStatement(
            actions=["sqs:SendMessage"], resources=[self.dead_letter_queue.queue_arn]))
        cfn = function.cfn_function
        cfn.dead_letter_config = lambda_.CfnFunction.DeadLetterConfigProperty(
            target_arn=self.dead_letter_queue.queue_arn)
        if one_at_a_time:
            cfn.reserved_concurrent_executions = 1
