"""``JsonRestApi``: a REST API with the project's defaults, for every product's API.

One construct holds what each product's API otherwise repeats:

- a regional ``apigw.RestApi`` with a stage (X-Ray tracing, ERROR execution
  logs without data trace, metrics, stage throttling) and JSON access logs in
  a log group of their own (no caller, user or query string in them: query
  strings may carry tokens); in prod the access logs are kept a year and
  retained when the stack goes, in dev a month;
- one request validator (body and parameters) and ``model()`` / ``method()``
  helpers that attach it;
- gateway responses, so API Gateway's own answers (unknown route, missing
  ``x-api-key``, bad body, throttling, integration failures) reach clients in
  the handlers' shape ``{"error": code, "message": text}`` with
  ``Content-Type: application/json`` (``GATEWAY_RESPONSES`` lists each type
  with its status and code);
- the production controls of ``ApiProtection`` (read from context by
  ``ApiProtection.from_context``): a WAFv2 web ACL on the stage
  (``constructs_lib.web_acl``), an optional custom domain with the TLS 1.2
  policy (the execute-api endpoint is then disabled), and the reserved
  concurrency the product gives its API functions;
- cdk-nag acknowledgements on the narrowest construct: each method states
  why it has no API Gateway authorizer (``no_authorizer=``), so a method
  added without a reason is reported; the stage carries the cache and
  client-certificate reasons, and, only when the web ACL is switched off,
  the WAF one.

Use::

    protection = ApiProtection.from_context(self, stage=stage, product="kv")
    api = JsonRestApi(self, "Api", name=f"kv-storage-{stage}", stage=stage, protection=protection,
                      description="...", rate_limit=100, burst_limit=200)
    signup = api.model("SignupModel", {"type": apigw.JsonSchemaType.OBJECT, ...})
    api.method(api.root.add_resource("users"), "POST", integration, body=signup,
               no_authorizer="Signup is public by design ...", tight_rate_limit=True)
    api.method(resource, "GET", integration, params={"method.request.header.x-api-key": True},
               no_authorizer="The handler checks x-api-key ...")

``api.api`` is the ``apigw.RestApi``; ``api.url`` the public base URL (the
custom domain when there is one); ``api.validator`` the request validator;
``api.access_logs`` the access log group; ``api.web_acl`` the ``ApiWebAcl``
or ``None``; ``api.domain`` the ``apigw.DomainName`` or ``None``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_cdk import Acknowledgment, Aws, RemovalPolicy, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_logs as logs
from constructs import Construct

from .web_acl import ApiWebAcl, RouteMatch

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


# Stage defaults of the context switches (docs/SECURITY.md, "API edge").
PROD_STAGE = "prod"
DEFAULT_WAF_RATE_LIMIT = 3000  # requests per source IP per 5 minutes, every route (10 per second)
DEFAULT_WAF_TIGHT_RATE_LIMIT = 100  # per source IP per 5 minutes on signup, magic-link and demo routes
DEFAULT_PROD_RESERVED_CONCURRENCY = 50  # per public API function
PROD_ACCESS_LOG_RETENTION = logs.RetentionDays.ONE_YEAR
DEV_ACCESS_LOG_RETENTION = logs.RetentionDays.ONE_MONTH

CACHE_REASON = (
    "Every response depends on the calling API key and on counters that change with each request "
    "(quotas, versions, TTL); a stage cache would serve stale data or another caller's data."
)
CLIENT_CERTIFICATE_REASON = (
    "Every integration is a Lambda proxy integration, invoked by API Gateway through the Lambda API "
    "with IAM; a client certificate authenticates API Gateway to an HTTP backend and has none to "
    "present to here."
)
ACCESS_LOG_KEY_REASON = (
    "CloudWatch Logs encrypts the access log at rest with its service key. The access log format "
    "carries no caller, user, query string or body (tokens travel in query strings), so a "
    "customer-managed key would add key cost and a key-policy dependency without protecting a secret."
)

WAF_LOG_KEY_REASON = (
    "CloudWatch Logs encrypts the web ACL log at rest with its service key. The x-api-key header and "
    "the query string (login and verification tokens) are redacted before WAF writes a record, so a "
    "customer-managed key would add key cost and a key-policy dependency without protecting a secret."
)


class ContextError(ValueError):
    """A context value that cannot be read as its switch's type."""


def context_bool(value: Any, default: bool, key: str) -> bool:
    """``true``/``false`` (JSON or ``-c key=value`` text); ``default`` when unset."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ContextError(f"context {key}={value!r}: use true or false")


def context_int(value: Any, default: int | None, key: str, *, minimum: int = 1) -> int | None:
    """A whole number >= ``minimum``, or ``none``/``false`` for no value; ``default`` when unset."""
    if value is None:
        return default
    if value is False or str(value).strip().lower() in ("none", "false", "off"):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ContextError(f"context {key}={value!r}: use a whole number or none") from None
    if number < minimum:
        raise ContextError(f"context {key}={value!r}: must be at least {minimum}")
    return number


@dataclass(frozen=True)
class CustomDomain:
    """A regional custom domain: its name and an ACM certificate ARN in the stack's region."""

    name: str
    certificate_arn: str


@dataclass(frozen=True)
class ApiProtection:
    """What a stage turns on in front of an API, and how far (see ``from_context``)."""

    stage: str
    waf: bool
    rate_limit: int
    tight_rate_limit: int
    reserved_concurrency: int | None
    domain: CustomDomain | None

    @property
    def prod(self) -> bool:
        return self.stage == PROD_STAGE

    @classmethod
    def from_context(cls, scope: Construct, *, stage: str, product: str) -> ApiProtection:
        """Read the switches; unset ones take the stage default.

        - ``waf``: the web ACL; default on in prod, off in dev (a web ACL
          costs a monthly fee plus per request, and the local target has no WAF).
        - ``wafRateLimit`` / ``wafTightRateLimit``: requests per source IP
          per five minutes, on every route / on signup, magic-link and demo.
        - ``apiReservedConcurrency``: reserved concurrency of each public
          API function; default 50 in prod, none in dev (small accounts and
          the local target cannot reserve); ``none`` switches it off.
        - ``{product}Domain`` + ``{product}CertificateArn``: a custom domain
          (both or neither), e.g. ``kvDomain`` / ``kvCertificateArn``.
        """
        get = scope.node.try_get_context
        prod = stage == PROD_STAGE
        rate = context_int(get("wafRateLimit"), DEFAULT_WAF_RATE_LIMIT, "wafRateLimit", minimum=10)
        tight = context_int(get("wafTightRateLimit"), DEFAULT_WAF_TIGHT_RATE_LIMIT, "wafTightRateLimit",
                            minimum=10)
        if rate is None or tight is None:
            raise ContextError("wafRateLimit and wafTightRateLimit take a number (switch the ACL off with waf=false)")
        domain_key, certificate_key = f"{product}Domain", f"{product}CertificateArn"
        name, certificate = get(domain_key), get(certificate_key)
        if bool(name) != bool(certificate):
            raise ContextError(f"set both {domain_key} and {certificate_key}, or neither")
        return cls(
            stage=stage,
            waf=context_bool(get("waf"), prod, "waf"),
            rate_limit=rate,
            tight_rate_limit=tight,
            reserved_concurrency=context_int(get("apiReservedConcurrency"),
                                             DEFAULT_PROD_RESERVED_CONCURRENCY if prod else None,
                                             "apiReservedConcurrency"),
            domain=CustomDomain(str(name), str(certificate)) if name else None,
        )


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
        protection: ApiProtection,
        waf_off_reason: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.protection = protection
        # Prod keeps request records for a year, and after the stack is gone; dev's are disposable.
        log_retention = PROD_ACCESS_LOG_RETENTION if protection.prod else DEV_ACCESS_LOG_RETENTION
        log_removal = RemovalPolicy.RETAIN if protection.prod else RemovalPolicy.DESTROY
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention, removal_policy=log_removal)
        Validations.of(self.access_logs).acknowledge(
            Acknowledgment(id="NIST.800.53.R5-CloudWatchLogGroupEncrypted", reason=ACCESS_LOG_KEY_REASON))
        self.api = apigw.RestApi(
            self, "Api",
            rest_api_name=name,
            description=description,
            cloud_watch_role=False,
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # With a custom domain, clients use it alone: the TLS policy and the web ACL cannot be bypassed.
            disable_execute_api_endpoint=True if protection.domain else None,
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
        stage_construct = self.api.deployment_stage
        Validations.of(stage_construct).acknowledge(
            Acknowledgment(id="NIST.800.53.R5-APIGWCacheEnabledAndEncrypted", reason=CACHE_REASON),
            Acknowledgment(id="NIST.800.53.R5-APIGWSSLEnabled", reason=CLIENT_CERTIFICATE_REASON),
        )
        self.web_acl: ApiWebAcl | None = None
        if protection.waf:
            self.web_acl = ApiWebAcl(
                self, "WebAcl",
                name=name,
                stage_name=stage,
                # The literal stage name (not the stage's Ref) so cdk-nag's APIG3 can match the association.
                stage_arn=f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}::/restapis/{self.api.rest_api_id}"
                f"/stages/{stage}",
                rate_limit=protection.rate_limit,
                tight_rate_limit=protection.tight_rate_limit,
                log_retention=log_retention,
                log_removal_policy=log_removal,
            )
            self.web_acl.association.node.add_dependency(stage_construct)
            Validations.of(self.web_acl.log_group).acknowledge(
                Acknowledgment(id="NIST.800.53.R5-CloudWatchLogGroupEncrypted", reason=WAF_LOG_KEY_REASON))
        else:
            Validations.of(stage_construct).acknowledge(Acknowledgment(id="AwsSolutions-APIG3", reason=waf_off_reason))
        self.domain: apigw.DomainName | None = None
        if protection.domain:
            self.domain = apigw.DomainName(
                self, "Domain",
                domain_name=protection.domain.name,
                certificate=acm.Certificate.from_certificate_arn(self, "Certificate",
                                                                 protection.domain.certificate_arn),
                endpoint_type=apigw.EndpointType.REGIONAL,
                security_policy=apigw.SecurityPolicy.TLS_1_2,
            )
            self.domain.add_base_path_mapping(self.api, stage=stage_construct)

    @property
    def root(self) -> apigw.IResource:
        return self.api.root

    @property
    def url(self) -> str:
        """The base URL clients use: ``https://{domain}/`` with a custom domain, else the stage URL."""
        if self.protection.domain:
            return f"https://{self.protection.domain.name}/"
        return self.api.url

    def model(self, name: str, schema: dict) -> apigw.Model:
        """A JSON-schema (draft 4) request model; ``schema`` holds ``apigw.JsonSchema`` keyword arguments."""
        return self.api.add_model(name, content_type="application/json", schema=apigw.JsonSchema(
            schema=apigw.JsonSchemaVersion.DRAFT4, **schema))

    def method(
        self,
        resource: apigw.IResource,
        verb: str,
        integration: apigw.Integration,
        *,
        no_authorizer: str,
        params: dict[str, bool] | None = None,
        body: apigw.Model | None = None,
        tight_rate_limit: bool = False,
        tight_unless_header: str | None = None,
        large_body: bool = False,
    ) -> apigw.Method:
        """Add ``verb`` on ``resource``, validated: ``params`` as ``request_parameters``, ``body`` as its model.

        ``no_authorizer`` is the reason this method has no API Gateway
        authorizer, acknowledged (APIG4, COG4) on this method alone.
        ``tight_rate_limit`` puts the route under the web ACL's tight per-IP
        limit (``tight_unless_header``: only requests without that header);
        ``large_body`` lets its bodies pass the 8 KB core-rule-set limit.
        """
        options: dict = {"request_validator": self.validator, "request_parameters": dict(params or {})}
        if body is not None:
            options["request_models"] = {"application/json": body}
        method = resource.add_method(verb, integration, **options)
        if not no_authorizer.strip():
            raise ValueError(f"{verb} {resource.path}: say why the method has no authorizer")
        Validations.of(method).acknowledge(
            Acknowledgment(id="AwsSolutions-APIG4", reason=no_authorizer),
            Acknowledgment(id="AwsSolutions-COG4", reason=f"No Cognito user pool: {no_authorizer}"),
        )
        if tight_unless_header and not tight_rate_limit:
            raise ValueError("tight_unless_header only qualifies tight_rate_limit")
        if self.web_acl is not None:
            if tight_rate_limit:
                self.web_acl.add_tight_route(
                    RouteMatch(method=verb, path=resource.path, unless_header=tight_unless_header))
            if large_body:  # with or without any header
                self.web_acl.add_large_body_route(RouteMatch(method=verb, path=resource.path))
        return method
