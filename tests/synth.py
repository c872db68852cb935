"""Synthesize the app for tests: once per stage per session, fast.

CDK's built-in CloudFormation validation (a WASM engine, ~4 s) and asset
bundling are switched off; cdk-nag runs with the packs ``app.py`` selects for
the stage (prod: AwsSolutions, Serverless and NIST 800-53 rev 5).

A cdk-nag finding interrupts synthesis after the templates are written. The
session keeps those templates (so the template tests still say what they
check) and the findings, which ``tests/infra/test_prod_hardening.py`` turns
into one failure listing every unacknowledged finding.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CDK_VALIDATION", "false")

REPORT = "validation-report.json"


@dataclass(frozen=True)
class Finding:
    """One unacknowledged cdk-nag finding: pack, rule and the construct path that raised it."""

    pack: str
    rule: str
    construct: str
    description: str

    def __str__(self) -> str:
        return f"{self.pack}::{self.rule} on {self.construct}: {self.description}"


@dataclass(frozen=True)
class Synthesis:
    templates: dict[str, dict]
    findings: tuple[Finding, ...]


def findings_of(report: dict) -> tuple[Finding, ...]:
    """Every violating construct of every plugin report, sorted."""
    rows = {
        Finding(plugin["pluginName"], violation["ruleName"], construct["constructPath"], violation["description"])
        for plugin in report.get("pluginReports", [])
        for violation in plugin.get("violations", [])
        for construct in violation.get("violatingConstructs", [])
    }
    return tuple(sorted(rows, key=lambda f: (f.pack, f.rule, f.construct)))


def synthesize(context: dict, outdir: str) -> Synthesis:
    """Build and synthesize the app; a failed cdk-nag validation yields its findings, not an exception."""
    from app import build_app

    app = build_app(context, outdir=outdir, validation=False)
    try:
        assembly = app.synth()
    except Exception:
        report = Path(outdir) / REPORT
        if not report.is_file():
            raise  # not a validation failure
        templates = {path.name.removesuffix(".template.json"): json.loads(path.read_text())
                     for path in sorted(Path(outdir).glob("*.template.json"))}
        return Synthesis(templates, findings_of(json.loads(report.read_text())))
    return Synthesis(
        {stack.id: json.loads(Path(stack.template_full_path).read_text()) for stack in assembly.stacks},
        (),
    )


@cache
def synthesis(stage: str, extra_context: tuple[tuple[str, object], ...] = ()) -> Synthesis:
    """The whole app at ``stage``, synthesized once per session (per extra context)."""
    outdir = tempfile.mkdtemp(prefix=f"cdk-test-{stage}-")
    context = {"stage": stage, "aws:cdk:bundling-stacks": [], **dict(extra_context)}
    return synthesize(context, outdir)


def synth(stage: str, extra_context: tuple[tuple[str, object], ...] = ()) -> dict[str, dict]:
    """Stack id -> template dict for the whole app at ``stage``."""
    return synthesis(stage, extra_context).templates
