#!/usr/bin/env python3
"""The CDK app: the one place that reads context and wires every stack.

``build_app`` is importable so the tests synthesize the exact app the CLI
does (same context defaults and feature flags from cdk.json), once per
session.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks, NagPack, NIST80053R5Checks, ServerlessChecks  # noqa: E402

from lambda_src.common.schema_types import STAGES  # noqa: E402
from stacks import dephealth, iops, kv, mfh  # noqa: E402
from stacks.settings import AppSettings  # noqa: E402

ROOT = Path(__file__).resolve().parent
DEFAULT_REGION = "us-east-1"
# Context keys the stacks read (cdk.json gives defaults; every one may be absent).
SETTINGS_CONTEXT = ("tableName", "gsiName", "iopsProvisioned", "kvReadFlushEvery")
# cdk-nag packs by name. Prod runs all three; dev only AwsSolutions, so its
# synths stay fast. Context ``nagPacks`` ("AwsSolutions,Serverless,...") overrides.
NAG_PACKS: dict[str, type[NagPack]] = {
    "AwsSolutions": AwsSolutionsChecks,
    "Serverless": ServerlessChecks,
    "NIST80053R5": NIST80053R5Checks,
}
DEFAULT_NAG_PACKS = {"dev": ("AwsSolutions",), "prod": ("AwsSolutions", "Serverless", "NIST80053R5")}


def cdk_json_context() -> dict[str, Any]:
    return json.loads((ROOT / "cdk.json").read_text())["context"]


def nag_packs(stage: str, selected: Any = None) -> tuple[str, ...]:
    """The cdk-nag packs for ``stage``: context ``nagPacks`` (a list or a comma-separated string), else by stage."""
    if selected is None or selected == "":
        return DEFAULT_NAG_PACKS[stage]
    names = selected.split(",") if isinstance(selected, str) else list(selected)
    names = [str(name).strip() for name in names if str(name).strip()]
    unknown = sorted(set(names) - set(NAG_PACKS))
    if unknown:
        raise SystemExit(f"unknown cdk-nag pack(s) {', '.join(unknown)}: use {', '.join(NAG_PACKS)}")
    return tuple(names)


def build_app(
    context: Mapping[str, Any] | None = None,
    *,
    outdir: str | None = None,
    validation: bool | None = None,
) -> cdk.App:
    """Build every stack. ``context`` overrides cdk.json (the CLI passes its own)."""
    merged = {**cdk_json_context(), **dict(context or {})}
    kwargs: dict[str, Any] = {"context": merged}
    if outdir:
        kwargs["outdir"] = outdir
    if validation is not None:
        kwargs["builtin_cloud_formation_validation"] = validation
    app = cdk.App(**kwargs)

    stage = str(app.node.try_get_context("stage") or "dev")
    if stage not in STAGES:
        raise SystemExit(f"unknown stage {stage!r}: use one of {', '.join(STAGES)}")
    # Both source apps deploy to us-east-1 when the CLI gives no region.
    env = cdk.Environment(
        account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
        region=os.environ.get("CDK_DEFAULT_REGION") or DEFAULT_REGION,
    )
    settings = AppSettings(
        stage=stage,
        env=env,
        context={k: app.node.try_get_context(k) for k in SETTINGS_CONTEXT},
    )
    for product in (dephealth, mfh, kv, iops):
        product.build(app, settings)

    packs = nag_packs(stage, app.node.try_get_context("nagPacks"))
    cdk.Validations.of(app).add_plugins(*(NAG_PACKS[name](app) for name in packs))
    return app


if __name__ == "__main__":
    try:
        build_app().synth()
    except SystemExit:
        raise
    except Exception as exc:  # a one-line reason instead of a jsii traceback
        print(f"synth failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
