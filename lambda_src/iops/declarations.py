"""The IOps dashboard's runtime facts that its infrastructure reads too.

Pure data (no boto3, no Powertools), like ``schema``: the stacks set these
variables on the functions and ``settings`` reads them, so neither keeps a
copy of the other's names.
"""

from __future__ import annotations

# The environment variables the stacks set on the functions.
METRICS_TABLE_VAR = "METRICS_TABLE"  # ingest and the daily recompute
INSIGHTS_TABLE_VAR = "INSIGHTS_TABLE"  # the metrics-stream consumer
ALERT_TOPIC_ARN_VAR = "ALERT_TOPIC_ARN"  # the metrics-stream consumer
