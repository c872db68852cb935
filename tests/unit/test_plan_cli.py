"""``python -m tools.plan`` end to end: bad input answers in one line, HEAD has no changes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from botocore.stub import Stubber

from tools.plan.baseline import ROOT, PlanError, deployed, resolve, same_synth_inputs


def plan(*args, timeout=300):
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    return subprocess.run(
        [sys.executable, "-m", "tools.plan", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env,
    )


def assert_one_line_failure(proc, contains):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert contains in lines[0]


@pytest.mark.parametrize("ref", ["no-such-branch-anywhere", "0" * 40, "main~100000"])
def test_a_base_ref_that_does_not_exist(ref):
    assert_one_line_failure(plan("--base", ref), "does not name a commit")


def test_a_base_that_looks_like_an_option():
    assert_one_line_failure(plan("--base=--output=x"), "is not a git ref")


def test_a_usage_error_is_one_line():
    assert_one_line_failure(plan("--target", "mars"), "invalid choice")


def test_a_local_target_that_is_not_running():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: nothing answers there
        proc = plan("--target", "local", "--port", str(port), timeout=60)
    assert_one_line_failure(proc, f"not running on http://localhost:{port}")


def test_an_unreadable_acknowledgement_file(tmp_path):
    bad = tmp_path / "acks.json"
    bad.write_text('{"acknowledgements": [{"stack": "x"}]}')
    assert_one_line_failure(plan("--acknowledgements", str(bad)), "missing or empty")


def _commit_with(path: str, content: str) -> str:
    """A commit (on no branch) of HEAD's tree with one file replaced."""
    def git(*args, **kw):
        return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True,
                              text=True, **kw).stdout.strip()

    index = ROOT / ".local" / f"plan-test-index-{os.getpid()}"
    index.parent.mkdir(exist_ok=True)
    env = {**os.environ, "GIT_INDEX_FILE": str(index)}
    try:
        blob = git("hash-object", "-w", "--stdin", input=content)
        git("read-tree", "HEAD", env=env)
        git("update-index", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = git("write-tree", env=env)
        return git("commit-tree", tree, "-p", "HEAD", "-m", "plan test base", env=env)
    finally:
        index.unlink(missing_ok=True)


def test_a_base_that_cannot_be_synthesized():
    commit = _commit_with("app.py", "raise SystemExit('this app does not build')\n")
    proc = plan("--base", commit)
    assert_one_line_failure(proc, f"base {commit} ({commit[:12]}) cannot be synthesized")
    assert "this app does not build" in proc.stderr


def test_plan_against_head_finds_no_stateful_changes():
    if not same_synth_inputs(resolve("HEAD")):
        pytest.skip("the working tree's synth inputs differ from HEAD")
    proc = plan("--base", "HEAD", "--full")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("plan: no stateful changes against HEAD"), proc.stdout


# -- the deployed baseline, through a stubbed CloudFormation client ---------------


def _client():
    import boto3

    return boto3.client("cloudformation", region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def _table(name, indexes):
    return {"Type": "AWS::DynamoDB::Table", "Properties": {
        "TableName": name,
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "GlobalSecondaryIndexes": [
            {"IndexName": i, "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "ALL"}} for i in indexes
        ],
    }}


def _stack(name, tags=()):
    return {"StackName": name, "CreationTime": "2026-11-23T00:00:00Z",
            "StackStatus": "UPDATE_COMPLETE", "Tags": [{"Key": k, "Value": v} for k, v in tags]}


def test_deployed_templates_are_grouped_by_stage_and_other_stacks_ignored():
    import json

    head = {"dev": {"DepHealth-dev-Data": {"Resources": {}}}}
    client = _client()
    with Stubber(client) as stub:
        stub.add_response("describe_stacks", {"Stacks": [
            _stack("DepHealth-dev-Data"),
            _stack("Someone-Else"),
            _stack("MyFusion-dev-Data", [("project", "dynamodb-data-layer"), ("stage", "dev")]),
        ]})
        for name in ("DepHealth-dev-Data", "MyFusion-dev-Data"):
            body = {"Resources": {"T": _table(name.lower(), ["a-index"])}}
            stub.add_response("get_template", {"TemplateBody": json.dumps(body)},
                              {"StackName": name, "TemplateStage": "Original"})
        out = deployed("local", 4566, head, client)
        stub.assert_no_pending_responses()
    assert sorted(out) == ["dev"]
    assert sorted(out["dev"]) == ["DepHealth-dev-Data", "MyFusion-dev-Data"]
    assert out["dev"]["MyFusion-dev-Data"]["Resources"]["T"]["Properties"]["TableName"] == (
        "myfusion-dev-data"
    )


def test_a_deployed_read_failure_is_one_plan_error():
    client = _client()
    with Stubber(client) as stub:
        stub.add_client_error("describe_stacks", "AccessDenied", "not allowed")
        with pytest.raises(PlanError, match="cannot read the deployed stacks from the AWS account"):
            deployed("aws", 4566, {}, client)
