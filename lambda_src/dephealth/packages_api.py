"""REST routes for package health, behind an API key or the demo allowance.

    GET  /packages/{ecosystem}/{name+}         one package (GetItem); the name may be
                                               npm-scoped (``@types/node``, as two
                                               segments or URL-encoded as one)
    GET  /packages?risk_level=high&limit=&cursor=
                                               a page by risk level (Query on the
                                               KEYS_ONLY index + BatchGetItem)
    POST /packages/batch  {"packages": [{"ecosystem","name"}, ...]}
                                               many packages (batch_get_packages)

With ``x-api-key``: one Query on key-hash-index, then the tier's monthly
quota is counted (429 quota_exceeded). Without: the demo counter of the
caller's IP (an IPv6 client by its /64) for this hour (429 demo_limit_exceeded).

Every DynamoDB fault a retry can fix answers 503 with ``Retry-After``
(``throttled``, ``unavailable``, ``partial_read``, ``deadline_exceeded``),
in time: deadlines come from the invocation's remaining time.
"""

from __future__ import annotations

from urllib.parse import unquote

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from lambda_src.common import faults
from lambda_src.common.http import install_error_handlers, json_body, json_response

from . import packages, quotas, rate_limits, validation
from .api_errors import STATUS
from .errors import InvalidInput
from .runtime import begin, dynamodb

logger = Logger()
app = APIGatewayRestResolver()
install_error_handlers(app, logger, domain_errors=STATUS)


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


def _path_name(*segments: str) -> str:
    """The package name from its path segment(s), URL-decoded once.

    API Gateway may hand the path over raw (``%40types%2Fnode``) or decoded
    (``@types/node``, two segments); both give the same name. ``%`` never
    belongs to a name, so decoding once cannot turn one valid name into another.
    """
    try:
        return unquote("/".join(segments), errors="strict")
    except UnicodeDecodeError:
        raise InvalidInput("invalid_package_name", "package name is missing or malformed") from None


@app.get("/packages/<ecosystem>/<name>")
def get_package(ecosystem: str, name: str) -> Response:
    return _get_package(ecosystem, _path_name(name))


@app.get("/packages/<ecosystem>/<scope>/<name>")
def get_scoped_package(ecosystem: str, scope: str, name: str) -> Response:
    return _get_package(ecosystem, _path_name(scope, name))


def _get_package(ecosystem: str, name: str) -> Response:
    ecosystem, name = validation.ecosystem(unquote(ecosystem)), validation.package_name(name)
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
        raise InvalidInput("invalid_packages",
                       f"packages must be a list of 1 to {packages.MAX_BATCH_NAMES} {{ecosystem, name}} objects")
    names = []
    for entry in wanted:
        if not isinstance(entry, dict):
            raise InvalidInput("invalid_packages", "each entry must be an {ecosystem, name} object")
        names.append((validation.ecosystem(entry.get("ecosystem")), validation.package_name(entry.get("name"))))
    _admit()
    found = packages.batch_get_packages(dynamodb(), names, deadline_s=faults.remaining_s(8.0))
    missing = [{"ecosystem": e, "name": n} for e, n in dict.fromkeys(names) if (e, n) not in found]
    return json_response(200, {"packages": list(found.values()), "not_found": missing})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
def handler(event, context):
    begin(context)
    return app.resolve(event, context)
