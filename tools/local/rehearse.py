"""``make rehearse BASE=<git ref>``: an update rehearsed on the local target, with data in it.

1. The base version's app (a git ref, extracted as the plan check does,
   or a prepared folder) is deployed into a fresh MiniStack with the plain
   CDK CLI, and its tables get the declared sample items plus generated
   volume (``--items`` per changed table).
2. What is there is recorded: every item's key, each table's ARN and
   creation time.
3. The working tree is deployed over it, in place, with the plain CDK CLI.
4. Proofs, one line each: every item is still there; nothing was replaced;
   each new GSI is backfilled (its declared access patterns return their
   items); every declared access pattern of a changed table works.

Any failed proof, or a base that cannot be checked out or deployed, is a
non-zero exit. The endpoint and the extracted tree are removed at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lambda_src.common.requests import build_request, from_item, to_item
from tools.cfn_tables import table_resources
from tools.local import endpoint
from tools.local import env as local
from tools.local.deploy import DeployedTable, DeployResult, deploy_local, renamed_spec
from tools.local.env import LocalError
from tools.plan.baseline import PlanError, extract, resolve


@dataclass
class Proof:
    ok: bool
    line: str


@dataclass
class Rehearsal:
    base: DeployResult
    upgraded: DeployResult
    proofs: list[Proof] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.proofs)


# -- the base ------------------------------------------------------------------


def checkout(ref: str, into: Path) -> Path:
    """The tree of ``ref`` at ``into``, sharing this checkout's installs (the plan check's baseline builder)."""
    try:
        return extract(resolve(ref), into)
    except PlanError as exc:
        raise LocalError(str(exc)) from None


def remove_checkout(tree: Path) -> None:
    shutil.rmtree(tree, ignore_errors=True)


# -- data --------------------------------------------------------------------------


def generated_items(table: DeployedTable, count: int) -> Iterator[dict]:
    """``count`` items shaped like the table's declared examples, each under a key of its own."""
    spec = table.spec
    if spec is None or not spec.examples:
        return
    partition = spec.partition.name
    for i in range(count):
        example = dict(spec.examples[i % len(spec.examples)])
        if isinstance(example.get(partition), str):
            example[partition] = f"{example[partition]}#rehearsal-{i:05d}"
            yield example


def load_volume(ddb, table: DeployedTable, count: int) -> int:
    batch, written = [], 0
    for item in generated_items(table, count):
        batch.append({"PutRequest": {"Item": to_item(item)}})
        if len(batch) == 25:
            written += _write(ddb, table.name, batch)
            batch = []
    if batch:
        written += _write(ddb, table.name, batch)
    return written


def _write(ddb, name: str, batch: list[dict]) -> int:
    pending = {name: batch}
    for attempt in range(8):
        pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        if not pending:
            return len(batch)
        time.sleep(0.05 * 2**attempt)
    raise LocalError(f"{name}: the endpoint kept items unprocessed")


def item_keys(ddb, table: DeployedTable) -> set[tuple]:
    """Every item's primary key (a Scan: the local target's own data, never runtime code)."""
    names = [k["AttributeName"] for k in table.props["KeySchema"]]
    keys, start = set(), None
    while True:
        kwargs = {"TableName": table.name, "ProjectionExpression": ", ".join(f"#k{i}" for i in range(len(names))),
                  "ExpressionAttributeNames": {f"#k{i}": n for i, n in enumerate(names)}}
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = ddb.scan(**kwargs)
        keys |= {tuple(sorted(from_item(item).items())) for item in page.get("Items", [])}
        start = page.get("LastEvaluatedKey")
        if not start:
            return keys


# -- proofs ------------------------------------------------------------------------


def _by_name(result: DeployResult) -> dict[str, DeployedTable]:
    return {t.name: t for t in result.tables}


def changed_tables(base: DeployResult, new_stacks) -> set[str]:
    """Names of the tables whose template properties differ between base and working tree."""
    base_props = {t.name: t.props for t in base.tables}
    changed = set()
    for stack in new_stacks:
        for resource in table_resources(stack.template).values():
            props = resource.get("Properties", {})
            name = props.get("TableName")
            if isinstance(name, str) and base_props.get(name) != props:
                changed.add(name)
    return changed


def run_pattern(ddb, table: DeployedTable, pattern) -> tuple[list, list]:
    if table.spec is None:
        raise ValueError(f"{table.name}: no declaration for this table")
    spec = renamed_spec(table.spec, table.props)
    deployed = spec.pattern(pattern.name)
    operation, kwargs = build_request(spec, deployed, pattern.example, table_name=table.name)
    response = getattr(ddb, "get_item" if operation == "GetItem" else "query")(**kwargs)
    items = [response["Item"]] if "Item" in response else response.get("Items", [])
    got = [spec.key_of(from_item(item)) for item in items]
    return got, [spec.key_of(key) for key in pattern.expect]


def prove(ddb, base: DeployResult, upgraded: DeployResult, before: dict[str, dict], changed: set[str]) -> list[Proof]:
    proofs: list[Proof] = []
    after = _by_name(upgraded)
    for name, recorded in sorted(before.items()):
        table = after.get(name)
        if table is None:
            proofs.append(Proof(False, f"{name}: gone after the update"))
            continue
        described = ddb.describe_table(TableName=name)["Table"]
        same = (described["TableArn"], str(described["CreationDateTime"])) == (recorded["arn"], recorded["created"])
        proofs.append(Proof(same, f"{name}: " + ("not replaced (ARN and creation time unchanged)" if same
                                               else "REPLACED (ARN or creation time changed)")))
        missing = recorded["keys"] - item_keys(ddb, table)
        proofs.append(Proof(not missing, f"{name}: {len(recorded['keys'])} items "
                                         + ("all kept" if not missing else f"{len(missing)} MISSING")))
        if name not in changed or table.spec is None:
            continue
        ttl_spec = table.props.get("TimeToLiveSpecification") or {}
        if ttl_spec.get("Enabled"):
            ttl = ddb.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
            on = (ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
                  and ttl.get("AttributeName") == ttl_spec["AttributeName"])
            proofs.append(Proof(on, f"{name}: TTL on `{ttl_spec['AttributeName']}`" + ("" if on else " NOT ENABLED")))
        new_indexes = ({g["IndexName"] for g in table.props.get("GlobalSecondaryIndexes", [])}
                       - recorded["indexes"])
        for pattern in table.spec.access_patterns:
            got, expected = run_pattern(ddb, table, pattern)
            ok = all(key in got for key in expected)
            index = renamed_spec(table.spec, table.props).pattern(pattern.name).index
            what = f"new GSI {index} backfilled: " if index in new_indexes else ""
            proofs.append(Proof(ok, f"{name}: {what}pattern {pattern.name} "
                                    + (f"returns its {len(expected)} item(s)" if ok else
                                       f"MISSES {[k for k in expected if k not in got]}")))
    return proofs


# -- the rehearsal -------------------------------------------------------------------


def rehearse(base_dir: Path, *, items: int = 2000, stage: str = "dev", extra_env: dict | None = None,
             prepare: Callable[[int, DeployResult], None] | None = None,
             after: Callable[[int, DeployResult], None] | None = None,
             progress: Callable[[str], None] = lambda _m: None, timeout: float = 600) -> Rehearsal:
    """Deploy ``base_dir``'s app, load data, deploy the working tree over it, prove.

    ``prepare(port, base_result)`` runs after the base data is loaded (a test
    adds its own records there); ``after(port, upgraded_result)`` runs on the
    updated system before the endpoint stops (a test uses it as a client).
    """
    state = Path(tempfile.mkdtemp(prefix="rehearsal-"))
    port = endpoint.free_port()
    endpoint.start(port, state_dir=state)
    try:
        ddb = local.client("dynamodb", port)
        progress(f"deploying the base version into a fresh MiniStack on port {port}")
        base = deploy_local(port, stage, outdir=state / "base.out", log=state / "cdk.log", app_dir=base_dir,
                            extra_env=extra_env, timeout=timeout)
        from tools.local.cdk import context_args, run_cdk
        from tools.local.deploy import read_assembly

        env = {**local.local_env(port), **(extra_env or {})}
        run_cdk(["synth", "--quiet", "--output", str(state / "new.out"), *context_args({"stage": stage})],
                env, state / "cdk.log", timeout=timeout)
        changed = changed_tables(base, read_assembly(state / "new.out"))
        for table in base.tables:
            if table.name in changed:
                loaded = load_volume(ddb, table, items)
                progress(f"  {table.name}: changed by the update; {loaded} generated items added")
        if prepare is not None:
            prepare(port, base)
        before = {t.name: {"keys": item_keys(ddb, t),
                           "indexes": {g["IndexName"] for g in t.props.get("GlobalSecondaryIndexes", [])},
                           **_identity(ddb, t.name)} for t in base.tables}
        progress("deploying the working tree over it, in place")
        upgraded = deploy_local(port, stage, outdir=state / "new.out", log=state / "cdk.log", load_samples=False,
                                reuse_assembly=True, extra_env=extra_env, timeout=timeout)
        result = Rehearsal(base, upgraded, prove(ddb, base, upgraded, before, changed))
        if after is not None:
            after(port, upgraded)
        return result
    finally:
        endpoint.stop(state_dir=state, port=port)
        shutil.rmtree(state, ignore_errors=True)


def _identity(ddb, name: str) -> dict:
    table = ddb.describe_table(TableName=name)["Table"]
    return {"arn": table["TableArn"], "created": str(table["CreationDateTime"])}


def main_rehearse(ref: str, *, items: int, say: Callable[[str], None]) -> int:
    tree = Path(tempfile.mkdtemp(prefix="rehearsal-base-")) / "base"
    checkout(ref, tree)
    try:
        result = rehearse(tree, items=items, progress=say,
                          extra_env={"CDK_VALIDATION": os.environ.get("CDK_VALIDATION", "true")})
    finally:
        remove_checkout(tree)
    for proof in result.proofs:
        say(("ok    " if proof.ok else "FAIL  ") + proof.line)
    failed = sum(not p.ok for p in result.proofs)
    summary = f"\n{len(result.proofs) - failed}/{len(result.proofs)} proofs hold"
    say(summary + ("" if not failed else f"; {failed} failed"))
    return 0 if not failed else 1
