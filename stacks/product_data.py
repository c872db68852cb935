"""A stateful stack that owns a product's tables, one ``SchemaTable`` each.

Tables live apart from the stateless services so that a service can be torn
down, renamed or rebuilt without touching data. In prod the stack also owns
the daily AWS Backup of the tables it keeps (``constructs_lib.backup``);
a table the spec declares disposable in prod (MyFusion's ``oauth-states``)
is left out, and dev has no backups.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import Construct

from constructs_lib.backup import TableBackups
from constructs_lib.schema_table import ProvisionedCapacity, SchemaTable
from lambda_src.common.schema_types import TableSpec


def construct_id_for(spec: TableSpec) -> str:
    """``mfh.user-accounts`` -> ``UserAccountsTable`` (PascalCase construct ids)."""
    name = spec.alias.split(".", 1)[1]
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-")) + "Table"


class ProductDataStack(Stack):
    """Owns the tables of one product and exposes them by alias."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        specs: Iterable[TableSpec],
        table_names: dict[str, str] | None = None,
        provisioned: ProvisionedCapacity | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.stage = stage
        self.tables: dict[str, SchemaTable] = {}
        for spec in specs:
            self.tables[spec.alias] = SchemaTable(
                self,
                construct_id_for(spec),
                spec=spec,
                stage=stage,
                table_name=(table_names or {}).get(spec.alias),
                provisioned=provisioned,
            )
        self.backups: TableBackups | None = None
        if stage == "prod":
            self._back_up(stage)

    def _back_up(self, stage: str) -> None:
        """Back up every table the spec keeps; acknowledge the disposable ones by name."""
        kept = [t for t in self.tables.values() if t.spec.protection(stage).retain]
        if kept:
            self.backups = TableBackups(self, "Backups", tables=[t.table for t in kept])
        for table in self.tables.values():
            if table not in kept:
                Validations.of(table.cfn_table).acknowledge(Acknowledgment(
                    id="NIST.800.53.R5-DynamoDBInBackupPlan",
                    reason=f"{table.spec.alias}: disposable in {stage} by the spec (short-lived records "
                    "that expire through TTL); nothing in it outlives a restore window.",
                ))
