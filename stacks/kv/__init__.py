"""KV storage: its data stack (the single table) and its API stack."""

from __future__ import annotations

from aws_cdk import App

from lambda_src.kv import schema
from lambda_src.kv.declarations import DEFAULT_READ_FLUSH_EVERY

from ..settings import AppSettings
from .api import KvApiStack
from .data import KvDataStack, export_name

__all__ = ["KvApiStack", "KvDataStack", "build", "export_name"]


def build(app: App, settings: AppSettings) -> dict:
    """Add KV storage's stacks to ``app`` (table and GSI names from context)."""
    data = KvDataStack(
        app,
        "KvStorageData",
        table_name=str(settings.context.get("tableName") or schema.TABLE.table_name(settings.stage)),
        gsi_name=str(settings.context.get("gsiName") or schema.GSI1.name),
        **settings.stack_kwargs("KvStorage", "Data"),
    )
    api = KvApiStack(app, "KvStorageApi", data=data,
                     read_flush_every=int(settings.context.get("kvReadFlushEvery") or DEFAULT_READ_FLUSH_EVERY),
                     **settings.stack_kwargs("KvStorage", "Api"))
    return {"data": data, "api": api}
