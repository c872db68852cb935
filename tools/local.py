"""Deploy the app into an embedded local AWS endpoint, or into a real account.

    python -m tools.local deploy  [--target local|aws] [--stage dev] [--port 4566]
    python -m tools.local destroy [--target local|aws]
    python -m tools.local diff    [--target local|aws]
    python -m tools.local invoke  --function NAME --event FILE [--port 4566]
    python -m tools.local status  [--port 4566]

``--target local`` (the default) runs a fresh ``moto_server`` on
localhost:PORT, deploys every stack into it, applies what its CloudFormation
ignores (TTL, PITR), loads the declared sample items and prints a summary
and a fidelity report. ``--target aws`` runs the plain CDK CLI with the
standard credential chain and no endpoint override.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Sequence

from tools import local_endpoint as endpoint
from tools.local_endpoint import DEFAULT_PORT, REGION, ROOT, STATE_DIR, LocalError

CDK_OUT = STATE_DIR / "cdk.out"
CDK_LOG = STATE_DIR / "cdk.log"


def say(message: str = "") -> None:
    print(message, flush=True)


# -- deploy ------------------------------------------------------------------


def cmd_deploy(args: argparse.Namespace) -> int:
    if args.target == "aws":
        return _cdk_aws(["deploy", "--all", "--require-approval", "never"], args)
    from tools.local_deploy import deploy_local

    context = _context(args)
    started = time.monotonic()
    say(f"starting a fresh local endpoint on {endpoint.endpoint_url(args.port)}")
    ep = endpoint.start(args.port)
    CDK_LOG.unlink(missing_ok=True)
    result = deploy_local(
        args.port,
        args.stage,
        outdir=CDK_OUT,
        log=CDK_LOG,
        context=context,
        progress=lambda msg: say(f"  {msg} ..."),
    )
    elapsed = time.monotonic() - started
    print_summary(result, ep, elapsed)
    if not args.no_fidelity:
        print_fidelity(result)
    return 0


def _context(args: argparse.Namespace) -> dict[str, str]:
    out = {}
    for pair in args.context or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise LocalError(f"--context expects KEY=VALUE, got {pair!r}")
        out[key] = value
    return out


def print_summary(result, ep, elapsed: float) -> None:
    t = result.timings
    say(
        f"\ndeployed {len(result.stacks)} stacks in {elapsed:.1f}s "
        f"(synth {t['synth']:.1f}s, bootstrap alongside, deploy {t['deploy']:.1f}s, "
        f"data {t['data']:.1f}s)"
    )
    for stack in result.stacks:
        say(f"  {stack.stack_name}")
    say(f"\n{len(result.tables)} tables (name, items, indexes):")
    width = max((len(tb.name) for tb in result.tables), default=10)
    for table in result.tables:
        gsis = [g["IndexName"] for g in table.props.get("GlobalSecondaryIndexes", [])]
        say(f"  {table.name:<{width}}  {table.items:>3}  {', '.join(gsis) or '-'}")
    say(f"\nendpoint {ep.url} (pid {ep.pid}, log {_rel(ep.log)}) keeps running until `make destroy`.")
    say("point the aws CLI and boto3 at it with:\n")
    say(f"  {endpoint.export_line(result.port)}\n")


def print_fidelity(result) -> None:
    import boto3

    from tools.local_fidelity import DIFFERS, UNREPORTED, compare, describe

    ddb = boto3.client(
        "dynamodb",
        endpoint_url=endpoint.endpoint_url(result.port),
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    say("fidelity: each table's template properties vs what the endpoint reports")
    applied = sorted({a for tb in result.tables for a in tb.applied})
    if applied:
        say(f"  (applied through the DynamoDB API, as moto's CloudFormation ignores them: {', '.join(applied)})")
    clean, problems = 0, []
    for table in result.tables:
        report = compare(table.props, *describe(ddb, table.name), name=table.name)
        if report.problems:
            problems.append(report)
        if not any(c.status == DIFFERS for c in report.problems):
            clean += 1
    props = ", ".join(c.prop for c in compare({}, {}, None, None, "").checks)
    say(f"  {clean}/{len(result.tables)} tables match their template on every property the endpoint reports")
    say(f"  (checked: {props}, and each GSI's keys and projection)")
    groups: dict[tuple, list[str]] = {}
    for report in problems:
        for check in report.problems:
            groups.setdefault((check.prop, check.expected, check.actual, check.status), []).append(report.name)
    for (prop, expected, actual, status), names in groups.items():
        where = f"all {len(names)} tables" if len(names) == len(result.tables) > 1 else ", ".join(names)
        if status == DIFFERS:
            say(f"  DIFFERS {prop}: template {expected}, endpoint {actual} ({where})")
        else:
            say(f"  NOT REPORTED {prop}: template {expected}; the endpoint reports nothing for it ({where})")
    if any(key[3] == UNREPORTED for key in groups):
        say("  (not reported: the endpoint has no API answer for it, so nothing is claimed)")


def _rel(path: Path) -> str:
    try:
        return str(Path(path).relative_to(ROOT))
    except ValueError:
        return str(path)


# -- destroy / diff / status --------------------------------------------------


def cmd_destroy(args: argparse.Namespace) -> int:
    if args.target == "aws":
        return _cdk_aws(["destroy", "--all", "--force"], args)
    ep = endpoint.stop()
    if ep is None:
        say("no local endpoint started by this tool is running; nothing to stop")
    else:
        say(f"stopped the local endpoint on port {ep.port} (pid {ep.pid}); its data is gone")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    if args.target == "aws":
        return _cdk_aws(["diff"], args, check=False)
    from tools.local_deploy import LOCAL_CONTEXT, cdk_env, context_args

    port = endpoint.require_running(args.port)
    ctx = {"stage": args.stage, **LOCAL_CONTEXT, **_context(args)}
    # The change-set diff does not work on moto: compare with the deployed templates.
    out = STATE_DIR / "cdk.out.diff"  # apart from cdk.out, which TARGET=aws and `cdk synth` use
    return _exec_cdk(
        ["diff", "--method=template", "--output", str(out), *context_args(ctx)],
        endpoint.local_env(port),
        cdk_env,
    )


def cmd_status(args: argparse.Namespace) -> int:
    ep = endpoint.recorded()
    port = args.port if args.port is not None else (ep.port if ep else DEFAULT_PORT)
    if not endpoint.is_ready(port):
        say(f"no local endpoint on {endpoint.endpoint_url(port)}" + (" (run `make deploy`)"))
        return 1
    owner = f"pid {ep.pid}, started {time.strftime('%H:%M:%S', time.localtime(ep.started))}" if ep and ep.port == port else "not started by this tool"
    say(f"local endpoint {endpoint.endpoint_url(port)} is running ({owner})")
    cfn = _client("cloudformation", port)
    stacks = [
        s for s in cfn.describe_stacks().get("Stacks", []) if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    for stack in sorted(stacks, key=lambda s: s["StackName"]):
        say(f"  {stack['StackName']:<40} {stack['StackStatus']}")
    if not stacks:
        say("  no stacks deployed")
    say(f"\n  {endpoint.export_line(port)}")
    return 0


def _cdk_aws(cdk_args: list[str], args: argparse.Namespace, *, check: bool = True) -> int:
    from tools.local_deploy import aws_env, cdk_env, context_args

    if os.environ.get("AWS_ENDPOINT_URL"):
        say(f"note: ignoring AWS_ENDPOINT_URL={os.environ['AWS_ENDPOINT_URL']} for --target aws")
    ctx = {"stage": args.stage, **_context(args)}
    return _exec_cdk(cdk_args + context_args(ctx), aws_env(), cdk_env)


def _exec_cdk(cdk_args: list[str], env: dict, cdk_env) -> int:
    import subprocess

    from tools.local_deploy import CDK

    try:
        return subprocess.call(CDK + cdk_args, cwd=ROOT, env=cdk_env(env))
    except FileNotFoundError as exc:
        raise LocalError("npx not found: install Node.js, then `make install`") from exc


def _client(service: str, port: int):
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint.endpoint_url(port),
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


# -- invoke --------------------------------------------------------------------


class LambdaContext:
    """The attributes handlers commonly read from the Lambda context object."""

    def __init__(self, function: dict) -> None:
        self.function_name = function["FunctionName"]
        self.function_version = function.get("Version", "$LATEST")
        self.invoked_function_arn = function.get("FunctionArn", "")
        self.memory_limit_in_mb = int(function.get("MemorySize", 128))
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + int(function.get("Timeout", 3))

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def find_function(functions: list[dict], name: str, logical_ids: dict[str, str] | None = None) -> dict:
    """Exact name, else a unique substring of a function name or logical id."""
    for fn in functions:
        if fn["FunctionName"] == name:
            return fn
    logical_ids = logical_ids or {}
    needle = name.lower()
    hits = [
        fn for fn in functions
        if needle in fn["FunctionName"].lower() or needle in logical_ids.get(fn["FunctionName"], "").lower()
    ]
    if len(hits) == 1:
        return hits[0]
    names = sorted(fn["FunctionName"] for fn in (hits or functions))
    listing = "; ".join(names) or "none deployed"
    if hits:
        raise LocalError(f"function {name!r} is ambiguous: matches {listing}")
    raise LocalError(f"no function matches {name!r}; available: {listing}")


def cmd_invoke(args: argparse.Namespace) -> int:
    event = _read_event(args.event)
    port = endpoint.require_running(args.port)
    lam = _client("lambda", port)
    functions = []
    for page in lam.get_paginator("list_functions").paginate():
        functions += page.get("Functions", [])
    logical = _function_logical_ids(port)
    fn = find_function(functions, args.function, logical)
    config = lam.get_function_configuration(FunctionName=fn["FunctionName"])
    handler = config.get("Handler") or ""
    module_name, _, attr = handler.rpartition(".")
    if not module_name:
        raise LocalError(f"{fn['FunctionName']} has handler {handler!r}, not module.function")

    env = {k: str(v) for k, v in (config.get("Environment") or {}).get("Variables", {}).items()}
    env.update({k: v for k, v in endpoint.local_env(port, base={}).items()})
    env.setdefault("AWS_LAMBDA_FUNCTION_NAME", fn["FunctionName"])
    os.environ.update(env)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    # The handler's own output (logs) goes to stderr, so stdout is the response alone.
    with contextlib.redirect_stdout(sys.stderr):
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise LocalError(f"cannot import {module_name} (handler of {fn['FunctionName']}): {exc}") from exc
        func = getattr(module, attr, None)
        if not callable(func):
            raise LocalError(f"{module_name} has no callable {attr!r}")
        print(f"invoking {fn['FunctionName']} ({handler}) in-process", file=sys.stderr)
        response = func(event, LambdaContext(config))
    say(json.dumps(response, indent=2, default=str))
    return 0


def _function_logical_ids(port: int) -> dict[str, str]:
    """Function name -> CloudFormation logical id, across every deployed stack."""
    cfn = _client("cloudformation", port)
    out: dict[str, str] = {}
    try:
        for stack in cfn.describe_stacks().get("Stacks", []):
            for r in cfn.list_stack_resources(StackName=stack["StackName"]).get("StackResourceSummaries", []):
                if r.get("ResourceType") == "AWS::Lambda::Function" and r.get("PhysicalResourceId"):
                    out[r["PhysicalResourceId"]] = r["LogicalResourceId"]
    except Exception:  # names alone still work
        pass
    return out


def _read_event(path: str | None) -> Any:
    if not path:
        raise LocalError("--event FILE is required (a JSON event; '-' reads stdin)")
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        raise LocalError(f"cannot read event file {path}: {exc.strerror or exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LocalError(f"event file {path} is not JSON: {exc}") from exc


# -- CLI -------------------------------------------------------------------------


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range: {port}")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.local",
        description="Deploy every stack into an embedded local AWS endpoint (moto_server) or a real account.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def common(p: argparse.ArgumentParser, *, target: bool = True, port_default: int | None = DEFAULT_PORT) -> None:
        if target:
            p.add_argument("--target", choices=("local", "aws"), default="local",
                           help="local: embedded endpoint (default); aws: your account via the standard credential chain")
            p.add_argument("--stage", choices=("dev", "prod"), default="dev", help="stage to synthesize (default dev)")
            p.add_argument("-c", "--context", action="append", metavar="KEY=VALUE",
                           help="extra CDK context, e.g. -c tableName=my-kv (repeatable)")
        p.add_argument("--port", type=_port, default=port_default,
                       help=f"local endpoint port (default {DEFAULT_PORT})")

    p = sub.add_parser("deploy", help="deploy every stack (local: fresh endpoint, sample data, fidelity report)")
    common(p)
    p.add_argument("--no-fidelity", action="store_true", help="skip the fidelity report")
    p.set_defaults(func=cmd_deploy)

    p = sub.add_parser("destroy", help="local: stop the endpoint (all data goes); aws: cdk destroy --all")
    common(p)
    p.set_defaults(func=cmd_destroy)

    p = sub.add_parser("diff", help="cdk diff against the local endpoint or the account")
    common(p)
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("invoke", help="run a deployed function's handler in-process against the local endpoint")
    p.add_argument("--function", "-f", required=True, metavar="NAME",
                   help="function name, or a unique part of its name or logical id")
    p.add_argument("--event", "-e", required=True, metavar="FILE", help="JSON event file ('-' for stdin)")
    common(p, target=False, port_default=None)
    p.set_defaults(func=cmd_invoke)

    p = sub.add_parser("status", help="is the local endpoint running, and which stacks it has")
    common(p, target=False, port_default=None)
    p.set_defaults(func=cmd_status)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "function", None) is not None and not args.function.strip():
        print("error: --function is empty (make invoke FN=<name> EVENT=<file>)", file=sys.stderr)
        return 2
    if args.command == "invoke" and not (args.event or "").strip():
        print("error: --event is empty (make invoke FN=<name> EVENT=<file>)", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except LocalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        # AWS SDK failures (no endpoint, denied, throttled) are expected: one line.
        if type(exc).__module__.startswith(("botocore", "boto3")):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
