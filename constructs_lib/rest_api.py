"""``JsonRestApi``: a REST API with the project's defaults, for every product's API.

One construct holds what each product's API otherwise repeats:

- a regional ``apigw.RestApi`` with a stage (X-Ray tracing, ERROR execution
  logs without data trace, metrics, stage throttling) and JSON access logs in
  a log group of their own (no caller, user or query string in them: query
  strings may carry tokens);
- one request validator (body and parameters) and ``model()`` / ``method()``
  helpers that attach it;
- gateway responses, so API Gateway's own answers (unknown route, missing
  ``x-api-key``, bad body, throttling, integration failures) reach clients in
  the handlers' shape ``{"error": code, "message": text}`` with
  ``Content-Type: application/json`` (``GATEWAY_RESPONSES`` lists each type
  with its status and code);
- the cdk-nag acknowledgements every API-key product shares (APIG3: no WAF
  per product; APIG4/COG4: the handler authenticates), with the product's
  own reasons.

Use::

    api = JsonRestApi(self, "Api", name=f"kv-storage-{stage}", stage=stage,
                      description="...", rate_limit=100, burst_limit=200,
                      auth_reason="Callers authenticate with their API key, checked by the handler ...",
                      waf_reason="Stage throttling and per-plan caps bound abuse; ...")
    signup = api.model("SignupModel", {"type": apigw.JsonSchemaType.OBJECT, ...})
    api.method(api.root.add_resource("users"), "POST", integration, body=signup)
    api.method(resource, "GET", integration, params={"method.request.header.x-api-key": True})

``api.api`` is the ``apigw.RestApi`` (``api.url`` its URL); ``api.validator``
the request validator; ``api.access_logs`` the access log group.
"""

from __future__ import annotations

import json

from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_logs as logs
from constructs import Construct

# (construct id, response type, status code, error code, message). A status of
# None keeps API Gateway's own status (the DEFAULT_4XX / DEFAULT_5XX fallbacks).
GATEWAY_RESPONSES: tuple[tuple[str, apigw.ResponseType, str | None, str, str], ...] = (
    # API Gateway answers a route it does not know with 403 MissingAuthenticationToken.
    ("MissingAuthenticationToken", apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, "404", "not_found",
     "no such route"),
    ("ResourceNotFound", apigw.ResponseType.RESOURCE_NOT_FOUND, "404", "not_found", "no such route"),
    ("BadRequestBody", apigw.ResponseType.BAD_REQUEST_BODY, "400", "invalid_request",
     "the request body does not match the API's model"),
    ("BadRequestParameters", apigw.ResponseType.BAD_REQUEST_PARAMETERS, "400", "invalid_request",
     "a required header or query parameter is missing or invalid"),
    ("Unauthorized", apigw.ResponseType.UNAUTHORIZED, "401", "unauthorized", "authentication failed"),
    ("InvalidApiKey", apigw.ResponseType.INVALID_API_KEY, "403", "invalid_api_key", "the API key is not valid"),
    ("AccessDenied", apigw.ResponseType.ACCESS_DENIED, "403", "access_denied", "access denied"),
    ("ExpiredToken", apigw.ResponseType.EXPIRED_TOKEN, "403", "access_denied", "the credentials have expired"),
    ("InvalidSignature", apigw.ResponseType.INVALID_SIGNATURE, "403", "access_denied",
     "the request signature is not valid"),
    ("WafFiltered", apigw.ResponseType.WAF_FILTERED, "403", "access_denied", "the request was blocked"),
    ("RequestTooLarge", apigw.ResponseType.REQUEST_TOO_LARGE, "413", "body_too_large", "the request is too large"),
    ("UnsupportedMediaType", apigw.ResponseType.UNSUPPORTED_MEDIA_TYPE, "415", "unsupported_media_type",
     "send the body as application/json"),
    ("Throttled", apigw.ResponseType.THROTTLED, "429", "throttled", "too many requests; retry shortly"),
    ("QuotaExceeded", apigw.ResponseType.QUOTA_EXCEEDED, "429", "throttled", "the usage quota is exhausted"),
    ("IntegrationFailure", apigw.ResponseType.INTEGRATION_FAILURE, "502", "bad_gateway",
     "the service failed to answer; retry shortly"),
    ("IntegrationTimeout", apigw.ResponseType.INTEGRATION_TIMEOUT, "504", "gateway_timeout",
     "the service did not answer in time; retry shortly"),
    ("AuthorizerFailure", apigw.ResponseType.AUTHORIZER_FAILURE, "500", "internal_error",
     "the request could not be authorized"),
    ("Default4xx", apigw.ResponseType.DEFAULT_4_XX, None, "bad_request", "the request was refused"),
    ("Default5xx", apigw.ResponseType.DEFAULT_5_XX, None, "bad_gateway",
     "the service failed to answer; retry shortly"),
)
RETRY_AFTER = {"Throttled", "IntegrationFailure", "IntegrationTimeout", "Default5xx"}


def gateway_template(code: str, message: str) -> str:
    """The mapping template of one gateway response: fixed JSON, nothing from the request echoed."""
    return json.dumps({"error": code, "message": message})


class JsonRestApi(Construct):
    """A regional REST API whose every answer, API Gateway's own included, is ``{"error", "message"}`` JSON."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        stage: str,
        description: str,
        rate_limit: int,
        burst_limit: int,
        auth_reason: str,
        waf_reason: str,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention,
                                         removal_policy=RemovalPolicy.DESTROY)
        self.api = apigw.RestApi(
            self, "Api",
            rest_api_name=name,
            description=description,
            cloud_watch_role=False,
            endpoint_types=[apigw.EndpointType.REGIONAL],
            deploy_options=apigw.StageOptions(
                stage_name=stage,
                throttling_rate_limit=rate_limit,
                throttling_burst_limit=burst_limit,
                tracing_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False, http_method=True, ip=True, protocol=True, request_time=True,
                    resource_path=True, response_length=True, status=True, user=False,
                ),
            ),
        )
        for response_id, kind, status, code, message in GATEWAY_RESPONSES:
            headers = {"Content-Type": "'application/json'"}
            if response_id in RETRY_AFTER:
                headers["Retry-After"] = "'1'"
            self.api.add_gateway_response(
                response_id, type=kind, status_code=status, response_headers=headers,
                templates={"application/json": gateway_template(code, message)},
            )
        self.validator = self.api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True)
        Validations.of(self.api.deployment_stage).acknowledge(
            Acknowledgment(id="AwsSolutions-APIG3", reason=waf_reason))
        Validations.of(self.api).acknowledge(
            Acknowledgment(id="AwsSolutions-APIG4", reason=auth_reason),
            Acknowledgment(id="AwsSolutions-COG4",
                           reason="API-key product without Cognito users; the handler authenticates."),
        )

    @property
    def root(self) -> apigw.IResource:
        return self.api.root

    @property
    def url(self) -> str:
        return self.api.url

    def model(self, name: str, schema: dict) -> apigw.Model:
        """A JSON-schema (draft 4) request model; ``schema`` holds ``apigw.JsonSchema`` keyword arguments."""
        return self.api.add_model(name, content_type="application/json", schema=apigw.JsonSchema(
            schema=apigw.JsonSchemaVersion.DRAFT4, **schema))

    def method(self, resource: apigw.IResource, verb: str, integration: apigw.Integration, *,
               params: dict[str, bool] | None = None, body: apigw.Model | None = None) -> apigw.Method:
        """Add ``verb`` on ``resource``, validated: ``params`` as ``request_parameters``, ``body`` as its model."""
        options: dict = {"request_validator": self.validator, "request_parameters": dict(params or {})}
        if body is not None:
            options["request_models"] = {"application/json": body}
        return resource.add_method(verb, integration, **options)
