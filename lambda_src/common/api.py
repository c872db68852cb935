"""The error contract of every HTTP API: 4xx with ``{"error": code, "message": text}``.

``ApiError`` is raised anywhere in a route; ``install_error_handlers`` makes
a Powertools resolver turn it, unknown routes, malformed JSON and unexpected
failures into that JSON shape (an unexpected failure is logged and answered
500 ``internal_error`` with no traceback in the body).
"""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from lambda_src.common import decoding


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, headers: dict | None = None) -> Response:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps({"error": code, "message": message}),
        headers=headers or {},
    )


def json_body(app) -> dict:
    """The request body as a JSON object, or a 400 (``invalid_json``, ``body_too_large``).

    Decoding goes through :mod:`lambda_src.common.decoding`, which caps size
    and nesting and refuses lone surrogates.
    """
    raw = app.current_event.body
    if raw in (None, ""):
        return {}
    try:
        if app.current_event.is_base64_encoded:
            return decoding.json_object(decoding.base64_body(raw))
        return decoding.json_object(raw)
    except decoding.DecodeError as exc:
        raise ApiError(413 if exc.code == "body_too_large" else 400, exc.code, exc.message) from None


def install_error_handlers(app, logger) -> None:
    @app.exception_handler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(decoding.DecodeError)
    def _decode_error(exc: decoding.DecodeError):
        status = 413 if exc.code == "body_too_large" else 400
        return error_response(status, exc.code, exc.message)

    @app.not_found
    def _not_found(exc: NotFoundError):
        return error_response(404, "not_found", "no such route")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception):
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "the request could not be completed")
