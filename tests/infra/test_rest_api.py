"""JsonRestApi: API Gateway's own answers use the handlers' {"error", "message"} JSON, on both APIs."""

from __future__ import annotations

import json

import pytest

from constructs_lib.rest_api import GATEWAY_RESPONSES, RETRY_AFTER

EXPECTED = {
    "MISSING_AUTHENTICATION_TOKEN": ("404", "not_found"),
    "RESOURCE_NOT_FOUND": ("404", "not_found"),
    "BAD_REQUEST_BODY": ("400", "invalid_request"),
    "BAD_REQUEST_PARAMETERS": ("400", "invalid_request"),
    "UNAUTHORIZED": ("401", "unauthorized"),
    "INVALID_API_KEY": ("403", "invalid_api_key"),
    "ACCESS_DENIED": ("403", "access_denied"),
    "EXPIRED_TOKEN": ("403", "access_denied"),
    "INVALID_SIGNATURE": ("403", "access_denied"),
    "WAF_FILTERED": ("403", "access_denied"),
    "REQUEST_TOO_LARGE": ("413", "body_too_large"),
    "UNSUPPORTED_MEDIA_TYPE": ("415", "unsupported_media_type"),
    "THROTTLED": ("429", "throttled"),
    "QUOTA_EXCEEDED": ("429", "throttled"),
    "INTEGRATION_FAILURE": ("502", "bad_gateway"),
    "INTEGRATION_TIMEOUT": ("504", "gateway_timeout"),
    "AUTHORIZER_FAILURE": ("500", "internal_error"),
    "DEFAULT_4XX": (None, "bad_request"),
    "DEFAULT_5XX": (None, "bad_gateway"),
}


def gateway_responses(template: dict) -> dict[str, dict]:
    return {r["Properties"]["ResponseType"]: r["Properties"] for r in template["Resources"].values()
            if r["Type"] == "AWS::ApiGateway::GatewayResponse"}


@pytest.mark.parametrize("stack", ["KvStorageApi", "DepHealthService"])
@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_gateway_response_is_the_error_json(stage, stack, dev_templates, prod_templates):
    template = (dev_templates if stage == "dev" else prod_templates)[stack]
    responses = gateway_responses(template)
    assert set(responses) == set(EXPECTED)
    for kind, (status, code) in EXPECTED.items():
        props = responses[kind]
        assert props.get("StatusCode") == status, kind
        body = json.loads(props["ResponseTemplates"]["application/json"])
        assert set(body) == {"error", "message"} and body["error"] == code and body["message"], kind
        assert props["ResponseParameters"]["gatewayresponse.header.Content-Type"] == "'application/json'"
        retry = props["ResponseParameters"].get("gatewayresponse.header.Retry-After")
        assert (retry == "'1'") == (kind in ("THROTTLED", "INTEGRATION_FAILURE", "INTEGRATION_TIMEOUT",
                                              "DEFAULT_5XX")), kind


def test_the_declared_table_matches_what_is_pinned():
    assert len(GATEWAY_RESPONSES) == len(EXPECTED)
    assert len({response_id for response_id, *_ in GATEWAY_RESPONSES}) == len(EXPECTED)
    assert RETRY_AFTER == {"Throttled", "IntegrationFailure", "IntegrationTimeout", "Default5xx"}


def test_the_kv_api_keeps_the_project_stage_defaults(dev_templates):
    resources = dev_templates["KvStorageApi"]["Resources"].values()
    stage = next(r["Properties"] for r in resources if r["Type"] == "AWS::ApiGateway::Stage")
    assert stage["TracingEnabled"] is True and stage["AccessLogSetting"]["DestinationArn"]
    settings = stage["MethodSettings"][0]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (100, 200)
    assert settings["LoggingLevel"] == "ERROR" and settings["DataTraceEnabled"] is False
    validators = [r for r in resources if r["Type"] == "AWS::ApiGateway::RequestValidator"]
    assert len(validators) == 1
    methods = [r["Properties"] for r in resources if r["Type"] == "AWS::ApiGateway::Method"]
    assert methods and all(m.get("RequestValidatorId") for m in methods)
    signup_model = next(r["Properties"] for k, r in dev_templates["KvStorageApi"]["Resources"].items()
                        if r["Type"] == "AWS::ApiGateway::Model" and "SignupModel" in k)
    assert "plan" not in signup_model["Schema"]["properties"]


# -- production controls: access logs, custom domain, acknowledgements, context ------------------

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0f3c1b1e-0000-4000-8000-000000000001"


def _of_type(template: dict, kind: str) -> dict[str, dict]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _access_logs(template: dict) -> dict:
    [stage] = _of_type(template, "AWS::ApiGateway::Stage").values()
    [ref] = [p["Ref"] for p in stage["Properties"]["AccessLogSetting"]["DestinationArn"]["Fn::Join"][1]
             if isinstance(p, dict) and p.get("Ref") != "AWS::AccountId"]
    return template["Resources"][ref]


@pytest.mark.parametrize("stack", ["KvStorageApi", "DepHealthService"])
def test_prod_access_logs_are_kept_a_year_and_retained(stack, dev_templates, prod_templates):
    prod, dev = _access_logs(prod_templates[stack]), _access_logs(dev_templates[stack])
    assert prod["Properties"]["RetentionInDays"] >= 365
    assert prod["DeletionPolicy"] == "Retain" and prod["UpdateReplacePolicy"] == "Retain"
    assert dev["Properties"]["RetentionInDays"] == 30 and dev["DeletionPolicy"] == "Delete"


@pytest.mark.parametrize("stack", ["KvStorageApi", "DepHealthService"])
def test_without_a_domain_the_execute_api_endpoint_serves(stack, prod_templates):
    template = prod_templates[stack]
    assert not _of_type(template, "AWS::ApiGateway::DomainName")
    assert not _of_type(template, "AWS::ApiGateway::BasePathMapping")
    [api] = _of_type(template, "AWS::ApiGateway::RestApi").values()
    assert "DisableExecuteApiEndpoint" not in api["Properties"]
    assert "execute-api" in json.dumps(template["Outputs"]["ApiUrl"]["Value"])


@pytest.mark.parametrize(("stack", "product"), [("KvStorageApi", "kv"), ("DepHealthService", "dephealth")])
def test_a_custom_domain_uses_tls_1_2_and_disables_execute_api(stack, product):
    from tests.synth import synth

    domain = f"{product}.api.example.com"
    template = synth("prod", ((f"{product}Domain", domain), (f"{product}CertificateArn", CERT)))[stack]
    [name] = _of_type(template, "AWS::ApiGateway::DomainName").values()
    assert name["Properties"] == {"DomainName": domain, "EndpointConfiguration": {"Types": ["REGIONAL"]},
                                  "RegionalCertificateArn": CERT, "SecurityPolicy": "TLS_1_2"}
    [api_id] = _of_type(template, "AWS::ApiGateway::RestApi")
    [stage_id] = _of_type(template, "AWS::ApiGateway::Stage")
    [mapping] = _of_type(template, "AWS::ApiGateway::BasePathMapping").values()
    assert mapping["Properties"]["RestApiId"] == {"Ref": api_id}
    assert mapping["Properties"]["Stage"] == {"Ref": stage_id}
    assert "BasePath" not in mapping["Properties"]  # the domain's root: paths carry no stage
    assert template["Resources"][api_id]["Properties"]["DisableExecuteApiEndpoint"] is True
    assert template["Outputs"]["ApiUrl"]["Value"] == f"https://{domain}/"
    assert "ApiDomainTarget" in template["Outputs"]
    if product == "dephealth":  # links in mail point at the domain, not at the disabled endpoint
        [mailer] = [r["Properties"] for r in _of_type(template, "AWS::Lambda::Function").values()
                    if r["Properties"]["Handler"].endswith("mail_worker.handler")]
        assert mailer["Environment"]["Variables"]["PUBLIC_BASE_URL"] == f"https://{domain}/"


def _protection(context: dict, stage: str, product: str = "kv"):
    import aws_cdk as cdk

    from constructs_lib.rest_api import ApiProtection

    return ApiProtection.from_context(cdk.App(context=context), stage=stage, product=product)


def test_stage_defaults_of_the_context_switches():
    prod, dev = _protection({}, "prod"), _protection({}, "dev")
    assert (prod.waf, prod.reserved_concurrency, prod.domain) == (True, 50, None)
    assert (dev.waf, dev.reserved_concurrency, dev.domain) == (False, None, None)
    assert (prod.rate_limit, prod.tight_rate_limit) == (3000, 100)


def test_context_values_as_the_cli_passes_them():
    p = _protection({"waf": "false", "apiReservedConcurrency": "none", "wafRateLimit": "600"}, "prod")
    assert (p.waf, p.reserved_concurrency, p.rate_limit) == (False, None, 600)
    d = _protection({"waf": "true", "apiReservedConcurrency": "5", "kvDomain": "kv.example.com",
                     "kvCertificateArn": CERT}, "dev")
    assert (d.waf, d.reserved_concurrency, d.domain.name, d.domain.certificate_arn) == (
        True, 5, "kv.example.com", CERT)
    assert _protection({"kvDomain": "kv.example.com", "kvCertificateArn": CERT}, "prod", "dephealth").domain is None


@pytest.mark.parametrize("context", [
    {"kvDomain": "kv.example.com"},  # a domain needs its certificate
    {"kvCertificateArn": CERT},
    {"waf": "maybe"},
    {"apiReservedConcurrency": "0"},  # 0 would throttle every request
    {"wafRateLimit": "5"},  # WAF's minimum is 10
    {"wafRateLimit": "none"},
])
def test_unreadable_context_fails_synth(context):
    from constructs_lib.rest_api import ContextError

    with pytest.raises(ContextError):
        _protection(context, "prod")


def _nag_app(add_routes):
    """A stack with one JsonRestApi under cdk-nag's AwsSolutions pack; ``add_routes(api, integration)``."""
    import tempfile

    import aws_cdk as cdk
    from aws_cdk import aws_apigateway as apigw
    from cdk_nag import AwsSolutionsChecks

    from constructs_lib.rest_api import ApiProtection, JsonRestApi

    app = cdk.App(outdir=tempfile.mkdtemp(prefix="cdk-nag-test-"))
    stack = cdk.Stack(app, "NagProbe", env=cdk.Environment(account="123456789012", region="us-east-1"))
    protection = ApiProtection.from_context(stack, stage="prod", product="probe")
    api = JsonRestApi(stack, "Api", name="probe-prod", stage="prod", description="probe", rate_limit=1,
                      burst_limit=1, protection=protection, waf_off_reason="unused: the web ACL is on")
    add_routes(api, apigw.MockIntegration())
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def test_each_method_states_why_it_has_no_authorizer_and_a_bare_method_is_flagged():
    def reasoned(api, integration):
        api.method(api.root.add_resource("open"), "GET", integration, no_authorizer="public by design: a probe")

    _nag_app(reasoned).synth()  # clean: the method carries its own acknowledgements

    def reasoned_and_bare(api, integration):
        reasoned(api, integration)
        api.root.add_resource("later").add_method("GET", integration)

    with pytest.raises(Exception) as failure:
        _nag_app(reasoned_and_bare).synth()
    report = str(failure.value)
    assert "AwsSolutions-APIG4" in report and "later" in report and "/open/" not in report


def test_a_method_without_a_reason_is_refused():
    def unreasoned(api, integration):
        api.method(api.root.add_resource("open"), "GET", integration, no_authorizer=" ")

    with pytest.raises(ValueError, match="no authorizer"):
        _nag_app(unreasoned)
