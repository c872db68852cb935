"""Malformed or missing parameters on every route: a 4xx JSON error, never a 500."""

from __future__ import annotations

import base64
import json

import pytest

from lambda_src.dephealth import auth_api, packages_api

from .conftest import api_event, call

LONG = "a" * 300
DEEP_CURSOR = base64.urlsafe_b64encode(("[" * 1000 + "]" * 1000).encode()).decode().rstrip("=")
SURROGATE_CURSOR = base64.urlsafe_b64encode(
    b'{"pk": "npm#x", "sk": "LATEST", "risk_level": "high", "last_updated": "\\ud800"}').decode().rstrip("=")
CASES = [
    # (handler, fixture, overrides, status, error)
    (auth_api, "signup", {"raw_body": "{not json"}, 400, "invalid_json"),
    (auth_api, "signup", {"raw_body": "[1, 2]"}, 400, "invalid_json"),
    (auth_api, "signup", {"body": {}}, 400, "invalid_email"),
    (auth_api, "signup", {"body": {"email": "not-an-email"}}, 400, "invalid_email"),
    (auth_api, "signup", {"body": {"email": 42}}, 400, "invalid_email"),
    (auth_api, "verify", {"query": {}}, 400, "invalid_token"),
    (auth_api, "verify", {"query": {"token": "short"}}, 400, "invalid_token"),
    (auth_api, "verify", {"query": {"token": "valid-looking-but-unknown-token-xyz"}}, 400, "invalid_token"),
    (auth_api, "magic_link", {"raw_body": ""}, 400, "invalid_email"),
    (auth_api, "magic_link", {"body": {"email": ["a@b.co"]}}, 400, "invalid_email"),
    (auth_api, "callback", {"query": {}}, 400, "invalid_token"),
    (auth_api, "callback", {"query": {"token": LONG}}, 400, "invalid_token"),
    (auth_api, "callback", {"query": {"token": "bad token with spaces!!"}}, 400, "invalid_token"),
    (packages_api, "package_get", {"path_params": {"ecosystem": "NPM!", "name": "express"}}, 400, "invalid_ecosystem"),
    (packages_api, "package_get", {"path_params": {"ecosystem": "npm", "name": "-bad"}}, 400, "invalid_package_name"),
    (packages_api, "package_get", {"headers": {"x-api-key": "x"}}, 401, "invalid_api_key"),
    (packages_api, "packages_by_risk", {"query": {}}, 400, "invalid_risk_level"),
    (packages_api, "packages_by_risk", {"query": {"risk_level": "spicy"}}, 400, "invalid_risk_level"),
    (packages_api, "packages_by_risk", {"query": {"risk_level": "high", "limit": "0"}}, 400, "invalid_limit"),
    (packages_api, "packages_by_risk", {"query": {"risk_level": "high", "limit": "many"}}, 400, "invalid_limit"),
    (packages_api, "packages_by_risk", {"query": {"risk_level": "high", "cursor": "%%%"}}, 400, "invalid_cursor"),
    (packages_api, "packages_by_risk", {"query": {"risk_level": "high", "cursor": "e30"}}, 400, "invalid_cursor"),
    (packages_api, "packages_batch", {"raw_body": "nope"}, 400, "invalid_json"),
    (packages_api, "packages_batch", {"body": {}}, 400, "invalid_packages"),
    (packages_api, "packages_batch", {"body": {"packages": []}}, 400, "invalid_packages"),
    (packages_api, "packages_batch", {"body": {"packages": ["npm/express"]}}, 400, "invalid_packages"),
    (packages_api, "packages_batch", {"body": {"packages": [{"ecosystem": "npm"}]}}, 400, "invalid_package_name"),
    (packages_api, "packages_batch", {"body": {"packages": [{"ecosystem": "npm", "name": "x"}] * 1001}},
     400, "invalid_packages"),
    # lone surrogates, deep nesting, Unicode digits, oversized fields
    (auth_api, "signup", {"raw_body": '{"email": "a\\ud800@example.com"}'}, 400, "invalid_json"),
    (auth_api, "magic_link", {"raw_body": '{"email": "a\\udfff@example.com"}'}, 400, "invalid_json"),
    (auth_api, "signup", {"raw_body": '{"email": ' + "[" * 1000 + "]" * 1000 + "}"}, 400, "invalid_json"),
    (auth_api, "signup", {"body": {"email": "a" * 250 + "@example.com"}}, 400, "invalid_email"),
    (packages_api, "packages_batch", {"raw_body": '{"packages": ' + "[" * 1000 + "]" * 1000 + "}"},
     400, "invalid_json"),
    (packages_api, "packages_by_risk", {"query": {"risk_level": "high", "limit": "²"}}, 400, "invalid_limit"),
    (packages_api, "packages_by_risk", {"query": {"risk_level": "high", "limit": "①"}}, 400, "invalid_limit"),
    (packages_api, "packages_by_risk", {"query": {"risk_level": "high", "cursor": DEEP_CURSOR}}, 400,
     "invalid_cursor"),
    (packages_api, "packages_by_risk", {"query": {"risk_level": "high", "cursor": SURROGATE_CURSOR}}, 400,
     "invalid_cursor"),
    (packages_api, "package_get", {"headers": {"x-api-key": "dh_\ud800_and_more"}}, 401, "invalid_api_key"),
]


@pytest.mark.parametrize("module,fixture,overrides,status,error", CASES,
                         ids=[f"{c[1]}-{c[4]}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_is_a_json_4xx(aws, mailbox, module, fixture, overrides, status, error):
    got_status, body = call(module.handler, api_event(fixture, **overrides))
    assert (got_status, body["error"]) == (status, error)
    assert set(body) == {"error", "message"} and body["message"]


@pytest.mark.parametrize("module,method,path", [(auth_api, "GET", "/nope"), (auth_api, "DELETE", "/signup"),
                                                (packages_api, "PUT", "/packages/npm/x")])
def test_unknown_routes_are_a_json_404(aws, module, method, path):
    event = api_event("signup")
    event.update(httpMethod=method, path=path, resource=path)
    status, body = call(module.handler, event)
    assert (status, body["error"]) == (404, "not_found")


def test_every_fixture_event_is_valid_json_with_a_route():
    from .conftest import EVENTS

    names = sorted(p.stem for p in EVENTS.glob("*.json"))
    assert {"signup", "verify", "magic_link", "callback", "package_get", "packages_by_risk",
            "packages_batch", "sqs_collector", "scheduled_reset"} <= set(names)
    for name in names:
        json.loads((EVENTS / f"{name}.json").read_text())


@pytest.mark.parametrize("value", ["a\ud800@example.com", "\udfff@example.io", "x@\ud83d.example.com"])
def test_the_email_validator_refuses_text_that_cannot_be_encoded(value):
    """The queue message and the mail worker reach it without the body decoder in front."""
    from lambda_src.dephealth import mail_worker, validation
    from lambda_src.dephealth.errors import InvalidInput

    with pytest.raises(InvalidInput) as raised:
        validation.email(value)
    assert raised.value.code == "invalid_email"
    assert mail_worker.parse(json.dumps({"kind": "signup", "email": "ok@example.com"})) == ("signup", "ok@example.com")
