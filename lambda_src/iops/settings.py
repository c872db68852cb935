"""The IOps functions' settings, read from the environment their stacks set.

A missing variable is an error naming it, raised before the handler reads a
record: a function deployed without its table name fails on its first
invocation, loudly, instead of writing to another stage's table. (Not at
import: the bundle's modules must import without a deployment around them,
for the bundling check and the cold-start benchmark.)
"""

from __future__ import annotations

import os


class MissingSetting(RuntimeError):
    """An environment variable the deployed function needs is not set."""


def required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise MissingSetting(f"environment variable {name} is not set (the function's stack sets it)")
    return value


def metrics_table() -> str:
    """The metrics table (ingest and the daily recompute)."""
    return required("METRICS_TABLE")


def insights_table() -> str:
    """The insights table (the metrics-stream consumer)."""
    return required("INSIGHTS_TABLE")


def alert_topic_arn() -> str:
    """The SNS topic risk alerts are published to (the metrics-stream consumer)."""
    return required("ALERT_TOPIC_ARN")
