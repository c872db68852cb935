"""MyFusion Helper: one data stack with its ten tables."""

from __future__ import annotations

from aws_cdk import App

from ..settings import AppSettings
from .data import MyFusionDataStack

__all__ = ["MyFusionDataStack", "build"]


def build(app: App, settings: AppSettings) -> dict:
    """Add MyFusion Helper's stacks to ``app``; return them by role."""
    data = MyFusionDataStack(app, "MyFusionData", **settings.stack_kwargs("MyFusion", "Data"))
    return {"data": data}
