"""One deployment of the whole app into MiniStack for the e2e session.

MiniStack starts on a free port with its state under a temporary folder; the
app is deployed with the pinned CDK CLI exactly as ``make deploy`` does it;
the tests drive it as clients do (HTTP, queue messages, stream records,
Lambda Invoke). At the end the endpoint is stopped and no process stays.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tools.local import endpoint
from tools.local import env as local

DEPLOY_TIMEOUT = 600  # seconds, per CDK CLI step


@pytest.fixture(scope="session")
def deployment(tmp_path_factory):
    if shutil.which("npx") is None:
        pytest.fail("npx not found: the e2e tests need Node.js and `make install`")
    from tools.local.deploy import deploy_local

    state = tmp_path_factory.mktemp("local-target")
    port = endpoint.free_port()
    ep = endpoint.start(port, state_dir=state)
    try:
        try:
            result = deploy_local(
                port, "dev", outdir=state / "cdk.out", log=state / "cdk.log",
                # Tests skip the CDK's built-in template validation (as tests/synth.py does).
                extra_env={"CDK_VALIDATION": "false"}, timeout=DEPLOY_TIMEOUT,
            )
        except local.LocalError as exc:
            pytest.fail(f"local deploy failed: {exc}\n--- MiniStack log ---\n{endpoint.log_tail(ep.log)}",
                        pytrace=False)
        result.state_dir = state  # type: ignore[attr-defined]
        yield result
    finally:
        stopped = endpoint.stop(state_dir=state, port=port)
        assert stopped is None or not endpoint.pid_alive(stopped.pid), "MiniStack still running"
        assert not endpoint.port_in_use(port), f"port {port} still open after stop"


@pytest.fixture(scope="session")
def aws(deployment) -> Callable[[str], Any]:
    """``aws("dynamodb")``: a client for the deployment's endpoint."""
    return lambda service: local.client(service, deployment.port)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    raw: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


def request(method: str, url: str, *, body: Any = None, headers: dict | None = None,
            raw: bytes | None = None, timeout: float = 30) -> Answer:
    """One HTTP request as a client sends it; the answer whatever its status."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method, headers={
        **({"content-type": "application/json"} if data is not None else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            status, hdrs, payload = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        status, hdrs, payload = err.code, dict(err.headers), err.read()
    try:
        parsed = json.loads(payload) if payload else None
    except ValueError:
        parsed = None
    return Answer(status, hdrs, parsed, payload)


@pytest.fixture(scope="session")
def http():
    return request


def eventually(check: Callable[[], Any], *, timeout: float = 60, interval: float = 0.5, what: str = "condition"):
    """Poll ``check`` until it returns a truthy value; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def assert_error_shape(answer: Answer, status: int | None = None) -> None:
    """A 4xx/5xx answer carries JSON ``{"error": code, "message": text}``."""
    if status is not None:
        assert answer.status == status, (answer.status, answer.raw[:300])
    assert isinstance(answer.body, dict), answer.raw[:300]
    assert isinstance(answer.body.get("error"), str) and answer.body["error"], answer.body
    assert isinstance(answer.body.get("message"), str) and answer.body["message"], answer.body


@pytest.fixture(scope="session", autouse=True)
def kv_ttl_probe(deployment):
    """A KV key with a 1-second ttl, put through the API at the start of the session.

    MiniStack's TTL reaper runs once a minute; putting the key first lets the
    rest of the session run while it waits (``test_pipelines`` checks it).
    """
    from lambda_src.kv import schema

    kv = deployment.api_url("KvStorage")
    user = request("POST", f"{kv}/users", body={"email": f"ttl-{time.time_ns()}@example.com"}).body
    headers = {"x-api-key": user["apiKey"]}
    ns = f"ttl-{time.time_ns()}"
    assert request("PUT", f"{kv}/namespaces/{ns}", headers=headers).status == 201
    put = request("PUT", f"{kv}/namespaces/{ns}/keys/short-lived", headers=headers, body={"value": 1, "ttl": 1})
    assert put.status == 201, put.raw
    return {"put_at": time.monotonic(), "url": f"{kv}/namespaces/{ns}/keys/short-lived", "headers": headers,
            "key": {"PK": {"S": schema.NS_PK.build(ns=ns)}, "SK": {"S": schema.KEY_SK.build(key="short-lived")}}}
