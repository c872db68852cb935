"""The deployment as a whole: stacks, the plain CDK CLI against it, Lambda Invoke, the CLI's errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools.local import env as local
from tools.local.cdk import CDK, cdk_env

pytestmark = pytest.mark.e2e
EVENTS = Path(__file__).parent / "events"


def test_every_stack_is_deployed(deployment, aws):
    status = {s["StackName"]: s["StackStatus"] for s in aws("cloudformation").describe_stacks()["Stacks"]}
    for stack in deployment.stacks:
        assert status.get(stack.stack_name) in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), (stack.stack_name, status)


def test_both_rest_apis_have_a_local_url(deployment):
    urls = {api.stack: api.url for api in deployment.of_kind("api")}
    assert set(urls) == {"DepHealth-dev-Service", "KvStorage-dev-Api"}, urls
    for url in urls.values():
        assert url.startswith(f"http://localhost:{deployment.port}/_aws/execute-api/") and url.endswith("/dev")


def test_plain_cdk_diff_reports_no_differences(deployment):
    """`npx cdk diff` with only the README's environment: nothing to deploy after `make deploy`."""
    env = cdk_env(local.local_env(deployment.port))
    env["CDK_VALIDATION"] = "false"
    out = deployment.state_dir / "cdk.out.diff"
    proc = subprocess.run(CDK + ["diff", "--output", str(out), "-c", "stage=dev"], cwd=local.ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-3000:]
    assert "Number of stacks with differences: 0" in text, text[-3000:]


def _cli(deployment, *argv, stdin: str | None = None):
    return subprocess.run(
        [sys.executable, "-m", "tools.local", *argv, "--port", str(deployment.port)],
        cwd=local.ROOT, capture_output=True, text=True, timeout=180, input=stdin,
    )


def test_make_invoke_runs_the_deployed_function_through_the_lambda_api(deployment, aws):
    proc = _cli(deployment, "invoke", "--function", "ApiHandler", "--event", str(EVENTS / "kv-create-user.json"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    response = json.loads(proc.stdout)  # the response alone; logs go to stderr
    assert response["statusCode"] == 201, response
    user_id = json.loads(response["body"])["userId"]
    kv = next(t for t in deployment.tables if t.spec is not None and t.spec.alias.startswith("kv."))
    item = aws("dynamodb").get_item(TableName=kv.name, Key={"PK": {"S": f"USER#{user_id}"}, "SK": {"S": "METADATA"}})
    assert "Item" in item, "the deployed function wrote to the deployed table"


@pytest.mark.parametrize("args,needle", [
    (("--function", "NoSuchFunction", "--event", str(EVENTS / "kv-create-user.json")), "no function matches"),
    (("--function", "ApiHandler", "--event", "/nonexistent/event.json"), "cannot read event file"),
    (("--function", "ApiHandler", "--event", "-"), "is not JSON"),
])
def test_make_invoke_bad_input_is_one_line(deployment, args, needle):
    proc = _cli(deployment, "invoke", *args, stdin="{not json")
    assert proc.returncode != 0
    assert needle in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_make_invoke_refuses_an_event_that_is_not_an_object(deployment):
    proc = _cli(deployment, "invoke", "--function", "ApiHandler", "--event", "-", stdin="[1, 2]")
    assert proc.returncode != 0 and "JSON object" in proc.stderr and "Traceback" not in proc.stderr


def test_make_status_lists_the_stacks(deployment):
    proc = _cli(deployment, "status")
    assert proc.returncode == 0, proc.stderr
    for stack in deployment.stacks:
        assert stack.stack_name in proc.stdout
