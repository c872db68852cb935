"""Metric ingest: SQS batches of session / IB-call events -> per-entity aggregates.

Event (the SQS message body, JSON)::

    {"event_id": "evt-7f3a", "type": "session_completed", "timestamp": "2026-11-22T09:00:00Z",
     "student_id": "stu_4532", "tutor_id": "tut_0077", "subject_id": "sub_algebra",
     "region_id": "reg_emea", "rating": 4}

``type`` is ``session_completed`` (``rating`` 1-5 required) or ``ib_call``. At
least one of the four entity ids is required; the event updates the metrics
item of every entity it names.

Design
------
* **Windows from per-day buckets.** Each metrics item keeps ``days``: a
  compact JSON string (one attribute, cheap to read and rewrite) holding a map
  from UTC day (``YYYY-MM-DD``) to ``{s, ib, rs, rn, ids}`` (sessions, IB calls,
  rating sum, rating count, and the events of that day as one space-separated
  string of 12-hex-digit SHA-256 digests of their ids: 13 bytes per event). ``sessions_7d`` is the sum
  of the buckets whose day lies in ``[today-6, today]`` (today = the UTC day
  of ingest), ``_14d``/``_30d`` likewise. Buckets older than 30 days are
  pruned on every write, so an item holds at most 30 buckets. An event dated
  more than 30 days back cannot change any window and is acknowledged without
  a write; an event more than 5 minutes in the future is malformed.
* **Idempotent by event id, whatever its timestamp.** An event id is stored
  in the bucket of the day that counted it, and an event whose id is in *any*
  bucket of the item is skipped, so the same id re-sent with a timestamp on
  another day is not counted again. The check reads the item that the write
  needs anyway: no extra request. Ids live as long as the bucket that
  counted them (30 days), i.e. as long as they can change a window.
  The id check and the write are one conditional PutItem (optimistic lock on
  ``version``), so concurrent deliveries cannot both count an event. The four
  entity items of one event are written independently: a crash between them
  is repaired by re-delivery, because every item skips the ids it already has.
* **Quiet entities.** Windows are derived here only when an event is
  counted; ``recompute.py`` (daily, scheduled) derives them again with
  ``derived_fields`` for entities that got no event, without touching
  ``last_updated``.
* **Cost:** the events of one SQS batch are grouped by entity: per entity
  item, one consistent GetItem and one conditional PutItem (a retry of both on
  a lost race), however many of the batch's events name it. The item grows by 13
  bytes per event counted in the last 30 days, and each write rewrites it:
  fine for students and tutors, but a region with thousands of events a month
  pays tens of KB of write units per event (see docs/iops.md).

Health score (0-100, integer), from the stored windows::

    activity = 40 * min(1, sessions_7d / SESSION_TARGET[type])
    rating   = 40 * (avg_rating - 1) / 4          (20 when no rating in 30 days)
    support  = 20 * max(0, 1 - ib_calls_7d / IB_LIMIT[type])
    health_score = round(activity + rating + support)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from lambda_src.common.requests import from_item, to_item
from lambda_src.iops import schema

ENTITY_FIELDS = {
    "student_id": "student",
    "tutor_id": "tutor",
    "subject_id": "subject",
    "region_id": "region",
}
EVENT_TYPES = ("session_completed", "ib_call")
WINDOWS = {"sessions_7d": ("s", 7), "sessions_14d": ("s", 14), "sessions_30d": ("s", 30),
           "ib_calls_7d": ("ib", 7), "ib_calls_14d": ("ib", 14)}
KEEP_DAYS = 30
FUTURE_SKEW = timedelta(minutes=5)
MAX_ID_LENGTH = 128
# Sessions per 7 days that count as fully active, and IB calls per 7 days at
# which the support component reaches zero, per entity type.
SESSION_TARGET = {"student": 2, "tutor": 10, "subject": 50, "region": 200}
IB_LIMIT = {"student": 5, "tutor": 5, "subject": 50, "region": 200}
MAX_ATTEMPTS = 5


class MalformedEvent(ValueError):
    """The event cannot be ingested as sent; re-delivery will not help."""


@dataclass(frozen=True)
class Event:
    event_id: str
    type: str
    at: datetime
    entities: tuple[tuple[str, str], ...]  # (entity_id, entity_type)
    rating: Decimal | None = None

    @property
    def digest(self) -> str:
        """What the item stores to recognise this event: 48 bits of SHA-256 of its id."""
        return hashlib.sha256(self.event_id.encode()).hexdigest()[:12]

    @property
    def day(self) -> str:
        return self.at.date().isoformat()


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> datetime:
    if not isinstance(value, str) or not value:
        raise MalformedEvent("timestamp must be an ISO-8601 string")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MalformedEvent(f"timestamp {value!r} is not ISO-8601") from exc
    if moment.tzinfo is None:
        raise MalformedEvent("timestamp needs a timezone (use Z for UTC)")
    return moment.astimezone(UTC)


def parse_event(raw: Any, *, now: datetime) -> Event:
    """Validate one decoded event; raise MalformedEvent naming the problem."""
    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise MalformedEvent("body is not JSON") from exc
    if not isinstance(raw, Mapping):
        raise MalformedEvent("event must be a JSON object")
    event_id = raw.get("event_id")
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > MAX_ID_LENGTH:
        raise MalformedEvent("event_id must be a non-empty string")
    kind = raw.get("type")
    if kind not in EVENT_TYPES:
        raise MalformedEvent(f"type must be one of {', '.join(EVENT_TYPES)}")
    at = parse_time(raw.get("timestamp"))
    if at > now + FUTURE_SKEW:
        raise MalformedEvent("timestamp is in the future")
    entities = []
    for field, entity_type in ENTITY_FIELDS.items():
        value = raw.get(field)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_LENGTH:
            raise MalformedEvent(f"{field} must be a non-empty string")
        entities.append((value, entity_type))
    if not entities:
        raise MalformedEvent(f"event names no entity ({', '.join(ENTITY_FIELDS)})")
    rating = None
    if kind == "session_completed":
        value = raw.get("rating")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise MalformedEvent("session_completed needs a numeric rating")
        rating = Decimal(str(value))
        if not Decimal(1) <= rating <= Decimal(5):
            raise MalformedEvent("rating must be between 1 and 5")
    return Event(event_id, kind, at, tuple(entities), rating)


# -- aggregates ------------------------------------------------------------------
def health_score(entity_type: str, sessions_7d: int, ib_calls_7d: int, avg_rating: float | None) -> int:
    activity = 40 * min(1.0, sessions_7d / SESSION_TARGET[entity_type])
    rating = 20.0 if avg_rating is None else 40 * (float(avg_rating) - 1) / 4
    support = 20 * max(0.0, 1 - ib_calls_7d / IB_LIMIT[entity_type])
    return max(0, min(100, round(activity + rating + support)))


def window_days(today: date, length: int) -> set[str]:
    return {(today - timedelta(days=n)).isoformat() for n in range(length)}


def derived_fields(entity_type: str, days: dict, now: datetime) -> dict:
    """What an item's ``days`` buckets say as of ``now``: the five windows,
    ``avg_rating`` (absent when no rating in 30 days) and ``health_score``.

    Ingest and the daily recompute (``recompute.py``) both derive an item's
    visible fields here, so the formula exists once.
    """
    today = now.date()
    fields: dict[str, Any] = {}
    for name, (counter, length) in WINDOWS.items():
        wanted = window_days(today, length)
        fields[name] = sum(int(b.get(counter, 0)) for d, b in days.items() if d in wanted)
    month = window_days(today, KEEP_DAYS)
    rating_sum = sum(Decimal(str(b.get("rs", 0))) for d, b in days.items() if d in month)
    rating_n = sum(int(b.get("rn", 0)) for d, b in days.items() if d in month)
    avg = round(float(rating_sum / rating_n), 2) if rating_n else None
    if avg is not None:
        fields["avg_rating"] = avg
    fields["health_score"] = health_score(entity_type, fields["sessions_7d"], fields["ib_calls_7d"], avg)
    return fields


def aggregate(entity_id: str, entity_type: str, days: dict, now: datetime) -> dict:
    """The full metrics item for ``days`` (already pruned), as of ``now``."""
    item: dict[str, Any] = {"entity_id": entity_id, "entity_type": entity_type}
    item.update(derived_fields(entity_type, days, now))
    item["last_updated"] = iso(now)
    item["days"] = encode_days(days)
    return item


def encode_days(days: dict) -> str:
    plain = {d: {**b, "rs": str(b.get("rs", 0))} for d, b in days.items()}
    return json.dumps(plain, separators=(",", ":"), sort_keys=True)


def decode_days(value: Any) -> dict:
    if not value:
        return {}
    return json.loads(value) if isinstance(value, str) else dict(value)


def prune(days: dict, now: datetime) -> dict:
    keep = window_days(now.date(), KEEP_DAYS)
    return {d: b for d, b in days.items() if d in keep}


def apply_events(client, table: str, events: list[Event], entity_id: str, entity_type: str,
                 now: datetime) -> list[str]:
    """Count ``events`` on one entity item in one read and one write.

    Returns the ids counted now; ids already on the item (or repeated in
    ``events``) are skipped, and when nothing is new nothing is written.
    """
    key = {"entity_id": entity_id, "entity_type": entity_type}
    for _ in range(MAX_ATTEMPTS):
        response = client.get_item(TableName=table, Key=to_item(key), ConsistentRead=True)
        current = from_item(response.get("Item", {}))
        version = current.get("version")
        days = prune(decode_days(current.get("days")), now)
        counted = []
        known = {digest for bucket in days.values() for digest in str(bucket.get("ids") or "").split()}
        for event in events:
            if event.digest in known:
                continue
            known.add(event.digest)
            bucket = dict(days.get(event.day) or {"s": 0, "ib": 0, "rs": 0, "rn": 0, "ids": ""})
            seen = str(bucket.get("ids") or "")
            bucket["ids"] = f"{seen} {event.digest}".strip()
            if event.type == "session_completed":
                bucket["s"] = int(bucket.get("s", 0)) + 1
                bucket["rs"] = Decimal(str(bucket.get("rs", 0))) + event.rating
                bucket["rn"] = int(bucket.get("rn", 0)) + 1
            else:
                bucket["ib"] = int(bucket.get("ib", 0)) + 1
            days[event.day] = bucket
            counted.append(event.event_id)
        if not counted:
            return []
        if put_versioned(client, table, aggregate(entity_id, entity_type, days, now), version):
            return counted
        # another writer got there first: read again
    raise RuntimeError(f"gave up on {entity_type} {entity_id} after {MAX_ATTEMPTS} write races")


def put_versioned(client, table: str, item: dict, version: int | None) -> bool:
    """PutItem ``item`` as version ``version + 1``, only if the stored item is still at ``version``.

    ``version`` None means "read no version": no item, or one written by
    something other than ingest (e.g. the sample data). Returns False when
    another writer got there first; the caller re-reads and decides again.
    """
    item = {**item, "version": (version or 0) + 1}
    if version is None:
        condition = {"ConditionExpression": "attribute_not_exists(version)"}
    else:
        condition = {"ConditionExpression": "version = :v",
                     "ExpressionAttributeValues": to_item({":v": version})}
    try:
        client.put_item(TableName=table, Item=to_item(item), **condition)
        return True
    except client.exceptions.ConditionalCheckFailedException:
        return False


def apply_to_entity(client, table: str, event: Event, entity_id: str, entity_type: str,
                    now: datetime) -> bool:
    """Count one event on one entity item. Returns False when it was already counted."""
    return bool(apply_events(client, table, [event], entity_id, entity_type, now))


def is_stale(event: Event, now: datetime) -> bool:
    return event.at.date() < now.date() - timedelta(days=KEEP_DAYS - 1)


def ingest(client, table: str, raw: Any, *, now: datetime | None = None) -> dict:
    """Validate and apply one event; returns what happened per entity."""
    now = now or utcnow()
    event = parse_event(raw, now=now)
    if is_stale(event, now):
        return {"event_id": event.event_id, "stale": True, "counted": []}
    counted = [
        entity_id
        for entity_id, entity_type in event.entities
        if apply_to_entity(client, table, event, entity_id, entity_type, now)
    ]
    return {"event_id": event.event_id, "stale": False, "counted": counted}


def apply_batch(client, table: str, events: list[tuple[str, Event]], now: datetime) -> set[str]:
    """Apply valid events grouped by entity: one read and one write per entity item.

    ``events`` pairs a message id with its event. Returns the message ids of
    events whose entity write failed; SQS re-delivers them, and the entities
    that did count them skip them by id.
    """
    groups: dict[tuple[str, str], list[tuple[str, Event]]] = {}
    for message_id, event in events:
        if is_stale(event, now):
            continue
        for entity in event.entities:
            groups.setdefault(entity, []).append((message_id, event))
    failed: set[str] = set()
    for (entity_id, entity_type), members in groups.items():
        try:
            apply_events(client, table, [e for _, e in members], entity_id, entity_type, now)
        except Exception:  # noqa: BLE001 - reported per message, logged below
            _logger().exception("entity update failed", extra={"entity_id": entity_id})
            failed.update(m for m, _ in members)
    return failed


# -- Lambda entry point ---------------------------------------------------------------
def metrics_table() -> str:
    return os.environ.get("METRICS_TABLE") or schema.METRICS.table_name("dev")


def _logger():
    import logging

    return logging.getLogger("iops.ingest")


def handler(event: dict, context: Any = None, *, clock: Callable[[], datetime] = utcnow) -> dict:
    """SQS batch -> ``{"batchItemFailures": [...]}``.

    Powertools' BatchProcessor validates every record (a malformed event fails
    alone); the valid events are then applied grouped by entity, so a batch
    reads and writes each entity item once, and the messages behind a failed
    entity write are reported as failures too.
    """
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

    from lambda_src.common.aws_clients import dynamodb

    now = clock()
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    parsed: list[tuple[str, Event]] = []

    def validate(record) -> str:
        parsed.append((record.message_id, parse_event(record.body, now=now)))
        return record.message_id

    with processor(records=event.get("Records") or [], handler=validate):
        processor.process()
    response = processor.response()
    failed = apply_batch(dynamodb(), metrics_table(), parsed, now)
    already = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    response["batchItemFailures"] += [
        {"itemIdentifier": m} for m, _ in parsed if m in failed and m not in already
    ]
    return response
