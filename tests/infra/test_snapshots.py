"""A snapshot of every synthesized template, per stage.

Asset hashes and S3 keys are masked so the snapshots change only when the
infrastructure does, not when handler code does. Update with
``pytest --snapshot-update`` after an intended change, and review the diff.
"""

from __future__ import annotations

import re

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

_HASH = re.compile(r"[0-9a-f]{64}")


def mask_volatile(value, key: str | None = None):
    if isinstance(value, dict):
        return {k: mask_volatile(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_volatile(v) for v in value]
    if isinstance(value, str):
        if key == "S3Key":
            return "<asset>"
        return _HASH.sub("<hash>", value)
    return value


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_templates_match_snapshots(stage, snapshot_json):
    from tests.synth import synth

    templates = synth(stage)
    assert templates, "the app synthesized no stacks"
    for stack_id, template in sorted(templates.items()):
        assert mask_volatile(template) == snapshot_json(name=f"{stage}-{stack_id}")
