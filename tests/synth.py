"""Synthesize the app for tests: once per stage per session, fast.

CDK's built-in CloudFormation validation (a WASM engine, ~4 s) and asset
bundling are switched off; cdk-nag still runs, so a finding fails synthesis.
"""

from __future__ import annotations

import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CDK_VALIDATION", "false")


@lru_cache(maxsize=None)
def synth(stage: str, extra_context: tuple[tuple[str, object], ...] = ()) -> dict[str, dict]:
    """Stack id -> template dict for the whole app at ``stage``."""
    from app import build_app

    outdir = tempfile.mkdtemp(prefix=f"cdk-test-{stage}-")
    context = {"stage": stage, "aws:cdk:bundling-stacks": [], **dict(extra_context)}
    assembly = build_app(context, outdir=outdir, validation=False).synth()
    return {
        stack.id: json.loads(Path(stack.template_full_path).read_text())
        for stack in assembly.stacks
    }
