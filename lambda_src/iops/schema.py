"""IOps dashboard tables (SPEC §1.4): per-entity metrics and AI insights."""

from __future__ import annotations

from lambda_src.common.schema_types import (
    AccessPattern,
    Attr,
    Attribute,
    Index,
    KeyFormat,
    Protection,
    SortCondition,
    TableSpec,
)

INSIGHT_PK = KeyFormat("insight#{entity_id}")
INSIGHT_SK = KeyFormat("{timestamp}")  # ISO-8601 UTC
INSIGHT_TTL_DAYS = 90
ENTITY_TYPES = ("student", "tutor", "subject", "region")

ENTITY_TYPE_HEALTH_INDEX = Index("EntityTypeHealthIndex", Attr("entity_type"), Attr("health_score", "N"),
                                 use_case="Find all students with health_score < 70")
LAST_UPDATED_INDEX = Index("LastUpdatedIndex", Attr("entity_type"), Attr("last_updated"),
                           use_case="Find recently updated entities")
PREDICTION_TYPE_INDEX = Index("PredictionTypeIndex", Attr("prediction_type"), Attr("timestamp"),
                              use_case="Find all churn risk predictions")
RISK_SCORE_INDEX = Index("RiskScoreIndex", Attr("prediction_type"), Attr("risk_score", "N"),
                         use_case="Find highest risk predictions")

# Dev tables may be destroyed, but keep PITR so the settings match prod.
_DEV = Protection(pitr=True, deletion_protection=False, retain=False)


def _metrics(entity_id, entity_type, health, s7, s14, s30, ib7, ib14, rating, updated):
    return {"entity_id": entity_id, "entity_type": entity_type, "health_score": health,
            "sessions_7d": s7, "sessions_14d": s14, "sessions_30d": s30,
            "ib_calls_7d": ib7, "ib_calls_14d": ib14, "avg_rating": rating,
            "last_updated": updated}


METRICS_ATTRIBUTES = (
    Attribute("entity_id", "S", "Primary identifier (student_id, tutor_id, subject, region)"),
    Attribute("entity_type", "S", "student, tutor, subject, region"),
    Attribute("sessions_7d", "N", "Session count last 7 days"),
    Attribute("sessions_14d", "N", "Session count last 14 days"),
    Attribute("sessions_30d", "N", "Session count last 30 days"),
    Attribute("ib_calls_7d", "N", "IB call count last 7 days"),
    Attribute("ib_calls_14d", "N", "IB call count last 14 days"),
    Attribute("avg_rating", "N", "Average rating (0-5)"),
    Attribute("health_score", "N", "Health score (0-100)"),
    Attribute("last_updated", "S", "ISO8601 timestamp"),
    Attribute("days", "M", "Per-day event counts and event ids behind the windows (written by the ingest)",
              optional=True),
    Attribute("version", "N", "Optimistic-lock counter of the ingest and the daily recompute",
              optional=True),
)

INSIGHTS_ATTRIBUTES = (
    Attribute("pk", "S", "insight#{entity_id}"),
    Attribute("sk", "S", "ISO8601 timestamp"),
    Attribute("alert_id", "S", "Unique alert identifier"),
    Attribute("entity_id", "S", "Related entity ID"),
    Attribute("prediction_type", "S", "Alert type"),
    Attribute("risk_score", "N", "Risk score (0-100)"),
    Attribute("explanation", "S", "AI-generated explanation"),
    Attribute("recommendations", "L", "Array of recommendation strings"),
    Attribute("timestamp", "S", "ISO8601 timestamp"),
    Attribute("model_used", "S", "AI model identifier"),
    Attribute("ttl", "N", "Unix timestamp for auto-deletion (90 days after the insight)"),
)

METRICS = TableSpec(
    alias="iops.metrics",
    name_template="iops-dashboard-metrics",
    description="Rolling per-entity aggregates and a 0-100 health score.",
    attributes=METRICS_ATTRIBUTES,
    partition=Attr("entity_id"),
    sort=Attr("entity_type"),
    indexes=(ENTITY_TYPE_HEALTH_INDEX, LAST_UPDATED_INDEX),
    stream="NEW_AND_OLD_IMAGES",
    dev=_DEV,
    access_patterns=(
        AccessPattern("entity-metrics", "One entity's metrics.", KeyFormat("{entity_id}"),
                      sort=SortCondition("=", KeyFormat("{entity_type}")), get_item=True,
                      example={"entity_id": "stu_4532", "entity_type": "student"},
                      expect=({"entity_id": "stu_4532", "entity_type": "student"},)),
        AccessPattern("low-health", "Entities of a type with health_score below a threshold, worst first.",
                      KeyFormat("{entity_type}"), index=ENTITY_TYPE_HEALTH_INDEX.name,
                      sort=SortCondition("<", KeyFormat("{health_score}")),
                      example={"entity_type": "student", "health_score": 70},
                      expect=({"entity_id": "stu_2203", "entity_type": "student"},)),
        AccessPattern("entities-by-type", "Every entity of a type (all students), by health_score.",
                      KeyFormat("{entity_type}"), index=ENTITY_TYPE_HEALTH_INDEX.name,
                      example={"entity_type": "student"},
                      expect=({"entity_id": "stu_2203", "entity_type": "student"},
                              {"entity_id": "stu_4532", "entity_type": "student"},
                              {"entity_id": "stu_1001", "entity_type": "student"})),
        AccessPattern("recently-updated", "Entities of a type, most recently updated first.",
                      KeyFormat("{entity_type}"), index=LAST_UPDATED_INDEX.name, newest_first=True,
                      example={"entity_type": "student"},
                      expect=({"entity_id": "stu_1001", "entity_type": "student"},
                              {"entity_id": "stu_2203", "entity_type": "student"},
                              {"entity_id": "stu_4532", "entity_type": "student"})),
        # The daily window recompute (lambda_src/iops/recompute.py): entities whose
        # last event lies in the last 31 UTC days, and older ones (filtered to
        # windows not yet all zero). ``since`` / ``before``: an ISO date or time.
        AccessPattern("updated-since", "Entities of a type last updated at or after a time, oldest first.",
                      KeyFormat("{entity_type}"), index=LAST_UPDATED_INDEX.name,
                      sort=SortCondition(">=", KeyFormat("{since}")),
                      example={"entity_type": "student", "since": "2026-11-21"},
                      expect=({"entity_id": "stu_2203", "entity_type": "student"},
                              {"entity_id": "stu_1001", "entity_type": "student"})),
        AccessPattern("updated-before", "Entities of a type last updated before a time, oldest first.",
                      KeyFormat("{entity_type}"), index=LAST_UPDATED_INDEX.name,
                      sort=SortCondition("<", KeyFormat("{before}")),
                      example={"entity_type": "student", "before": "2026-11-22"},
                      expect=({"entity_id": "stu_4532", "entity_type": "student"},
                              {"entity_id": "stu_2203", "entity_type": "student"})),
    ),
    examples=(
        # The source design's example item.
        _metrics("stu_4532", "student", 72, 2, 5, 12, 1, 3, 4.5, "2025-01-15T10:30:00Z"),
        _metrics("stu_1001", "student", 88, 4, 8, 15, 0, 0, 4.8, "2026-11-22T08:00:00Z"),
        _metrics("stu_2203", "student", 41, 0, 1, 4, 2, 5, 2.9, "2026-11-21T17:40:00Z"),
        _metrics("tut_0077", "tutor", 91, 22, 41, 80, 1, 1, 4.9, "2026-11-22T09:15:00Z"),
        _metrics("sub_algebra", "subject", 76, 120, 230, 470, 9, 15, 4.4, "2026-11-22T09:15:00Z"),
        _metrics("reg_emea", "region", 80, 900, 1750, 3600, 40, 77, 4.5, "2026-11-22T09:15:00Z"),
    ),
)

_A1 = {"pk": "insight#stu_4532", "sk": "2026-11-22T09:16:00Z"}
_A2 = {"pk": "insight#stu_4532", "sk": "2026-11-15T09:16:00Z"}
_A3 = {"pk": "insight#stu_2203", "sk": "2026-11-21T17:41:00Z"}
_A4 = {"pk": "insight#stu_2203", "sk": "2026-11-21T17:41:01Z"}
_SOURCE = {"pk": "insight#stu_4532", "sk": "2025-01-15T10:30:00Z"}  # the source design's example

INSIGHTS = TableSpec(
    alias="iops.insights",
    name_template="iops-dashboard-insights",
    description="AI insights and risk predictions per entity; expire after 90 days.",
    attributes=INSIGHTS_ATTRIBUTES,
    partition=Attr("pk"),
    sort=Attr("sk"),
    indexes=(PREDICTION_TYPE_INDEX, RISK_SCORE_INDEX),
    ttl_attribute="ttl",
    dev=_DEV,
    access_patterns=(
        AccessPattern("entity-insights", "An entity's latest insights, newest first.",
                      INSIGHT_PK, newest_first=True, limit=10,
                      example={"entity_id": "stu_4532"}, expect=(_A1, _A2, _SOURCE)),
        AccessPattern("entity-insights-in-period", "An entity's insights within a period "
                      "(an ISO timestamp prefix: a year, month or day), newest first.",
                      INSIGHT_PK, sort=SortCondition("begins_with", KeyFormat("{period}")),
                      newest_first=True,
                      example={"entity_id": "stu_4532", "period": "2025-01"}, expect=(_SOURCE,)),
        AccessPattern("predictions-by-type", "Predictions of a type, newest first.",
                      KeyFormat("{prediction_type}"), index=PREDICTION_TYPE_INDEX.name,
                      newest_first=True, example={"prediction_type": "churn_risk"},
                      expect=(_A1, _A3, _A2)),
        AccessPattern("high-risk", "Predictions of a type with risk_score above a threshold, riskiest first.",
                      KeyFormat("{prediction_type}"), index=RISK_SCORE_INDEX.name,
                      sort=SortCondition(">", KeyFormat("{risk_score}")), newest_first=True,
                      example={"prediction_type": "high_ib_call_frequency", "risk_score": 80},
                      expect=(_A4, _SOURCE)),
    ),
    examples=(
        {**_A1, "alert_id": "alrt_5f1c", "entity_id": "stu_4532", "prediction_type": "churn_risk",
         "risk_score": 84, "explanation": "Health score 72 with 3 IB calls in 14 days and a falling rating.",
         "recommendations": ["Schedule a check-in call", "Offer a tutor change"],
         "timestamp": "2026-11-22T09:16:00Z", "model_used": "rules-v1", "ttl": 4102444800},
        {**_A2, "alert_id": "alrt_41aa", "entity_id": "stu_4532", "prediction_type": "churn_risk",
         "risk_score": 71, "explanation": "Average rating dropped from 4.2 to 3.6.",
         "recommendations": ["Review recent session notes"],
         "timestamp": "2026-11-15T09:16:00Z", "model_used": "rules-v1", "ttl": 4102444800},
        {**_A3, "alert_id": "alrt_9b02", "entity_id": "stu_2203", "prediction_type": "churn_risk",
         "risk_score": 93, "explanation": "Health score 41, no sessions in 7 days.",
         "recommendations": ["Escalate to success manager"],
         "timestamp": "2026-11-21T17:41:00Z", "model_used": "rules-v1", "ttl": 4102444800},
        {**_A4, "alert_id": "alrt_9b03", "entity_id": "stu_2203", "prediction_type": "high_ib_call_frequency",
         "risk_score": 88, "explanation": "5 IB calls in 14 days with a health score of 41.",
         "recommendations": ["Review IB call transcripts"],
         "timestamp": "2026-11-21T17:41:01Z", "model_used": "rules-v1", "ttl": 4102444800},
        # The source design's example insight. Its ttl there (1712822400) lies in
        # the past and would expire at once in the sample data: kept far ahead.
        {**_SOURCE, "alert_id": "high_ib_call_frequency_stu_4532_1705318200000", "entity_id": "stu_4532",
         "prediction_type": "high_ib_call_frequency", "risk_score": 82,
         "explanation": "Student shows high IB call frequency with declining health score...",
         "recommendations": ["Schedule immediate check-in call", "Review IB call transcripts",
                             "Offer session with senior tutor"],
         "timestamp": "2025-01-15T10:30:00Z", "model_used": "bedrock-claude-3.5-haiku", "ttl": 4102444800},
    ),
)

TABLES = (METRICS, INSIGHTS)
