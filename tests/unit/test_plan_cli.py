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
    # A fixed identity and date: the same HEAD and content give the same commit (and cache entry).
    env = {**os.environ, "GIT_INDEX_FILE": str(index), "GIT_AUTHOR_NAME": "plan test",
           "GIT_AUTHOR_EMAIL": "plan-test@example.invalid", "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
           "GIT_COMMITTER_NAME": "plan test", "GIT_COMMITTER_EMAIL": "plan-test@example.invalid",
           "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}
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
    # Real synthesis of both sides is covered by the end-to-end test below (and by
    # the baseline builder's); here the command as `make plan BASE=HEAD` runs it.
    if not same_synth_inputs(resolve("HEAD")):
        pytest.skip("the working tree's synth inputs differ from HEAD")
    proc = plan("--base", "HEAD")
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


# -- real bases with stateful changes --------------------------------------------

_INDEX_LOOP = "        for index in spec.indexes:\n            self.table.add_global_secondary_index("
_TTL_LINE = "            time_to_live_attribute=spec.ttl_attribute,\n"


def _base_without_magic_link_and_email_index() -> str:
    """HEAD, but api-keys as it was before: no email or magic-token index, TTL off."""
    source = (ROOT / "constructs_lib" / "schema_table.py").read_text()
    assert _INDEX_LOOP in source and _TTL_LINE in source
    old_app = source.replace(
        _INDEX_LOOP,
        "        for index in spec.indexes:\n"
        "            if spec.alias == 'dephealth.api-keys' and index.name in "
        "('email-index', 'magic-token-index'):\n"
        "                continue\n"
        "            self.table.add_global_secondary_index(",
    ).replace(
        _TTL_LINE,
        "            time_to_live_attribute=None if spec.alias == 'dephealth.api-keys' "
        "else spec.ttl_attribute,\n",
    )
    return _commit_with("constructs_lib/schema_table.py", old_app)


def test_two_indexes_added_in_one_update_are_refused_end_to_end():
    commit = _base_without_magic_link_and_email_index()
    proc = plan("--base", commit)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    for stage in ("dev", "prod"):
        prefix = f"REFUSED  DepHealth-{stage}-Data/ApiKeysTableB4793DF5 (dephealth-api-keys) "
        assert any(
            line.startswith(prefix + "gsi-operations:")
            and "split into two deploys: add `email-index` first, then `magic-token-index`" in line
            for line in lines
        ), proc.stdout
        assert any(
            line.startswith(f"ok       DepHealth-{stage}-Data/ApiKeysTableB4793DF5 "
                            "(dephealth-api-keys) ttl-enabled:")
            for line in lines
        ), proc.stdout
    assert lines[-1].startswith(f"plan: 4 stateful change(s) against {commit} ")
    assert "2 failing" in lines[-1]


def test_the_baseline_builder_yields_the_tree_and_its_templates():
    from tools.plan.baseline import base_tree

    with base_tree("HEAD") as base:
        assert base.commit == resolve("HEAD")
        assert (base.tree / "app.py").read_text() == (ROOT / "app.py").read_text()
        assert (base.tree / ".venv").resolve() == (ROOT / ".venv").resolve()
        assert sorted(base.templates) == ["dev", "prod"]
        tables = base.templates["prod"]["DepHealth-prod-Data"]["Resources"]
        assert tables["ApiKeysTableB4793DF5"]["Properties"]["TableName"] == "dephealth-api-keys"
        tree = base.tree
    assert not tree.exists()


def test_a_stale_acknowledgement_fails_the_plan(tmp_path):
    if not same_synth_inputs(resolve("HEAD")):
        pytest.skip("the working tree's synth inputs differ from HEAD")
    acks = tmp_path / "acks.json"
    acks.write_text(
        '{"acknowledgements": [{"stack": "DepHealth-prod-Data", "logical_id": "PackagesTableDCB08867",'
        ' "kind": "removed", "reason": "retired in favour of packages-v2"}]}'
    )
    proc = plan("--base", "HEAD", "--acknowledgements", str(acks))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[0].startswith(
        "STALE    DepHealth-prod-Data/PackagesTableDCB08867 removed: acknowledged in acks.json"
    )
