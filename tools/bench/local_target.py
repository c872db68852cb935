"""The running system on the local target: deploy time, HTTP latency against a floor, pipeline time.

Starts a fresh MiniStack on a free port, times ``deploy_local`` (the same
steps as ``make deploy``), then measures over HTTP:

- warm latency (p50/p95) of KV ``GET /namespaces/{ns}/keys/{key}`` and of
  DepHealth ``GET /packages/{ecosystem}/{name}`` with an API key;
- the floor: the same emulator and API Gateway in front of a function that
  returns a constant, created beside the app for this run;
- the IOps pipeline: ``SendMessage`` to the ingest queue until the insight
  the stream consumer writes is readable.

The endpoint is stopped at the end, whatever happens.
"""

from __future__ import annotations

import io
import json
import statistics
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tools.local import endpoint, mail
from tools.local import env as local

FLOOR_HANDLER = "def handler(event, context):\n    return {'statusCode': 200, 'body': '{\"ok\": true}'}\n"


def _get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _send(method: str, url: str, body: Any = None, headers: dict | None = None) -> tuple[int, Any]:
    import urllib.error
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def latency(call: Callable[[], tuple[int, bytes]], n: int, warmup: int = 5) -> dict:
    """p50/p95 in ms of ``n`` sequential warm calls; every call must answer 200."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        status, body = call()
        samples.append((time.perf_counter() - start) * 1000)
        if status != 200:
            raise RuntimeError(f"answered {status}: {body[:200]!r}")
    samples.sort()
    return {"n": n, "p50": statistics.median(samples), "p95": samples[int(0.95 * (n - 1))]}


def floor_api(port: int) -> str:
    """A REST API whose one proxy route is a function returning a constant; its base URL."""
    lam, apigw, iam = (local.client(s, port) for s in ("lambda", "apigateway", "iam"))
    suffix = uuid.uuid4().hex[:6]
    role = iam.create_role(RoleName=f"bench-floor-{suffix}", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("floor.py", FLOOR_HANDLER)
    fn = lam.create_function(FunctionName=f"bench-floor-{suffix}", Runtime="python3.11", Role=role,
                             Handler="floor.handler", Code={"ZipFile": buffer.getvalue()}, Timeout=10)["FunctionArn"]
    api = apigw.create_rest_api(name=f"bench-floor-{suffix}")["id"]
    root = next(r["id"] for r in apigw.get_resources(restApiId=api)["items"] if r["path"] == "/")
    proxy = apigw.create_resource(restApiId=api, parentId=root, pathPart="{proxy+}")["id"]
    apigw.put_method(restApiId=api, resourceId=proxy, httpMethod="ANY", authorizationType="NONE")
    apigw.put_integration(restApiId=api, resourceId=proxy, httpMethod="ANY", type="AWS_PROXY",
                          integrationHttpMethod="POST",
                          uri=f"arn:aws:apigateway:{local.REGION}:lambda:path/2015-03-31/functions/{fn}/invocations")
    apigw.create_deployment(restApiId=api, stageName="floor")
    return local.api_url(port, api, "floor")


def kv_target(kv: str) -> tuple[str, dict]:
    status, user = _send("POST", f"{kv}/users", {"email": f"bench-{uuid.uuid4().hex[:8]}@example.com"})
    assert status == 201, user
    headers = {"x-api-key": user["apiKey"]}
    ns = f"bench-{uuid.uuid4().hex[:8]}"
    assert _send("PUT", f"{kv}/namespaces/{ns}", headers=headers)[0] == 201
    assert _send("PUT", f"{kv}/namespaces/{ns}/keys/k", {"value": {"x": 1}}, headers)[0] == 201
    return f"{kv}/namespaces/{ns}/keys/k", headers


def dephealth_key(port: int, api: str) -> dict:
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    status, body = _send("POST", f"{api}/signup", {"email": email})
    assert status == 202, body
    token = mail.wait_for_token(port, "/verify", to=email, timeout=60)
    status, body = _send("GET", f"{api}/verify?token={token}")
    assert status == 201, body
    return {"x-api-key": body["api_key"]}


def pipeline_seconds(port: int, result, runs: int = 3) -> list[float]:
    """SendMessage (3 sessions, then 6 IB calls) until the churn_risk insight is readable."""
    sqs, ddb = local.client("sqs", port), local.client("dynamodb", port)
    queue = result.queue_url("IngestQueue")
    insights = next(t.name for t in result.tables if t.spec is not None and t.spec.alias == "iops.insights")
    metrics = next(t.name for t in result.tables if t.spec is not None and t.spec.alias == "iops.metrics")
    return [_pipeline_once(sqs, ddb, queue, metrics, insights) for _ in range(runs)]


def _pipeline_once(sqs, ddb, queue: str, metrics: str, insights: str) -> float:
    """One new student: 3 sessions (waited for in the metrics), then the seconds from 6 IB calls to the
    churn_risk insight."""
    student = f"stu_bench_{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def send(kind: str, n: int, **extra) -> None:
        sqs.send_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": json.dumps(
            {"event_id": f"{student}-{kind}-{i}", "type": kind, "timestamp": now, "student_id": student, **extra})}
            for i in range(n)])

    send("session_completed", 3, rating=3)
    key = {"entity_id": {"S": student}, "entity_type": {"S": "student"}}
    _wait(lambda: (item := ddb.get_item(TableName=metrics, Key=key).get("Item"))
          and item["sessions_7d"]["N"] == "3")
    start = time.perf_counter()
    send("ib_call", 6)
    _wait(lambda: any(i["prediction_type"]["S"] == "churn_risk" for i in ddb.query(
        TableName=insights, KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": f"insight#{student}"}})["Items"]), interval=0.05)
    return time.perf_counter() - start


def _wait(check: Callable[[], Any], timeout: float = 120, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the pipeline did not finish in time")
        time.sleep(interval)


def run(n: int = 200) -> dict:
    """Deploy into a fresh MiniStack and measure; the endpoint is stopped at the end."""
    from tools.local.deploy import deploy_local

    state = Path(tempfile.mkdtemp(prefix="bench-local-"))
    port = endpoint.free_port()
    started = time.perf_counter()
    endpoint.start(port, state_dir=state)
    try:
        result = deploy_local(port, "dev", outdir=state / "cdk.out", log=state / "cdk.log")
        deploy_s = time.perf_counter() - started
        floor_url = floor_api(port)
        kv_url, kv_headers = kv_target(result.api_url("KvStorage"))
        dh = result.api_url("DepHealth")
        dh_headers = dephealth_key(port, dh)
        rows = {
            "floor (constant function)": latency(lambda: _get(f"{floor_url}/x"), n),
            "KV GET key": latency(lambda: _get(kv_url, kv_headers), n),
            "DepHealth GET package": latency(lambda: _get(f"{dh}/packages/npm/express", dh_headers), n),
        }
        pipeline = pipeline_seconds(port, result)
        return {"deploy_s": deploy_s, "timings": result.timings, "latency": rows, "pipeline_s": pipeline}
    finally:
        endpoint.stop(state_dir=state, port=port)


def section(figures: dict) -> list[str]:
    lines = ["## The running system on the local target (MiniStack)", "",
             "`make bench` (tools/bench/local_target.py): a fresh MiniStack on a free port, the app deployed "
             "as `make deploy` does, then sequential warm requests over HTTP through the emulator's API Gateway.",
             "", f"`make deploy` steps, fresh endpoint, after install: {figures['deploy_s']:.1f} s "
             f"(synth {figures['timings']['synth']:.1f} s with bootstrap alongside, "
             f"deploy {figures['timings']['deploy']:.1f} s, data {figures['timings']['data']:.1f} s; target < 60 s).",
             "", "| route | requests | p50 ms | p95 ms | p50 vs floor |", "|---|---|---|---|---|"]
    floor = figures["latency"]["floor (constant function)"]["p50"]
    for name, row in figures["latency"].items():
        lines.append(f"| {name} | {row['n']} | {row['p50']:.1f} | {row['p95']:.1f} | {row['p50'] / floor:.2f}x |")
    pipeline = figures["pipeline_s"]
    lines += ["", f"IOps pipeline, `SendMessage` of 6 IB calls to the churn_risk insight being readable "
              f"(SQS poll → ingest → metrics stream → consumer → insights), {len(pipeline)} runs: "
              f"median {statistics.median(pipeline):.2f} s, max {max(pipeline):.2f} s.", ""]
    return lines


if __name__ == "__main__":
    print("\n".join(section(run())))
