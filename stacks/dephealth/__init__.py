"""DepHealth: its data stack (the two tables) and its service stack on them."""

from __future__ import annotations

from aws_cdk import App

from ..settings import AppSettings
from .data import DepHealthDataStack
from .service import DepHealthServiceStack

__all__ = ["DepHealthDataStack", "DepHealthServiceStack", "build"]


def build(app: App, settings: AppSettings) -> dict:
    """Add DepHealth's stacks to ``app``; return them by role."""
    data = DepHealthDataStack(app, "DepHealthData", **settings.stack_kwargs("DepHealth", "Data"))
    service = DepHealthServiceStack(app, "DepHealthService", data=data,
                                    **settings.stack_kwargs("DepHealth", "Service"))
    return {"data": data, "service": service}
