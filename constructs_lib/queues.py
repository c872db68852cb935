"""SQS queues with the project's defaults: encrypted, TLS-only, redriven.

Every work queue has a dead-letter queue, and every dead-letter queue keeps
its messages 14 days (the SQS maximum) so an operator can inspect and replay
them. Keeping both here means a new queue cannot forget either.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

RETENTION = Duration.days(14)


def dead_letter_queue(
    scope: Construct,
    construct_id: str,
    *,
    receives_from: str,
    encryption: sqs.QueueEncryption = sqs.QueueEncryption.KMS_MANAGED,
) -> sqs.Queue:
    """A queue that only catches what ``receives_from`` could not handle.

    cdk-nag's SQS3 and Serverless-SQSRedrivePolicy (a queue without a DLQ)
    are acknowledged on it: a dead-letter queue needs no dead-letter queue of
    its own.
    """
    queue = sqs.Queue(scope, construct_id, encryption=encryption, enforce_ssl=True,
                      retention_period=RETENTION)
    reason = f"This queue is the {receives_from}'s dead-letter queue."
    Validations.of(queue).acknowledge(
        Acknowledgment(id="AwsSolutions-SQS3", reason=reason),
        Acknowledgment(id="Serverless-SQSRedrivePolicy", reason=reason),
    )
    return queue


def work_queue(
    scope: Construct,
    construct_id: str,
    *,
    dead_letters: sqs.IQueue,
    max_receive_count: int,
    visibility_timeout: Duration,
    encryption: sqs.QueueEncryption = sqs.QueueEncryption.KMS_MANAGED,
) -> sqs.Queue:
    """A consumer's queue: after ``max_receive_count`` receives a message moves to ``dead_letters``."""
    return sqs.Queue(
        scope, construct_id, encryption=encryption, enforce_ssl=True,
        visibility_timeout=visibility_timeout,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=max_receive_count),
    )
