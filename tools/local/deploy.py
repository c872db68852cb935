"""Deploy the app into the local target, then make it match and load data.

Steps, as a user runs them against AWS: ``cdk bootstrap`` (alongside the
synthesis, from a folder without ``cdk.json`` so it does not synthesize the
app a second time), ``cdk synth`` once, and ``cdk deploy --all --app <that
assembly> --require-approval never``, with ``AWS_ENDPOINT_URL`` and test
credentials; no emulator-specific flags. A deploy onto a running endpoint
updates the stacks in place.

Afterwards the settings the emulator's CloudFormation ignores are applied
through the DynamoDB API (TTL, PITR), the declared example items are loaded,
and what runs where is read back: the tables, each REST API's local base
URL, the queues and the functions.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambda_src.common.requests import to_item
from lambda_src.common.schema_types import TableSpec
from tools.catalog import ALL_TABLES
from tools.cfn_tables import table_resources
from tools.local import env as local
from tools.local.cdk import context_args, kill_tree, run_cdk, start_cdk, wait_cdk
from tools.local.env import ACCOUNT, REGION, ROOT, LocalError, local_env

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
    """Set through the DynamoDB API what the emulator's CloudFormation ignored."""
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
        page = ddb.scan(**kwargs)  # the local summary counts every item: never runtime code
        total += page["Count"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return total


@dataclass
class Resource:
    """A deployed resource a person uses: a REST API (its URL), a queue (its URL), a function."""

    stack: str
    logical_id: str
    kind: str
    physical_id: str
    url: str = ""


@dataclass
class DeployResult:
    port: int
    stage: str
    stacks: list[StackInfo]
    tables: list[DeployedTable]
    resources: list[Resource]
    timings: dict[str, float]

    def of_kind(self, kind: str) -> list[Resource]:
        return [r for r in self.resources if r.kind == kind]

    def api_url(self, stack_part: str) -> str:
        """The base URL of the REST API in the stack whose name contains ``stack_part``."""
        for api in self.of_kind("api"):
            if stack_part in api.stack:
                return api.url
        raise LocalError(f"no REST API in a stack named like {stack_part!r}")

    def queue_url(self, logical_part: str) -> str:
        for queue in self.of_kind("queue"):
            if logical_part in queue.logical_id:
                return queue.url
        raise LocalError(f"no queue named like {logical_part!r}")

    def function(self, logical_part: str) -> str:
        for fn in self.of_kind("function"):
            if logical_part in fn.logical_id:
                return fn.physical_id
        raise LocalError(f"no function named like {logical_part!r}")


def running_resources(cfn, stacks: list[StackInfo], port: int) -> list[Resource]:
    """REST APIs with their local base URLs, queues with their URLs, functions by name."""
    out: list[Resource] = []
    for stack in stacks:
        physical = {r["LogicalResourceId"]: r.get("PhysicalResourceId") or ""
                    for r in _stack_resources(cfn, stack.stack_name)}
        resources = stack.template.get("Resources", {})
        stages = {
            (res["Properties"].get("RestApiId") or {}).get("Ref"): res["Properties"].get("StageName")
            for res in resources.values() if res.get("Type") == "AWS::ApiGateway::Stage"
        }
        for logical_id, res in resources.items():
            kind = res.get("Type")
            pid = physical.get(logical_id, "")
            if kind == "AWS::ApiGateway::RestApi":
                stage = stages.get(logical_id) or "prod"
                out.append(Resource(stack.stack_name, logical_id, "api", pid, local.api_url(port, pid, stage)))
            elif kind == "AWS::SQS::Queue":
                out.append(Resource(stack.stack_name, logical_id, "queue", pid, pid))
            elif kind == "AWS::Lambda::Function":
                out.append(Resource(stack.stack_name, logical_id, "function", pid))
    return out


def verify_senders(cfn, ses, stacks: list[StackInfo]) -> list[str]:
    """Verify the SES sender of every stack that publishes one (a ``MailFrom`` output).

    On AWS the owner verifies the identity once (a mail or DNS record); the
    local target accepts the verification call at once.
    """
    senders = []
    for stack in stacks:
        for output in cfn.describe_stacks(StackName=stack.stack_name)["Stacks"][0].get("Outputs", []):
            if output["OutputKey"] == "MailFrom":
                ses.verify_email_identity(EmailAddress=output["OutputValue"])
                senders.append(output["OutputValue"])
    return senders


def shell_name(resource: Resource) -> str:
    """The variable a session uses for a resource: KV_URL, DEPHEALTH_URL, INGEST_QUEUE_URL, ..."""
    if resource.kind == "api":
        product = resource.stack.split("-")[0].upper()
        return {"KVSTORAGE": "KV"}.get(product, product) + "_URL"
    base = re.sub(r"[0-9A-F]{8}$", "", resource.logical_id)  # the CDK's hash suffix
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", base).upper() + "_URL"


def deployed_stacks(port: int) -> list[StackInfo]:
    """The stacks on the endpoint with their deployed templates."""
    cfn = local.client("cloudformation", port)
    out = []
    for stack in cfn.describe_stacks().get("Stacks", []):
        if stack["StackStatus"].startswith("DELETE") or stack["StackName"] == "CDKToolkit":
            continue
        body = cfn.get_template(StackName=stack["StackName"])["TemplateBody"]
        template = body if isinstance(body, dict) else json.loads(body)
        out.append(StackInfo(stack["StackName"], stack["StackName"], template))
    return out


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
    app_dir: Path = ROOT,
    load_samples: bool = True,
    reuse_assembly: bool = False,
) -> DeployResult:
    """Bootstrap, synthesize and deploy every stack into the endpoint on ``port``.

    ``app_dir`` is the checkout whose app is deployed (another version's, for a
    rehearsal); ``load_samples=False`` leaves the tables' data as it is;
    ``reuse_assembly`` deploys the assembly already in ``outdir``.
    """
    env = {**local_env(port), **(extra_env or {})}
    timings: dict[str, float] = {}
    ctx = {"stage": stage, **(context or {})}

    t = time.monotonic()
    progress(f"synthesizing every stack, bootstrapping aws://{ACCOUNT}/{REGION} alongside")
    boot_dir = ROOT / ".local" / "bootstrap"  # inside the repo, so npx finds the pinned CLI
    boot_dir.mkdir(parents=True, exist_ok=True)
    boot_log = log.with_name(log.stem + "-bootstrap" + log.suffix)
    boot_log.unlink(missing_ok=True)
    boot_args = ["bootstrap", f"aws://{ACCOUNT}/{REGION}"]
    boot = start_cdk(boot_args, env, boot_log, cwd=boot_dir)
    try:
        if not (reuse_assembly and (outdir / "manifest.json").exists()):
            run_cdk(["synth", "--quiet", "--output", str(outdir), *context_args(ctx)], env, log, timeout=timeout,
                    cwd=app_dir)
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
         "--concurrency", "4", "--progress", "events"],
        env, log, timeout=timeout, cwd=app_dir,
    )
    timings["deploy"] = time.monotonic() - t

    t = time.monotonic()
    ddb = local.client("dynamodb", port)
    cfn = local.client("cloudformation", port)
    tables = deployed_tables(cfn, stacks, stage)
    progress(f"applying TTL/PITR{' and loading sample data' if load_samples else ''} into {len(tables)} tables")
    for table in tables:
        apply_ignored_settings(ddb, table)
        if load_samples:
            load_examples(ddb, table)
        table.items = item_count(ddb, table.name)
    resources = running_resources(cfn, stacks, port)
    verify_senders(cfn, local.client("ses", port), stacks)
    timings["data"] = time.monotonic() - t
    return DeployResult(port, stage, stacks, tables, resources, timings)


def aws_env() -> dict[str, str]:
    """The caller's environment with any local endpoint override removed."""
    env = dict(os.environ)
    env.pop("AWS_ENDPOINT_URL", None)
    return env
