"""The runtime's shared conventions: the one error mapping, required settings, the clock, pure declarations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from botocore.exceptions import ClientError, EndpointConnectionError

from lambda_src.common import clock, decoding, faults
from lambda_src.common.environment import MissingSetting, required
from lambda_src.common.errors import DomainError
from lambda_src.common.http import FaultAnswers, install_error_handlers, json_body

ROOT = Path(__file__).resolve().parents[2]


class Missing(DomainError):
    pass


class MissingSubtype(Missing):
    pass


class Undeclared(DomainError):
    pass


def _client_error(code: str, status: int = 400, reasons: list[str] | None = None) -> ClientError:
    response: dict = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    if reasons is not None:
        response["CancellationReasons"] = [{"Code": r} for r in reasons]
    return ClientError(response, "AnyOperation")


RAISES = {
    "missing": lambda: Missing("thing_not_found", "no such thing", {"X-Hint": "1"}),
    "subtype": lambda: MissingSubtype("sub_not_found", "no such sub"),
    "undeclared": lambda: Undeclared("odd", "not in the table"),
    "transient": lambda: faults.TransientFault("partial_read", "the table is busy; retry the request", detail="3 keys"),
    "throttled": lambda: _client_error("ProvisionedThroughputExceededException"),
    "conflict": lambda: _client_error("TransactionConflictException"),
    "cancelled": lambda: _client_error("TransactionCanceledException", reasons=["ThrottlingError"]),
    "server": lambda: _client_error("SomethingNew", status=503),
    "defect": lambda: _client_error("AccessDeniedException"),
    "unreachable": lambda: EndpointConnectionError(endpoint_url="https://dynamodb.invalid"),
    "bug": lambda: KeyError("x"),
}


def _app(answers: FaultAnswers | None = None) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()
    install_error_handlers(app, Logger(service="test"), domain_errors={Missing: 404}, fault_answers=answers)

    @app.get("/raise/<kind>")
    def _raise(kind: str):
        raise RAISES[kind]()

    @app.post("/body")
    def _body():
        return {"got": json_body(app)}

    return app


def _call(app, method: str, path: str, body: str | None = None) -> tuple[int, dict, dict]:
    event = {"resource": path, "path": path, "httpMethod": method, "headers": {}, "multiValueHeaders": {},
             "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": None,
             "requestContext": {"stage": "dev", "requestId": "t", "identity": {"sourceIp": "127.0.0.1"}},
             "body": body, "isBase64Encoded": False}
    raw = app.resolve(event, None)
    headers = {k: v[-1] for k, v in (raw.get("multiValueHeaders") or {}).items()}
    headers.update(raw.get("headers") or {})
    return raw["statusCode"], json.loads(raw["body"]), headers


@pytest.mark.parametrize("kind, status, code", [
    ("missing", 404, "thing_not_found"),
    ("subtype", 404, "sub_not_found"),  # the nearest declared base class counts
    ("undeclared", 500, "internal_error"),  # a domain error without a status is a defect
    ("transient", 503, "partial_read"),
    ("throttled", 503, "throttled"),
    ("conflict", 503, "unavailable"),  # no conflict wording: answered as unavailable
    ("cancelled", 503, "unavailable"),
    ("server", 503, "unavailable"),  # any 5xx from AWS is retryable
    ("defect", 500, "internal_error"),
    ("unreachable", 503, "unavailable"),
    ("bug", 500, "internal_error"),
])
def test_the_shared_mapping_answers_each_kind_of_failure(kind, status, code):
    got_status, body, headers = _call(_app(), "GET", f"/raise/{kind}")
    assert (got_status, body["error"]) == (status, code)
    assert set(body) == {"error", "message"} and body["message"]
    assert ("Retry-After" in headers) == (status == 503)
    if kind == "missing":
        assert headers["X-Hint"] == "1" and body["message"] == "no such thing"
    if status == 500:
        assert "Traceback" not in body["message"] and "KeyError" not in body["message"]


def test_a_product_names_its_own_fault_answers():
    answers = FaultAnswers(throttled=("throttled", "slow down"), unavailable=("service_unavailable", "failed"),
                           conflict=("busy", "held"), unreachable=("service_unavailable", "unreachable"))
    app = _app(answers)
    assert _call(app, "GET", "/raise/conflict")[1] == {"error": "busy", "message": "held"}
    assert _call(app, "GET", "/raise/cancelled")[1] == {"error": "busy", "message": "held"}
    assert _call(app, "GET", "/raise/server")[1] == {"error": "service_unavailable", "message": "failed"}
    assert _call(app, "GET", "/raise/unreachable")[1] == {"error": "service_unavailable", "message": "unreachable"}
    assert _call(app, "GET", "/raise/throttled")[1] == {"error": "throttled", "message": "slow down"}


def test_bodies_routes_and_decode_errors():
    app = _app()
    assert _call(app, "POST", "/body", '{"a": 1}')[:2] == (200, {"got": {"a": 1}})
    assert _call(app, "POST", "/body", None)[:2] == (200, {"got": {}})
    assert _call(app, "POST", "/body", "[1]")[1]["error"] == "invalid_json"
    status, body, _ = _call(app, "POST", "/body", " " * (decoding.MAX_BODY_BYTES + 1))
    assert (status, body["error"]) == (413, "body_too_large")
    assert _call(app, "GET", "/nowhere")[:2] == (404, {"error": "not_found", "message": "no such route"})


def test_a_missing_setting_names_the_variable(monkeypatch):
    monkeypatch.delenv("SOME_TABLE", raising=False)
    with pytest.raises(MissingSetting, match="environment variable SOME_TABLE is not set"):
        required("SOME_TABLE")
    monkeypatch.setenv("SOME_TABLE", "")
    with pytest.raises(MissingSetting, match="SOME_TABLE"):
        required("SOME_TABLE")
    monkeypatch.setenv("SOME_TABLE", "t")
    assert required("SOME_TABLE") == "t"


@pytest.mark.parametrize("variable", ["TABLE_NAME", "GSI_NAME"])
def test_the_kv_handler_refuses_to_run_without_its_table_settings(monkeypatch, variable):
    from lambda_src.kv import api, usage

    monkeypatch.setenv("TABLE_NAME", "kv-storage-data")
    monkeypatch.setenv("GSI_NAME", "GSI1")
    monkeypatch.delenv(variable)
    with pytest.raises(MissingSetting, match=variable):
        api.handler({"httpMethod": "GET", "path": "/me"}, _Context())
    with pytest.raises(MissingSetting, match=variable):
        usage.table_name() if variable == "TABLE_NAME" else usage.spec()


@pytest.mark.parametrize("variable", ["PACKAGES_TABLE", "API_KEYS_TABLE"])
@pytest.mark.parametrize("module", ["auth_api", "packages_api", "dlq", "mail_worker", "monthly_reset"])
def test_every_dephealth_handler_refuses_to_run_without_its_table_settings(monkeypatch, module, variable):
    import importlib

    from lambda_src.dephealth import config

    handler = importlib.import_module(f"lambda_src.dephealth.{module}").handler
    monkeypatch.setenv("PACKAGES_TABLE", "dephealth-packages")
    monkeypatch.setenv("API_KEYS_TABLE", "dephealth-api-keys")
    monkeypatch.delenv(variable)
    with pytest.raises(MissingSetting, match=variable):
        handler({"Records": []}, _Context())
    accessor = config.packages_table if variable == "PACKAGES_TABLE" else config.api_keys_table
    with pytest.raises(MissingSetting, match=variable):
        accessor()


class _Context:
    function_name, memory_limit_in_mb, aws_request_id = "test", 128, "req"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def test_the_clock_is_patched_in_one_place(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: 1_763_463_999.1234)  # 2025-11-18T11:06:39.123Z
    assert clock.iso_millis() == "2025-11-18T11:06:39.123Z"
    assert clock.iso_seconds() == "2025-11-18T11:06:39Z"
    assert (clock.hour(), clock.month()) == ("2025-11-18T11", "2025-11")
    assert clock.utc_now() == clock.utc()
    assert clock.iso_millis(0) == "1970-01-01T00:00:00.000Z"

    from lambda_src.kv import plans
    assert plans.current_month() == "2025-11"


@pytest.mark.parametrize("module", ["lambda_src.kv.declarations", "lambda_src.dephealth.declarations",
                                    "lambda_src.iops.declarations", "lambda_src.kv.plans",
                                    "lambda_src.common.errors"])
def test_declarations_the_stacks_read_are_pure(module):
    """Importing them pulls in neither boto3 nor Powertools: the stacks and tools read them cheaply."""
    heavy = ("boto3", "botocore", "aws_lambda_powertools")
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_stacks_set_what_the_declarations_say(dev_templates):
    from lambda_src.dephealth import declarations as dephealth
    from lambda_src.kv import declarations as kv

    functions = [r["Properties"] for t in dev_templates.values() for r in t["Resources"].values()
                 if r["Type"] == "AWS::Lambda::Function"]
    envs = [f["Environment"]["Variables"] for f in functions]
    kv_env = next(env for env in envs if kv.TABLE_NAME_VAR in env)
    assert {kv.TABLE_NAME_VAR, kv.GSI_NAME_VAR} <= set(kv_env)
    assert kv_env[kv.READ_FLUSH_EVERY_VAR] == str(kv.DEFAULT_READ_FLUSH_EVERY)
    dephealth_envs = [env for env in envs if env.get("POWERTOOLS_SERVICE_NAME") == "dephealth"]
    assert dephealth_envs and all(set(dephealth.TABLE_VARS) <= set(env) for env in dephealth_envs)
    assert any(env.get(dephealth.DLQ_MAX_ATTEMPTS_VAR) == str(dephealth.DLQ_MAX_ATTEMPTS) for env in dephealth_envs)
    assert any(dephealth.MAIL_FROM_VAR in env and dephealth.PUBLIC_BASE_URL_VAR in env for env in dephealth_envs)
    assert any(dephealth.MAIL_QUEUE_URL_VAR in env for env in dephealth_envs)
    assert kv.CURSOR_SECRET_ARN_VAR in kv_env


def test_the_iops_stacks_set_what_its_declarations_say(dev_templates):
    from lambda_src.iops import declarations as iops

    handlers = {r["Properties"]["Handler"]: r["Properties"]["Environment"]["Variables"]
                for t in dev_templates.values() for r in t["Resources"].values()
                if r["Type"] == "AWS::Lambda::Function" and r["Properties"]["Handler"].startswith("lambda_src.iops.")}
    assert iops.METRICS_TABLE_VAR in handlers["lambda_src.iops.ingest.handler"]
    assert iops.METRICS_TABLE_VAR in handlers["lambda_src.iops.recompute.handler"]
    assert {iops.INSIGHTS_TABLE_VAR, iops.ALERT_TOPIC_ARN_VAR} <= set(handlers["lambda_src.iops.insights.handler"])
