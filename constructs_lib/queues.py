"""SQS queues with the project's defaults: encrypted, TLS-only, redriven, consumed in bounded batches.

Every work queue has a dead-letter queue, and every dead-letter queue keeps
its messages 14 days (the SQS maximum) so an operator can inspect and replay
them. Keeping both here means a new queue cannot forget either; ``consume``
is the one way a function reads a work queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

if TYPE_CHECKING:
    from .python_function import PythonFunction

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


def consume(
    function: PythonFunction,
    queue: sqs.Queue,
    *,
    batch_size: int,
    max_concurrency: int,
    max_batching_window: Duration | None = None,
) -> None:
    """Let ``function`` consume ``queue``: partial batch responses, at most ``max_concurrency`` batches at once.

    The mapping's MaximumConcurrency is what bounds an SQS consumer (AWS
    recommends it over a reserved concurrency, which throttles the pollers and
    pushes messages towards the dead-letter queue early), and an SQS mapping
    has no on-failure destination: the queue's redrive policy is its failure
    path. Both cdk-nag findings are acknowledged with those reasons on this
    function and its mapping only.
    """
    if queue.dead_letter_queue is None:
        raise ValueError("a consumed queue needs a dead-letter queue (use work_queue)")
    function.function.add_event_source(sources.SqsEventSource(
        queue, batch_size=batch_size, max_batching_window=max_batching_window,
        report_batch_item_failures=True, max_concurrency=max_concurrency,
    ))
    dead_letters = queue.dead_letter_queue.queue.node.id
    Validations.of(function.function).acknowledge(
        Acknowledgment(id="NIST.800.53.R5-LambdaConcurrency",
                       reason=f"Bounded by its SQS mapping's MaximumConcurrency ({max_concurrency}); a reservation "
                       "would throttle the pollers and push messages towards the dead-letter queue early."),
        Acknowledgment(id="Serverless-LambdaEventSourceMappingDestination",
                       reason=f"An SQS mapping has no on-failure destination: a message that fails "
                       f"{queue.dead_letter_queue.max_receive_count} receives moves to {dead_letters} through "
                       "the queue's redrive policy."),
    )
