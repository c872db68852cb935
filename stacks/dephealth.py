"""DepHealth: the packages and api-keys tables (SPEC §1.1), and the service on them."""

from __future__ import annotations

from constructs import Construct

from lambda_src.dephealth import schema

from .data import ProductDataStack


class DepHealthDataStack(ProductDataStack):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str, **kwargs) -> None:
        super().__init__(scope, construct_id, stage=stage, specs=schema.TABLES, **kwargs)
        self.packages = self.tables[schema.PACKAGES.alias]
        self.api_keys = self.tables[schema.API_KEYS.alias]


def build(app, settings) -> dict:
    """Add DepHealth's stacks to ``app``; return them by role."""
    from .dephealth_service import DepHealthServiceStack

    data = DepHealthDataStack(app, "DepHealthData", **settings.stack_kwargs("DepHealth", "Data"))
    service = DepHealthServiceStack(app, "DepHealthService", data=data,
                                    **settings.stack_kwargs("DepHealth", "Service"))
    return {"data": data, "service": service}
