"""Metrics-stream consumer: risk rules on OLD vs NEW images -> insights + SNS alerts.

A rule fires only when an entity *crosses* it in this change: the OLD image
was on the safe side and the NEW image is not. An entity that is already
past a threshold and gets worse does not alert again. INSERT records (no OLD
image, no baseline) and REMOVE records never alert.

Rules (prediction_type: condition -> risk_score, 0-100):

* ``churn_risk``: health_score falls below 70 ->
  ``min(100, 50 + 2 * (70 - health_score) + 5 * ib_calls_7d)``
* ``support_escalation``: ib_calls_7d rises above IB_ALERT[type] ->
  ``min(100, 60 + 10 * (ib_calls_7d - IB_ALERT[type]))``
* ``satisfaction_drop``: avg_rating drops by 0.5 or more ->
  ``min(100, round(50 + 40 * drop))``

Each firing writes one insight (``insight#{entity_id}`` / ISO timestamp,
ttl = timestamp + 90 days) and publishes it to the alert topic. The key is
derived from the stream record (its creation time plus a millisecond part
from its sequence number and the rule), and the put is conditional, so a
retried stream batch neither duplicates the insight nor re-publishes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from lambda_src.common import aws_clients, clock
from lambda_src.common.requests import from_item, to_item

from . import schema, settings

HEALTH_THRESHOLD = 70
IB_ALERT = {"student": 3, "tutor": 5, "subject": 30, "region": 100}
RATING_DROP = 0.5
RULES = ("churn_risk", "support_escalation", "satisfaction_drop")

logger = Logger()
# Report every failed record (by sequence number), even when the whole batch failed.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


@dataclass(frozen=True)
class Finding:
    """A rule crossing, before it is explained."""

    entity_id: str
    entity_type: str
    prediction_type: str
    risk_score: int
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Explanation:
    text: str
    recommendations: tuple[str, ...]


class ExplanationGenerator(Protocol):
    """Turns a finding into words. A model-backed generator plugs in here."""

    model_id: str

    def explain(self, finding: Finding) -> Explanation: ...


class RuleBasedExplainer:
    """Deterministic default: templated text and fixed recommendations per rule."""

    model_id = "rules-v1"

    _RECOMMENDATIONS = {
        "churn_risk": ("Schedule a check-in call", "Review recent session notes"),
        "support_escalation": ("Review the open support calls", "Assign a success manager"),
        "satisfaction_drop": ("Review recent session ratings", "Offer a tutor change"),
    }

    def explain(self, finding: Finding) -> Explanation:
        f = finding.facts
        if finding.prediction_type == "churn_risk":
            text = (f"Health score fell from {f['old_health']} to {f['new_health']} "
                    f"(below {HEALTH_THRESHOLD}) with {f['ib_calls_7d']} IB calls and "
                    f"{f['sessions_7d']} sessions in 7 days.")
        elif finding.prediction_type == "support_escalation":
            text = (f"IB calls in 7 days rose from {f['old_ib']} to {f['new_ib']} "
                    f"(above {f['threshold']}).")
        else:
            text = f"Average rating dropped from {f['old_rating']} to {f['new_rating']}."
        recommendations = self._RECOMMENDATIONS[finding.prediction_type]
        if finding.entity_type == "tutor" and finding.prediction_type != "support_escalation":
            recommendations = ("Pair the tutor with a mentor",) + recommendations[:1]
        return Explanation(text, recommendations)


def _num(image: Mapping[str, Any], name: str) -> float | None:
    value = image.get(name)
    return float(value) if isinstance(value, (int, float)) else None


def evaluate(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Finding]:
    """Every rule that ``new`` crosses relative to ``old`` (plain-Python images)."""
    if not old or not new:
        return []
    entity_type = new.get("entity_type")
    if entity_type not in schema.ENTITY_TYPES:
        return []
    entity_id = str(new.get("entity_id"))
    findings = []
    old_h, new_h = _num(old, "health_score"), _num(new, "health_score")
    ib7 = int(_num(new, "ib_calls_7d") or 0)
    if old_h is not None and new_h is not None and old_h >= HEALTH_THRESHOLD > new_h:
        risk = min(100, round(50 + 2 * (HEALTH_THRESHOLD - new_h) + 5 * ib7))
        findings.append(Finding(entity_id, entity_type, "churn_risk", risk, {
            "old_health": int(old_h), "new_health": int(new_h), "ib_calls_7d": ib7,
            "sessions_7d": int(_num(new, "sessions_7d") or 0)}))
    threshold = IB_ALERT[entity_type]
    old_ib = int(_num(old, "ib_calls_7d") or 0)
    if old_ib <= threshold < ib7:
        risk = min(100, 60 + 10 * (ib7 - threshold))
        findings.append(Finding(entity_id, entity_type, "support_escalation", risk,
                                {"old_ib": old_ib, "new_ib": ib7, "threshold": threshold}))
    old_r, new_r = _num(old, "avg_rating"), _num(new, "avg_rating")
    if old_r is not None and new_r is not None and round(old_r - new_r, 6) >= RATING_DROP:
        drop = old_r - new_r
        findings.append(Finding(entity_id, entity_type, "satisfaction_drop",
                                min(100, round(50 + 40 * drop)),
                                {"old_rating": old_r, "new_rating": new_r}))
    return findings


def record_time(dynamodb_part: Mapping[str, Any]) -> datetime:
    """The stream record's creation time (epoch seconds in Lambda events); now when it has none."""
    value = dynamodb_part.get("ApproximateCreationDateTime")
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), UTC)
    return clock.utc_now()


def insight_item(finding: Finding, explanation: Explanation, model_used: str,
                 at: datetime, source_id: str) -> dict:
    timestamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    alert_id = "alrt_" + hashlib.sha256(f"{source_id}|{finding.prediction_type}".encode()).hexdigest()[:12]
    return {
        "pk": schema.INSIGHT_PK.build(entity_id=finding.entity_id),
        "sk": schema.INSIGHT_SK.build(timestamp=timestamp),
        "alert_id": alert_id,
        "entity_id": finding.entity_id,
        "entity_type": finding.entity_type,
        "prediction_type": finding.prediction_type,
        "risk_score": finding.risk_score,
        "explanation": explanation.text,
        "recommendations": list(explanation.recommendations),
        "model_used": model_used,
        "timestamp": timestamp,
        "ttl": int(at.timestamp()) + schema.INSIGHT_TTL_DAYS * 86400,
    }


@dataclass
class InsightWriter:
    """Stores and publishes the insights of stream records.

    ``sns`` None: the container's SNS client, created at the first publish
    (most batches cross no rule, and creating the client costs about 50 ms
    of CPU after the DynamoDB one).
    """

    ddb: Any
    table: str
    topic_arn: str | None
    sns: Any = None
    explainer: ExplanationGenerator = field(default_factory=RuleBasedExplainer)

    def process_record(self, record: Mapping[str, Any]) -> list[dict]:
        """One raw stream record -> the insights it produced (already stored and published)."""
        part = record.get("dynamodb") or {}
        if record.get("eventName") != "MODIFY":
            return []
        old = from_item(part.get("OldImage") or {})
        new = from_item(part.get("NewImage") or {})
        findings = evaluate(old, new)
        if not findings:
            return []
        base = record_time(part)
        sequence = str(part.get("SequenceNumber") or record.get("eventID") or "")
        spread = int(hashlib.sha256(sequence.encode()).hexdigest(), 16) % 333
        written = []
        for finding in findings:
            at = base.replace(microsecond=0) + timedelta(milliseconds=spread * 3 + RULES.index(finding.prediction_type))
            explanation = self.explainer.explain(finding)
            item = insight_item(finding, explanation, self.explainer.model_id, at, sequence)
            try:
                self.ddb.put_item(TableName=self.table, Item=to_item(item),
                                  ConditionExpression="attribute_not_exists(sk)")
            except self.ddb.exceptions.ConditionalCheckFailedException:
                continue  # a retried record: stored and published the first time
            self.publish(item)
            written.append(item)
        return written

    def publish(self, item: Mapping[str, Any]) -> None:
        if not self.topic_arn:
            return
        if self.sns is None:
            self.sns = aws_clients.client("sns")
        self.sns.publish(
            TopicArn=self.topic_arn,
            Subject=f"IOps {item['prediction_type']}: {item['entity_id']} (risk {item['risk_score']})"[:99],
            Message=json.dumps(item, default=str),
            MessageAttributes={
                "prediction_type": {"DataType": "String", "StringValue": item["prediction_type"]},
                "entity_type": {"DataType": "String", "StringValue": item["entity_type"]},
            },
        )


def writer() -> InsightWriter:
    """The deployed writer: this container's clients, the tables and topic from the environment."""
    return InsightWriter(
        ddb=aws_clients.dynamodb(),
        table=settings.insights_table(),
        topic_arn=settings.alert_topic_arn(),
    )


@logger.inject_lambda_context(log_event=False)
def handler(event: dict, context: Any) -> dict:
    """DynamoDB stream batch -> ``{"batchItemFailures": [...]}`` (by sequence number).

    The stream's event source mapping reports batch item failures: Lambda
    retries from the first failed record, and records already done are
    recognised by their insight's key (a conditional put), never published twice.
    """
    current = writer()

    def record_handler(record: DynamoDBRecord) -> None:
        current.process_record(record.raw_event)

    return dict(process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                         context=context))
