"""What every DepHealth handler does first, and the client it uses.

``begin(context)`` checks the function's settings (a missing table name
fails the invocation, naming the variable) and starts the invocation's
deadline; ``dynamodb()`` is the container's client, guarded by that deadline.
"""

from __future__ import annotations

from lambda_src.common import aws_clients, faults

from . import config


def dynamodb():
    """The container's DynamoDB client, refusing requests past the invocation's deadline."""
    return faults.guard(aws_clients.dynamodb())


def begin(context) -> None:
    """Start an invocation: settings checked, deadline = remaining Lambda time minus one attempt's timeouts."""
    config.require_tables()
    faults.start(context, aws_clients.dynamodb())
