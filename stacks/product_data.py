"""A stateful stack that owns a product's tables, one ``SchemaTable`` each.

Tables live apart from the stateless services so that a service can be torn
down, renamed or rebuilt without touching data.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Stack
from constructs import Construct

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
        **kwargs,
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
