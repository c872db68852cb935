"""The IOps functions' settings, read from the environment their stacks set.

A missing variable is an error naming it, raised before the handler reads a
record: a function deployed without its table name fails on its first
invocation, loudly, instead of writing to another stage's table. (Not at
import: the bundle's modules must import without a deployment around them,
for the bundling check and the cold-start benchmark.)
"""

from __future__ import annotations

from lambda_src.common.environment import MissingSetting, required

from .declarations import ALERT_TOPIC_ARN_VAR, INSIGHTS_TABLE_VAR, METRICS_TABLE_VAR

__all__ = ["MissingSetting", "alert_topic_arn", "insights_table", "metrics_table"]


def metrics_table() -> str:
    """The metrics table (ingest and the daily recompute)."""
    return required(METRICS_TABLE_VAR)


def insights_table() -> str:
    """The insights table (the metrics-stream consumer)."""
    return required(INSIGHTS_TABLE_VAR)


def alert_topic_arn() -> str:
    """The SNS topic risk alerts are published to (the metrics-stream consumer)."""
    return required(ALERT_TOPIC_ARN_VAR)
