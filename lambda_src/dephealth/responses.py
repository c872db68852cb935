"""JSON responses with the content type set once."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import Response


def json_response(status: int, body: dict) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body, default=str))
