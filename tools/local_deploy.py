"""Deploy the app into the local endpoint, then make the tables match and load data.

Steps: synthesize once into ``.local/cdk.out``, ``cdk bootstrap``, then
``cdk deploy --all --app .local/cdk.out`` (no re-synth per stack). Afterwards
the settings moto's CloudFormation ignores are applied through the DynamoDB
API where it has one (TTL, PITR), the declared example items are loaded, and
each table is compared with its template (:mod:`tools.local_fidelity`).

For the local target only, cross-stack references are synthesized as
CloudFormation exports (``@aws-cdk/core:defaultCrossStackReferences=strong``):
moto does not resolve ``Fn::GetStackOutput``, which the app's "weak" default
emits. Table properties are the same either way.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from lambda_src.common.catalog import ALL_TABLES
from lambda_src.common.requests import to_item
from lambda_src.common.schema_types import TableSpec
from tools.cfn_tables import table_resources
from tools.local_endpoint import ACCOUNT, REGION, ROOT, LocalError, local_env, log_tail

CDK = ["npx", "--no-install", "cdk"]
LOCAL_CONTEXT = {"@aws-cdk/core:defaultCrossStackReferences": "strong"}


def cdk_env(base: dict[str, str]) -> dict[str, str]:
    env = dict(base)
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    env.setdefault("CDK_DISABLE_VERSION_CHECK", "1")
    env.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")
    return env


def start_cdk(args: list[str], env: dict[str, str], log: Path, *, cwd: Path = ROOT):
    """Start the CDK CLI in the background, output to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    out = open(log, "ab")
    out.write(f"\n$ {' '.join(CDK + args)}\n".encode())
    out.flush()
    try:
        proc = subprocess.Popen(
            CDK + args, cwd=cwd, env=cdk_env(env), stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    except FileNotFoundError as exc:
        out.close()
        raise LocalError("npx not found: install Node.js, then `make install`") from exc
    finally:
        out.close()  # the child holds its own descriptor
    return proc


def kill_tree(proc) -> None:
    """Stop a CLI run and the processes it started (its own session, by pid)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
    proc.wait()


def wait_cdk(proc, args: list[str], log: Path, *, timeout: float = 600) -> None:
    """Wait for a CDK CLI run; LocalError with the tail of its log on failure."""
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        kill_tree(proc)
        raise LocalError(f"cdk {args[0]} timed out after {timeout:.0f}s:\n{log_tail(log, 30)}") from exc
    if code != 0:
        raise LocalError(f"cdk {args[0]} failed (exit {code}); tail of {log}:\n{log_tail(log, 30)}")


def run_cdk(args: list[str], env: dict[str, str], log: Path, *, timeout: float = 600, cwd: Path = ROOT) -> None:
    wait_cdk(start_cdk(args, env, log, cwd=cwd), args, log, timeout=timeout)


def context_args(context: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for key, value in context.items():
        args += ["-c", f"{key}={value}"]
    return args


# -- the synthesized assembly ------------------------------------------------


@dataclass
class StackInfo:
    artifact_id: str
    stack_name: str
    template: dict


def read_assembly(outdir: Path) -> list[StackInfo]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks = []
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        props = artifact.get("properties", {})
        template = json.loads((outdir / props["templateFile"]).read_text())
        stacks.append(StackInfo(artifact_id, props.get("stackName", artifact_id), template))
    return stacks


# -- tables: deployed name <-> declaration -----------------------------------


@dataclass
class DeployedTable:
    stack: str
    logical_id: str
    name: str
    props: dict
    spec: TableSpec | None = None
    items: int = 0
    applied: list[str] = field(default_factory=list)


def _shape(props: dict) -> tuple:
    keys = tuple(k["AttributeName"] for k in props.get("KeySchema", []))
    indexes = tuple(sorted(
        tuple(k["AttributeName"] for k in g["KeySchema"]) for g in props.get("GlobalSecondaryIndexes", [])
    ))
    return keys, indexes


def _spec_shape(spec: TableSpec) -> tuple:
    return tuple(a.name for a in spec.key_attrs), tuple(sorted(i.key_names for i in spec.indexes))


def match_spec(name: str, props: dict, stage: str) -> TableSpec | None:
    """The declaration of a deployed table: by name, else (renamed by context) by shape."""
    for spec in ALL_TABLES:
        if spec.table_name(stage) == name:
            return spec
    candidates = [s for s in ALL_TABLES if _spec_shape(s) == _shape(props)]
    return candidates[0] if len(candidates) == 1 else None


def deployed_tables(cfn, stacks: list[StackInfo], stage: str) -> list[DeployedTable]:
    tables = []
    for stack in stacks:
        resources = table_resources(stack.template)
        if not resources:
            continue
        physical = {
            r["LogicalResourceId"]: r.get("PhysicalResourceId")
            for r in _stack_resources(cfn, stack.stack_name)
        }
        for logical_id, resource in resources.items():
            props = resource.get("Properties", {})
            name = physical.get(logical_id) or props.get("TableName")
            if not isinstance(name, str):
                raise LocalError(f"{stack.stack_name}/{logical_id}: table not found on the endpoint")
            tables.append(
                DeployedTable(stack.stack_name, logical_id, name, props, match_spec(name, props, stage))
            )
    return tables


def _stack_resources(cfn, stack_name: str) -> list[dict]:
    out, token = [], None
    while True:
        kwargs = {"StackName": stack_name, **({"NextToken": token} if token else {})}
        page = cfn.list_stack_resources(**kwargs)
        out += page.get("StackResourceSummaries", [])
        token = page.get("NextToken")
        if not token:
            return out


def renamed_spec(spec: TableSpec, props: dict) -> TableSpec:
    """The declaration with index names as deployed (KV's ``gsiName`` context)."""
    deployed = {tuple(k["AttributeName"] for k in g["KeySchema"]): g["IndexName"]
                for g in props.get("GlobalSecondaryIndexes", [])}
    for index in spec.indexes:
        new = deployed.get(index.key_names)
        if new and new != index.name:
            spec = spec.with_index_renamed(index.name, new)
    return spec


# -- after deploy ------------------------------------------------------------


def apply_ignored_settings(ddb, table: DeployedTable) -> None:
    """Set through the DynamoDB API what moto's CloudFormation ignored."""
    ttl = table.props.get("TimeToLiveSpecification") or {}
    if ttl.get("Enabled"):
        current = ddb.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            ddb.update_time_to_live(
                TableName=table.name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
            table.applied.append("TTL")
    pitr = (table.props.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled")
    if pitr:
        ddb.update_continuous_backups(
            TableName=table.name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
        table.applied.append("PITR")


def load_examples(ddb, table: DeployedTable) -> None:
    if table.spec is None:
        return
    for item in table.spec.examples:
        ddb.put_item(TableName=table.name, Item=to_item(item))


def item_count(ddb, name: str) -> int:
    """Exact item count of a small local table (COUNT scan; local sample data only)."""
    total, start = 0, None
    while True:
        kwargs: dict[str, Any] = {"TableName": name, "Select": "COUNT"}
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = ddb.scan(**kwargs)  # noqa: the local summary, never runtime code
        total += page["Count"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return total


@dataclass
class DeployResult:
    port: int
    stage: str
    stacks: list[StackInfo]
    tables: list[DeployedTable]
    timings: dict[str, float]


def deploy_local(
    port: int,
    stage: str,
    *,
    outdir: Path,
    log: Path,
    context: dict[str, Any] | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
    extra_env: dict[str, str] | None = None,
    timeout: float = 600,
) -> DeployResult:
    """Synthesize, bootstrap and deploy every stack into the endpoint on ``port``."""
    import boto3

    env = {**local_env(port), **(extra_env or {})}
    timings: dict[str, float] = {}
    ctx = {"stage": stage, **LOCAL_CONTEXT, **(context or {})}

    # Bootstrap runs while the app synthesizes: started from a folder without
    # cdk.json, the CLI bootstraps the named environment without synthesizing.
    t = time.monotonic()
    progress(f"synthesizing every stack, bootstrapping aws://{ACCOUNT}/{REGION} alongside")
    boot_dir = ROOT / ".local" / "bootstrap"  # inside the repo, so npx finds the pinned CLI
    boot_dir.mkdir(parents=True, exist_ok=True)
    boot_log = log.with_name(log.stem + "-bootstrap" + log.suffix)
    boot_log.unlink(missing_ok=True)
    boot_args = ["bootstrap", f"aws://{ACCOUNT}/{REGION}"]
    boot = start_cdk(boot_args, env, boot_log, cwd=boot_dir)
    try:
        run_cdk(["synth", "--quiet", "--output", str(outdir), *context_args(ctx)], env, log, timeout=timeout)
        timings["synth"] = time.monotonic() - t
        wait_cdk(boot, boot_args, boot_log, timeout=timeout)
    finally:
        kill_tree(boot)
    timings["bootstrap"] = time.monotonic() - t

    stacks = read_assembly(outdir)
    t = time.monotonic()
    progress(f"deploying {len(stacks)} stacks")
    run_cdk(
        ["deploy", "--all", "--app", str(outdir), "--require-approval", "never",
         "--method=direct", "--previous-parameters=false", "--concurrency", "8",
         "--progress", "events"],
        env,
        log,
        timeout=timeout,
    )
    timings["deploy"] = time.monotonic() - t

    t = time.monotonic()
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION
    )
    url = env["AWS_ENDPOINT_URL"]
    ddb = session.client("dynamodb", endpoint_url=url)
    cfn = session.client("cloudformation", endpoint_url=url)
    tables = deployed_tables(cfn, stacks, stage)
    progress(f"applying TTL/PITR and loading sample data into {len(tables)} tables")
    for table in tables:
        apply_ignored_settings(ddb, table)
        load_examples(ddb, table)
        table.items = item_count(ddb, table.name)
    timings["data"] = time.monotonic() - t
    return DeployResult(port, stage, stacks, tables, timings)


def aws_env() -> dict[str, str]:
    """The caller's environment with any local endpoint override removed."""
    env = dict(os.environ)
    env.pop("AWS_ENDPOINT_URL", None)
    return env
