"""What every stack of the app shares: stage, environment, naming and tags."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk


def truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class AppSettings:
    stage: str
    env: cdk.Environment
    context: dict[str, Any] = field(default_factory=dict)

    def stack_kwargs(self, product: str, part: str) -> dict[str, Any]:
        """Keyword arguments for a product stack named ``{product}-{stage}-{part}``."""
        return {
            "stack_name": f"{product}-{self.stage}-{part}",
            "env": self.env,
            "stage": self.stage,
            "tags": {"project": "dynamodb-data-layer", "stage": self.stage, "product": product},
        }

    def flag(self, name: str) -> bool:
        return truthy(self.context.get(name))
