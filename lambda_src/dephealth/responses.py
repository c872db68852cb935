"""What every DepHealth handler shares: JSON responses, the guarded client, the deadline."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import Response

from lambda_src.common import aws_clients, faults


def json_response(status: int, body: dict) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body, default=str))


def dynamodb():
    """The container's DynamoDB client, refusing requests past the invocation's deadline."""
    return faults.guard(aws_clients.dynamodb())


def begin(context) -> None:
    """Start an invocation: its deadline is the remaining Lambda time minus one attempt's timeouts."""
    faults.start(context, aws_clients.dynamodb())
