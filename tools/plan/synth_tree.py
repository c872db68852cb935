"""Synthesize one source tree's app, both stages, in this process.

    python tools/plan/synth_tree.py TREE OUT.json [STAGE ...]

Run as a script in a subprocess whose import path starts at TREE, so the tree's own
``app.build_app`` (and its stacks, constructs and schemas) are the ones
imported. CDK's built-in CloudFormation validation and asset bundling are
off, as in the tests; cdk-nag still runs. Writes
``{stage: {stack name: template}}`` to OUT.json.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path


def main(argv: list[str]) -> int:
    tree, out, *stages = argv
    os.environ["CDK_VALIDATION"] = "false"
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    sys.path[0] = tree  # this script's own folder out, the tree in
    os.chdir(tree)
    try:
        from app import build_app
    except ImportError as exc:
        print(f"the tree has no importable app.build_app ({exc})", file=sys.stderr)
        return 3
    result: dict[str, dict[str, dict]] = {}
    for stage in stages or ["dev", "prod"]:
        outdir = tempfile.mkdtemp(prefix=f"plan-synth-{stage}-")
        context = {"stage": stage, "aws:cdk:bundling-stacks": []}
        try:
            assembly = build_app(context, outdir=outdir, validation=False).synth()
        except SystemExit as exc:
            print(f"stage {stage}: {exc}", file=sys.stderr)
            return 3
        except Exception as exc:  # jsii errors carry a long stack: keep the first line
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            print(f"stage {stage}: {first}", file=sys.stderr)
            return 3
        result[stage] = {
            stack.stack_name: json.loads(Path(stack.template_full_path).read_text())
            for stack in assembly.stacks
        }
    Path(out).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
