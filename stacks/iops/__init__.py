"""IOps dashboard: core, database and intelligence stacks (SPEC §1.4).

Dependencies run core -> database -> intelligence, never back: the database
stack attaches its grants to the core's execution role, and the intelligence
stack consumes the metrics stream through the database stack's exports.
"""

from __future__ import annotations

from aws_cdk import App, Fn

from constructs_lib.schema_table import ProvisionedCapacity

from ..settings import AppSettings
from .core import IOpsCoreStack
from .database import EXPORT_PREFIX, IOpsDatabaseStack
from .intelligence import IOpsIntelligenceStack

__all__ = ["EXPORT_PREFIX", "IOpsCoreStack", "IOpsDatabaseStack", "IOpsIntelligenceStack", "build"]

# The source design's stack descriptions, word for word.
CORE_DESCRIPTION = "Core infrastructure for Intelligent Operations Dashboard"
DATABASE_DESCRIPTION = "DynamoDB tables for metrics and insights"
INTELLIGENCE_DESCRIPTION = "AI inference and alerting"


def build(app: App, settings: AppSettings) -> dict:
    """Add the IOps dashboard's stacks; ``iopsProvisioned`` switches on provisioned mode."""
    core = IOpsCoreStack(app, "IOpsDashboardCore", description=CORE_DESCRIPTION,
                         **settings.stack_kwargs("IOpsDashboard", "Core"))
    database = IOpsDatabaseStack(
        app,
        "IOpsDashboardDatabase",
        execution_role=core.execution_role,
        description=DATABASE_DESCRIPTION,
        provisioned=ProvisionedCapacity() if settings.flag("iopsProvisioned") else None,
        **settings.stack_kwargs("IOpsDashboard", "Database"),
    )
    intelligence = IOpsIntelligenceStack(
        app,
        "IOpsDashboardIntelligence",
        metrics_stream_arn=Fn.import_value(f"{EXPORT_PREFIX}-MetricsTableStreamArn"),
        insights_table_arn=Fn.import_value(f"{EXPORT_PREFIX}-InsightsTableArn"),
        description=INTELLIGENCE_DESCRIPTION,
        **settings.stack_kwargs("IOpsDashboard", "Intelligence"),
    )
    intelligence.add_stack_dependency(database, "reads the database stack's exports")
    return {"core": core, "database": database, "intelligence": intelligence}
