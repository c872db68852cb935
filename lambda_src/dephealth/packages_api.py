"""REST routes for package health, behind an API key or the demo allowance.

    GET  /packages/{ecosystem}/{name}          one package (GetItem)
    GET  /packages?risk_level=high&limit=&cursor=
                                               a page by risk level (Query on the
                                               KEYS_ONLY index + BatchGetItem)
    POST /packages/batch  {"packages": [{"ecosystem","name"}, ...]}
                                               many packages (batch_get_packages)

With ``x-api-key``: one Query on key-hash-index, then the tier's monthly
quota is counted (429 quota_exceeded). Without: the demo counter of the
caller's IP for this hour (429 demo_limit_exceeded).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from lambda_src.common.api import ApiError, install_error_handlers, json_body
from lambda_src.common.aws_clients import dynamodb

from . import packages, quotas, rate_limits, validation
from .batch import BatchIncomplete
from .responses import json_response

logger = Logger()
app = APIGatewayRestResolver()
install_error_handlers(app, logger)


@app.exception_handler(BatchIncomplete)
def _incomplete(exc: BatchIncomplete) -> Response:
    logger.warning("batch read incomplete", extra={"missing": len(exc.missing), "requests": exc.requests})
    return json_response(503, {"error": "partial_read", "message": "the table is busy; retry the request"})


def _admit() -> str:
    """Authenticate and count the request; return the caller's plan."""
    client = dynamodb()
    raw_key = app.current_event.get_header_value("x-api-key", case_sensitive=False)
    if raw_key:
        record = quotas.authenticate(client, raw_key)
        quotas.consume(client, record)
        return record.get("tier", "free")
    rate_limits.demo_hit(client, app.current_event.request_context.identity.source_ip)
    return "demo"


@app.get("/packages/<ecosystem>/<name>")
def get_package(ecosystem: str, name: str) -> Response:
    ecosystem, name = validation.ecosystem(ecosystem), validation.package_name(name)
    _admit()
    return json_response(200, packages.get_package(dynamodb(), ecosystem, name))


@app.get("/packages")
def list_packages() -> Response:
    event = app.current_event
    risk = validation.risk_level(event.get_query_string_value("risk_level"))
    limit = validation.limit(event.get_query_string_value("limit"), default=50, maximum=500)
    cursor = event.get_query_string_value("cursor")
    if cursor is not None:
        packages.decode_cursor(cursor, risk)  # reject a bad cursor before it costs quota
    _admit()
    return json_response(200, packages.list_by_risk(dynamodb(), risk, limit=limit, cursor=cursor))


@app.post("/packages/batch")
def batch_packages() -> Response:
    wanted = json_body(app).get("packages")
    if not isinstance(wanted, list) or not 1 <= len(wanted) <= packages.MAX_BATCH_NAMES:
        raise ApiError(400, "invalid_packages",
                       f"packages must be a list of 1 to {packages.MAX_BATCH_NAMES} {{ecosystem, name}} objects")
    names = []
    for entry in wanted:
        if not isinstance(entry, dict):
            raise ApiError(400, "invalid_packages", "each entry must be an {ecosystem, name} object")
        names.append((validation.ecosystem(entry.get("ecosystem")), validation.package_name(entry.get("name"))))
    _admit()
    found = packages.batch_get_packages(dynamodb(), names, deadline_s=8.0)
    missing = [{"ecosystem": e, "name": n} for e, n in dict.fromkeys(names) if (e, n) not in found]
    return json_response(200, {"packages": list(found.values()), "not_found": missing})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
def handler(event, context):
    return app.resolve(event, context)
