"""Deploy every stack into an embedded endpoint and use the tables through it.

One ``moto_server`` on a free port for the module: the app is synthesized by
the pinned CDK CLI, bootstrapped and deployed with ``cdk deploy --all``
exactly as ``make deploy`` does. Then every table is compared with its
synthesized template and every declared access pattern runs against the
sample data. The endpoint is stopped at the end, and no process stays.
"""

from __future__ import annotations

import shutil

import pytest

from lambda_src.common.catalog import ALL_TABLES
from lambda_src.common.requests import build_request, from_item
from lambda_src.common.schema_types import iter_patterns
from tools import local_endpoint as endpoint
from tools.local_deploy import renamed_spec
from tools.local_fidelity import DIFFERS, UNREPORTED, compare, describe

pytestmark = pytest.mark.e2e

PATTERNS = list(iter_patterns(ALL_TABLES))
DEPLOY_TIMEOUT = 300  # seconds, per CDK CLI step


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    if shutil.which("npx") is None:
        pytest.fail("npx not found: the e2e test needs Node.js and `make install`")
    from tools.local_deploy import deploy_local

    state = tmp_path_factory.mktemp("local-endpoint")
    port = endpoint.free_port()
    ep = endpoint.start(port, state_dir=state)
    try:
        try:
            result = deploy_local(
                port,
                "dev",
                outdir=state / "cdk.out",
                log=state / "cdk.log",
                # Tests skip the CDK's built-in template validation (as tests/synth.py does).
                extra_env={"CDK_VALIDATION": "false"},
                timeout=DEPLOY_TIMEOUT,
            )
        except endpoint.LocalError as exc:
            pytest.fail(
                f"local deploy failed: {exc}\n--- moto_server log ---\n{endpoint.log_tail(ep.log)}",
                pytrace=False,
            )
        yield result
    finally:
        stopped = endpoint.stop(state_dir=state)
        assert stopped is None or not endpoint._pid_alive(stopped.pid), "moto_server still running"


@pytest.fixture(scope="module")
def ddb(deployment):
    import boto3

    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint.endpoint_url(deployment.port),
        region_name=endpoint.REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _deployed(deployment, spec):
    for table in deployment.tables:
        if table.spec is not None and table.spec.alias == spec.alias:
            return table
    pytest.fail(f"{spec.alias}: no deployed table matches the declaration; deployed: "
                f"{', '.join(t.name for t in deployment.tables)}")


def test_every_stack_is_deployed(deployment):
    import boto3

    cfn = boto3.client(
        "cloudformation",
        endpoint_url=endpoint.endpoint_url(deployment.port),
        region_name=endpoint.REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    status = {s["StackName"]: s["StackStatus"] for s in cfn.describe_stacks()["Stacks"]}
    for stack in deployment.stacks:
        assert status.get(stack.stack_name) == "CREATE_COMPLETE", (stack.stack_name, status)


def test_every_declared_table_is_deployed_once(deployment):
    aliases = [t.spec.alias for t in deployment.tables if t.spec is not None]
    assert sorted(aliases) == sorted(s.alias for s in ALL_TABLES)
    assert all(t.spec is not None for t in deployment.tables), [t.name for t in deployment.tables]


@pytest.mark.parametrize("spec", ALL_TABLES, ids=[s.alias for s in ALL_TABLES])
def test_table_matches_its_template(deployment, ddb, spec):
    table = _deployed(deployment, spec)
    report = compare(table.props, *describe(ddb, table.name), name=table.name)
    differs = [f"{c.prop}: template {c.expected}, endpoint {c.actual}" for c in report.checks
               if c.status == DIFFERS]
    assert not differs, f"{table.name}: " + "; ".join(differs)
    # SSE is the one property moto does not report (see docs/local-deploy.md).
    unreported = {c.prop for c in report.checks if c.status == UNREPORTED}
    assert unreported <= {"SSE"}, unreported
    checked = {c.prop for c in report.checks}
    assert {"key schema", "billing mode", "TTL", "PITR", "stream"} <= checked
    assert {f"GSI {i.name}" for i in renamed_spec(spec, table.props).indexes} <= checked


@pytest.mark.parametrize("spec", ALL_TABLES, ids=[s.alias for s in ALL_TABLES])
def test_sample_data_is_loaded(deployment, spec):
    table = _deployed(deployment, spec)
    assert table.items == len(spec.examples), table.name


@pytest.mark.parametrize("spec,pattern", PATTERNS, ids=[f"{s.alias}:{p.name}" for s, p in PATTERNS])
def test_access_pattern_through_the_endpoint(deployment, ddb, spec, pattern):
    table = _deployed(deployment, spec)
    deployed_spec = renamed_spec(spec, table.props)
    deployed_pattern = deployed_spec.pattern(pattern.name)
    operation, kwargs = build_request(
        deployed_spec, deployed_pattern, pattern.example, table_name=table.name
    )
    response = getattr(ddb, "get_item" if operation == "GetItem" else "query")(**kwargs)
    items = [response["Item"]] if "Item" in response else response.get("Items", [])
    got = [spec.key_of(from_item(item)) for item in items]
    expected = [spec.key_of(key) for key in pattern.expect]
    assert expected, f"{pattern.name} declares no expected result"
    _, sort_attr = deployed_spec.pattern_keys(deployed_pattern)
    if sort_attr is None:
        assert sorted(map(repr, got)) == sorted(map(repr, expected))
    else:
        assert got == expected


def test_invoke_runs_a_deployed_handler_against_the_endpoint(deployment, ddb):
    """``make invoke``: the handler named by the deployed function, with its environment."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from tools.local_endpoint import ROOT

    event = Path(__file__).parent / "events" / "kv-create-user.json"
    proc = subprocess.run(
        [sys.executable, "-m", "tools.local", "invoke", "--function", "ApiHandler",
         "--event", str(event), "--port", str(deployment.port)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    response = json.loads(proc.stdout)  # the response alone; handler logs go to stderr
    assert response["statusCode"] == 201, response
    user_id = json.loads(response["body"])["userId"]
    kv = _deployed(deployment, next(s for s in ALL_TABLES if s.alias.startswith("kv.")))
    item = ddb.get_item(TableName=kv.name, Key={"PK": {"S": f"USER#{user_id}"}, "SK": {"S": "METADATA"}})
    assert "Item" in item, "the handler wrote to the deployed table"
