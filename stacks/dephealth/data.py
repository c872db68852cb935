"""DepHealth's stateful stack: the packages and api-keys tables (SPEC §1.1)."""

from __future__ import annotations

from constructs import Construct

from lambda_src.dephealth import schema

from ..product_data import ProductDataStack


class DepHealthDataStack(ProductDataStack):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str, **kwargs) -> None:
        super().__init__(scope, construct_id, stage=stage, specs=schema.TABLES, **kwargs)
        self.packages = self.tables[schema.PACKAGES.alias]
        self.api_keys = self.tables[schema.API_KEYS.alias]

