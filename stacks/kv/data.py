"""KV storage: the single table (SPEC §1.3), name and GSI name from context."""

from __future__ import annotations

from aws_cdk import CfnOutput
from constructs import Construct

from constructs_lib.schema_table import SchemaTable
from lambda_src.kv import schema

from ..product_data import ProductDataStack


class KvDataStack(ProductDataStack):
    """Exposes ``table`` (the ``aws_dynamodb.Table``) for other stacks."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        table_name: str = schema.TABLE.table_name("dev"),
        gsi_name: str = schema.GSI1.name,
        **kwargs,
    ) -> None:
        spec = schema.TABLE.with_index_renamed(schema.GSI1.name, gsi_name)
        super().__init__(
            scope,
            construct_id,
            stage=stage,
            specs=(spec,),
            table_names={spec.alias: table_name},
            **kwargs,
        )
        self.schema_table: SchemaTable = self.tables[spec.alias]
        self.table = self.schema_table.table
        self.gsi_name = gsi_name
        # Table exports for other stacks and tools (Fn::ImportValue), one pair per stage.
        CfnOutput(self, "TableName", value=self.table.table_name,
                  description="KV storage single table name", export_name=export_name(stage, "TableName"))
        CfnOutput(self, "TableArn", value=self.table.table_arn,
                  description="ARN of the KV storage single table", export_name=export_name(stage, "TableArn"))


def export_name(stage: str, what: str) -> str:
    """``KvStorage-<stage>-TableName`` / ``KvStorage-<stage>-TableArn``."""
    return f"KvStorage-{stage}-{what}"

