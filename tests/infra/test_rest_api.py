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
