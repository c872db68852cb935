"""MyFusion Helper's stateful stack: its ten tables (SPEC §1.2)."""

from __future__ import annotations

from constructs import Construct

from lambda_src.mfh import schema

from ..product_data import ProductDataStack


class MyFusionDataStack(ProductDataStack):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str, **kwargs) -> None:
        super().__init__(scope, construct_id, stage=stage, specs=schema.TABLES, **kwargs)

