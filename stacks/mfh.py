"""MyFusion Helper: its ten tables (SPEC §1.2)."""

from __future__ import annotations

from constructs import Construct

from lambda_src.mfh import schema

from .data import ProductDataStack


class MyFusionDataStack(ProductDataStack):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str, **kwargs) -> None:
        super().__init__(scope, construct_id, stage=stage, specs=schema.TABLES, **kwargs)


def build(app, settings) -> dict:
    """Add MyFusion Helper's stacks to ``app``; return them by role."""
    data = MyFusionDataStack(app, "MyFusionData", **settings.stack_kwargs("MyFusion", "Data"))
    return {"data": data}
