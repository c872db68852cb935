"""Call the KV handler in-process with API Gateway REST events, on the moto tables."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

import pytest

from tests.synth import synth


def table_env() -> dict[str, str]:
    """TABLE_NAME / GSI_NAME exactly as the synthesized function's environment sets them."""
    for resource in synth("dev")["KvStorageApi"]["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function":
            variables = resource["Properties"]["Environment"]["Variables"]
            return {k: variables[k] for k in ("TABLE_NAME", "GSI_NAME")}
    raise AssertionError("no KV function in the template")


def event(method: str, path: str, *, body=None, headers=None, query=None) -> dict:
    return {
        "resource": path, "path": path, "httpMethod": method,
        "headers": headers or {}, "multiValueHeaders": {k: [v] for k, v in (headers or {}).items()},
        "queryStringParameters": query, "multiValueQueryStringParameters":
            {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None, "stageVariables": None,
        "requestContext": {"stage": "dev", "requestId": "test", "httpMethod": method, "path": path,
                           "resourcePath": path, "identity": {"sourceIp": "127.0.0.1"}},
        "body": body if (body is None or isinstance(body, str)) else json.dumps(body),
        "isBase64Encoded": False,
    }


@dataclass
class LambdaContext:
    """What the Lambda runtime hands the handler (the fields Powertools' logger reads)."""

    function_name: str = "kv-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:kv-test"
    aws_request_id: str = "req-1"


@dataclass
class Reply:
    status: int
    body: dict
    headers: dict


class Client:
    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key

    def call(self, method: str, path: str, *, body=None, headers=None, query=None, key=...) -> Reply:
        from lambda_src.kv.api import handler

        headers = dict(headers or {})
        api_key = self.api_key if key is ... else key
        if api_key:
            headers["x-api-key"] = api_key
        raw = handler(event(method, path, body=body, headers=headers, query=query), LambdaContext())
        out_headers = {k: v[-1] for k, v in (raw.get("multiValueHeaders") or {}).items()}
        out_headers.update(raw.get("headers") or {})
        return Reply(raw["statusCode"], json.loads(raw["body"]), out_headers)

    def signup(self, email="owner@example.com") -> Client:
        reply = self.call("POST", "/users", body={"email": email}, key=None)
        assert reply.status == 201, reply
        return Client(reply.body["apiKey"])


@pytest.fixture
def cursor_secret(aws, monkeypatch):
    """The per-deployment cursor secret in (moto) Secrets Manager, read afresh by the handler."""
    import boto3

    from lambda_src.kv import cursor

    arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="kv-cursor-test", SecretString="s3cret-" + "x" * 57)["ARN"]
    monkeypatch.setenv("KV_CURSOR_HMAC_ARN", arn)
    cursor.reset_secret()
    yield arn
    cursor.reset_secret()


@pytest.fixture
def kv(aws, cursor_secret, monkeypatch):
    """A signed-up free-plan client; reads are metered with flush_every=1 unless a test changes it.

    Signups are limited per source address; tests that are not about that
    limit raise it (``KV_SIGNUPS_PER_HOUR``).
    """
    from lambda_src.kv.meter import METER

    for name, value in table_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KV_SIGNUPS_PER_HOUR", "100000")
    METER.reset()
    monkeypatch.setattr(METER, "flush_every", 1)
    yield Client().signup()
    METER.reset()


@pytest.fixture
def anon(kv):
    return Client()


@pytest.fixture
def serialized_moto(monkeypatch):
    """Make each AWS request atomic, as DynamoDB's are: moto handles one request at a time.

    Threads still interleave freely between requests, which is what a race
    test exercises; without this, moto's own non-atomic request handling
    would race and the test would fail for moto's reasons.
    """
    import botocore.client

    lock = threading.Lock()
    original = botocore.client.BaseClient._make_api_call

    def serialized(self, operation_name, api_params):
        with lock:
            return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", serialized)
    yield lock
