"""The update plan check: what deploying the working tree would do to stateful resources.

    python -m tools.plan [--base REF] [--target local|aws] [--port 4566]
                         [--acknowledgements FILE] [--full]

Without ``--target`` the baseline is the templates of a git ref (default:
``main``), both stages. With ``--target`` it is the stacks deployed there.
One line per finding; exit 0 when nothing fails, 1 when a finding fails,
2 on bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tools.plan import acks as ackfile
from tools.plan.baseline import (
    ROOT,
    STAGES,
    PlanError,
    both_sides,
    cloudformation_client,
    default_ref,
    deployed,
    resolve,
    same_synth_inputs,
    synthesize,
)
from tools.plan.compare import GUIDE, compare_app

ACK_FILE = ROOT / "security" / "plan-acknowledgements.json"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not the usage block
        print(f"plan: {message} (see python -m tools.plan --help)", file=sys.stderr)
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m tools.plan", description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="", help="git ref to compare with (default: main)")
    parser.add_argument("--target", choices=("local", "aws"), help="compare with the deployed stacks")
    parser.add_argument("--port", type=int, default=4566, help="local target port")
    parser.add_argument("--acknowledgements", type=Path, default=ACK_FILE)
    parser.add_argument(
        "--full", action="store_true",
        help="synthesize both sides afresh, even when the synth inputs equal the base",
    )
    return parser


def run(args: argparse.Namespace, out=sys.stdout) -> int:
    started = time.monotonic()
    acks = ackfile.load(args.acknowledgements)
    if args.target:
        if args.base:
            raise PlanError("give either --base (a git ref) or --target (deployed stacks), not both")
        client = cloudformation_client(args.target, args.port)  # fails fast when not running
        head = synthesize(ROOT, STAGES)
        base = deployed(args.target, args.port, head, client)
        head = {stage: stacks for stage, stacks in head.items() if stage in base}
        label = f"the stacks deployed on {args.target}"
        if not base:
            print(f"plan: no stacks of this app deployed on {args.target}: nothing to compare",
                  file=out)
    else:
        ref = args.base or default_ref()
        commit = resolve(ref)
        label = f"{ref} ({commit[:12]})"
        if not args.full and same_synth_inputs(commit):
            base = head = {}
        else:
            base, head = both_sides(ref, commit, use_cache=not args.full)
    findings = compare_app(base, head)
    verdict = ackfile.judge(findings, acks)
    elapsed = time.monotonic() - started
    if not findings and not verdict.stale:
        print(f"plan: no stateful changes against {label} ({elapsed:.1f} s)", file=out)
        return 0
    for finding in verdict.refused:
        print(f"REFUSED  {finding.line()}", file=out)
    for finding in verdict.unacknowledged:
        print(f"UNACKED  {finding.line()}", file=out)
    for finding, ack in verdict.acknowledged:
        print(f"ACKED    {finding.line()} [acknowledged: {ack.reason}]", file=out)
    for finding in verdict.notes:
        print(f"ok       {finding.line()}", file=out)
    for ack in verdict.stale:
        print(
            f"STALE    {ack.stack}/{ack.logical_id} {ack.kind}: acknowledged in "
            f"{args.acknowledgements.name} but not part of this plan; remove the entry",
            file=out,
        )
    failing = len(verdict.refused) + len(verdict.unacknowledged) + len(verdict.stale)
    summary = (
        f"plan: {len(findings)} stateful change(s) against {label}, "
        f"{failing} failing ({elapsed:.1f} s)"
    )
    if failing:
        summary += f"; safe sequences: {GUIDE}"
    print(summary, file=out)
    return 0 if verdict.ok else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except (PlanError, ackfile.AckError) as exc:
        print(f"plan: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("plan: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
