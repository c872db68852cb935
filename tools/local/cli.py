"""The command line of the local target: ``python -m tools.local COMMAND``.

Every expected failure is one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tools.local import endpoint
from tools.local import env as local
from tools.local.cdk import context_args, exec_cdk
from tools.local.env import DEFAULT_PORT, ROOT, STATE_DIR, LocalError

CDK_OUT = ROOT / "cdk.out"
CDK_LOG = STATE_DIR / "cdk.log"


def say(message: str = "") -> None:
    print(message, flush=True)


def _rel(path: Path) -> str:
    try:
        return str(Path(path).relative_to(ROOT))
    except ValueError:
        return str(path)


def _context(args: argparse.Namespace) -> dict[str, str]:
    out = {}
    for pair in args.context or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise LocalError(f"--context expects KEY=VALUE, got {pair!r}")
        out[key] = value
    return out


# -- deploy ------------------------------------------------------------------


def cmd_deploy(args: argparse.Namespace) -> int:
    if args.target == "aws":
        return _cdk_aws(["deploy", "--all", "--require-approval", "never"], args)
    from tools.local.deploy import deploy_local

    context = _context(args)
    started = time.monotonic()
    running = endpoint.recorded(port=args.port)
    if running and not args.fresh and endpoint.is_ready(args.port):
        say(f"updating the stacks on the running local endpoint {running.url} in place (--fresh for a new one)")
        ep = running
    else:
        say(f"starting a fresh local endpoint (MiniStack) on {local.endpoint_url(args.port)}")
        ep = endpoint.start(args.port)
    CDK_LOG.unlink(missing_ok=True)
    result = deploy_local(
        args.port, args.stage, outdir=CDK_OUT, log=CDK_LOG, context=context,
        progress=lambda msg: say(f"  {msg} ..."),
    )
    print_summary(result, ep, time.monotonic() - started)
    if not args.no_fidelity:
        print_fidelity(result)
    return 0


def print_summary(result, ep, elapsed: float) -> None:
    t = result.timings
    say(
        f"\ndeployed {len(result.stacks)} stacks in {elapsed:.1f}s "
        f"(synth {t['synth']:.1f}s, bootstrap alongside, deploy {t['deploy']:.1f}s, data {t['data']:.1f}s)"
    )
    for stack in result.stacks:
        say(f"  {stack.stack_name}")
    say(f"\n{len(result.tables)} tables (name, items, indexes):")
    width = max((len(tb.name) for tb in result.tables), default=10)
    for table in result.tables:
        gsis = [g["IndexName"] for g in table.props.get("GlobalSecondaryIndexes", [])]
        say(f"  {table.name:<{width}}  {table.items:>3}  {', '.join(gsis) or '-'}")
    apis = result.of_kind("api")
    if apis:
        say("\nREST APIs (base URLs, ready to curl):")
        for api in apis:
            say(f"  {api.stack:<28} {api.url}")
    queues = result.of_kind("queue")
    if queues:
        say("\nqueues:")
        for queue in queues:
            say(f"  {queue.logical_id:<36} {queue.url}")
    say(f"\nendpoint {ep.url} (pid {ep.pid}, log {_rel(ep.log)}) keeps running until `make destroy`.")
    say("point the aws CLI, boto3 and the CDK CLI at it with:\n")
    say(f"  {local.export_line(result.port)}\n")


def print_fidelity(result) -> None:
    from tools.local.fidelity import DIFFERS, UNREPORTED, compare, describe

    ddb = local.client("dynamodb", result.port)
    say("fidelity: each table's template properties vs what the endpoint reports")
    applied = sorted({a for tb in result.tables for a in tb.applied})
    if applied:
        say("  (applied through the DynamoDB API, as the emulator's CloudFormation ignores them: "
            f"{', '.join(applied)})")
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


# -- destroy / diff / status --------------------------------------------------


def cmd_destroy(args: argparse.Namespace) -> int:
    if args.target == "aws":
        return _cdk_aws(["destroy", "--all", "--force"], args)
    ep = endpoint.stop(port=args.port)
    if ep is None:
        say("no local endpoint started by this tool is running; nothing to stop")
    else:
        say(f"stopped the local endpoint on port {ep.port} (pid {ep.pid}); its data is gone")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    if args.target == "aws":
        return _cdk_aws(["diff"], args, check=False)
    port = endpoint.require_running(args.port)
    ctx = {"stage": args.stage, **_context(args)}
    return exec_cdk(["diff", *context_args(ctx)], local.local_env(port))


def cmd_status(args: argparse.Namespace) -> int:
    ep = endpoint.recorded()
    port = args.port if args.port is not None else (ep.port if ep else DEFAULT_PORT)
    if not endpoint.is_ready(port):
        say(f"no local endpoint on {local.endpoint_url(port)} (run `make deploy`)")
        return 1
    owner = (f"pid {ep.pid}, started {time.strftime('%H:%M:%S', time.localtime(ep.started))}"
             if ep and ep.port == port else "not started by this tool")
    say(f"local endpoint {local.endpoint_url(port)} is running ({owner})")
    cfn = local.client("cloudformation", port)
    stacks = [s for s in cfn.describe_stacks().get("Stacks", []) if s["StackStatus"] != "DELETE_COMPLETE"]
    for stack in sorted(stacks, key=lambda s: s["StackName"]):
        say(f"  {stack['StackName']:<40} {stack['StackStatus']}")
    if not stacks:
        say("  no stacks deployed")
    say(f"\n  {local.export_line(port)}")
    return 0


def _cdk_aws(cdk_args: list[str], args: argparse.Namespace, *, check: bool = True) -> int:
    from tools.local.deploy import aws_env

    if os.environ.get("AWS_ENDPOINT_URL"):
        say(f"note: ignoring AWS_ENDPOINT_URL={os.environ['AWS_ENDPOINT_URL']} for --target aws")
    ctx = {"stage": args.stage, **_context(args)}
    return exec_cdk(cdk_args + context_args(ctx), aws_env())


def cmd_urls(args: argparse.Namespace) -> int:
    """``export`` lines for the endpoint and every REST API and queue: ``eval "$(make -s urls)"``."""
    from tools.local.deploy import deployed_stacks, running_resources, shell_name

    port = endpoint.require_running(args.port)
    resources = running_resources(local.client("cloudformation", port), deployed_stacks(port), port)
    say(local.export_line(port))
    for res in resources:
        if res.kind in ("api", "queue"):
            say(f"export {shell_name(res)}={res.url}")
    return 0


def cmd_rehearse(args: argparse.Namespace) -> int:
    from tools.local.rehearse import main_rehearse

    return main_rehearse(args.base, items=args.items, say=say)


# -- invoke / mail / ui ---------------------------------------------------------


def cmd_invoke(args: argparse.Namespace) -> int:
    from tools.local import invoke

    event = invoke.read_event(args.event)
    port = endpoint.require_running(args.port)
    if args.in_process:
        response = invoke.invoke_in_process(port, args.function, event)
    else:
        response, logs = invoke.invoke(port, args.function, event)
        if logs.strip():
            sys.stderr.write(logs if logs.endswith("\n") else logs + "\n")
    say(json.dumps(response, indent=2, default=str))
    return 0


def cmd_mail(args: argparse.Namespace) -> int:
    from tools.local import mail

    port = endpoint.require_running(args.port)
    if args.token_of:
        say(mail.wait_for_token(port, args.token_of, to=args.to, timeout=args.wait))
        return 0
    found = mail.messages(port)
    if args.to:
        found = [m for m in found if args.to.lower() in (a.lower() for a in m.to)]
    if not found:
        say("no mail sent yet" + (f" to {args.to}" if args.to else ""))
        return 0
    for message in found[-args.last:]:
        say(f"{message.timestamp}  {message.source} -> {', '.join(message.to)}  {message.subject}")
        for link in message.links:
            say(f"    {link}")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from tools.local import ui

    port = endpoint.require_running(args.port)
    proc = ui.start(port, args.ui_port)
    say(f"dynamodb-admin on http://127.0.0.1:{args.ui_port} (tables of {local.endpoint_url(port)}); Ctrl-C stops it")
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        return 0


# -- CLI -------------------------------------------------------------------------


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range: {port}")
    return port


def _positive(value: str) -> int:
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {value!r}")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.local",
        description="Deploy every stack into the local AWS target (MiniStack) or a real account, and use it.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def common(p: argparse.ArgumentParser, *, target: bool = True, port_default: int | None = DEFAULT_PORT) -> None:
        if target:
            p.add_argument("--target", choices=("local", "aws"), default="local",
                           help="local: MiniStack on localhost (default); aws: your account")
            p.add_argument("--stage", choices=("dev", "prod"), default="dev", help="stage to synthesize (default dev)")
            p.add_argument("-c", "--context", action="append", metavar="KEY=VALUE",
                           help="extra CDK context, e.g. -c tableName=my-kv (repeatable)")
        p.add_argument("--port", type=_port, default=port_default, help=f"local endpoint port (default {DEFAULT_PORT})")

    p = sub.add_parser("deploy", help="deploy every stack (local: MiniStack, sample data, URLs, fidelity report)")
    common(p)
    p.add_argument("--fresh", action="store_true", help="start a new endpoint even if one is running (a clean reset)")
    p.add_argument("--no-fidelity", action="store_true", help="skip the fidelity report")
    p.set_defaults(func=cmd_deploy)

    p = sub.add_parser("destroy", help="local: stop the endpoint (all data goes); aws: cdk destroy --all")
    common(p)
    p.set_defaults(func=cmd_destroy)

    p = sub.add_parser("diff", help="cdk diff against the local endpoint or the account")
    common(p)
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("invoke", help="invoke a deployed function through the Lambda API")
    p.add_argument("--function", "-f", required=True, metavar="NAME",
                   help="function name, or a unique part of its name or logical id")
    p.add_argument("--event", "-e", required=True, metavar="FILE", help="JSON event file ('-' for stdin)")
    p.add_argument("--in-process", action="store_true",
                   help="import the handler into this process instead (for a debugger)")
    common(p, target=False, port_default=None)
    p.set_defaults(func=cmd_invoke)

    p = sub.add_parser("status", help="is the local endpoint running, and which stacks it has")
    common(p, target=False, port_default=None)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("urls", help="export lines for the endpoint, the REST APIs and the queues")
    common(p, target=False, port_default=None)
    p.set_defaults(func=cmd_urls)

    p = sub.add_parser("rehearse", help="deploy a base version with data, update it to the working tree, prove")
    p.add_argument("--base", required=True, metavar="REF", help="the git ref of the version deployed first")
    p.add_argument("--items", type=_positive, default=2000, help="generated items per changed table (default 2000)")
    p.set_defaults(func=cmd_rehearse)

    p = sub.add_parser("mail", help="the latest mail sent through SES on the local endpoint, with its links")
    p.add_argument("--to", metavar="ADDRESS", help="only mail to this address")
    p.add_argument("--last", type=_positive, default=10, help="how many messages (default 10)")
    p.add_argument("--token-of", metavar="PATH",
                   help="print only the token of the newest link to PATH (e.g. /verify), waiting for the mail")
    p.add_argument("--wait", type=_positive, default=30, help="seconds to wait for --token-of (default 30)")
    common(p, target=False, port_default=None)
    p.set_defaults(func=cmd_mail)

    p = sub.add_parser("ui", help="dynamodb-admin in the browser against the local endpoint")
    p.add_argument("--ui-port", type=_port, default=8001, help="the UI's port (default 8001)")
    common(p, target=False, port_default=None)
    p.set_defaults(func=cmd_ui)
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
    except BrokenPipeError:  # `... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        # AWS SDK failures (no endpoint, denied, throttled) are expected: one line.
        if type(exc).__module__.startswith(("botocore", "boto3")):
            print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
            return 1
        raise
