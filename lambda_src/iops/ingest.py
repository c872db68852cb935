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
  ``metrics.derived_fields`` for entities that got no event, without touching
  ``last_updated``.
* **Cost:** the events of one SQS batch are grouped by entity: per entity
  item, one consistent GetItem and one conditional PutItem (a retry of both on
  a lost race), however many of the batch's events name it. The item grows by 13
  bytes per event counted in the last 30 days, and each write rewrites it:
  fine for students and tutors, but a region with thousands of events a month
  pays tens of KB of write units per event (see docs/iops.md).

The windows, the health score and the bucket format: ``metrics.py``; the
versioned write: ``metrics_store.py``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from lambda_src.common import aws_clients, clock

from . import metrics, metrics_store, settings

ENTITY_FIELDS = {
    "student_id": "student",
    "tutor_id": "tutor",
    "subject_id": "subject",
    "region_id": "region",
}
EVENT_TYPES = ("session_completed", "ib_call")
FUTURE_SKEW = timedelta(minutes=5)
MAX_ID_LENGTH = 128

logger = Logger()
# Report every failure item by item, even when the whole batch failed.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class MalformedEvent(ValueError):
    """The event cannot be ingested as sent; re-delivery will not help."""


@dataclass(frozen=True)
class Event:
    event_id: str
    type: str
    at: datetime
    entities: tuple[tuple[str, str], ...]  # (entity_id, entity_type)
    rating: Decimal | None = None  # set exactly when ``type`` is session_completed

    @property
    def digest(self) -> str:
        """What the item stores to recognise this event: 48 bits of SHA-256 of its id."""
        return hashlib.sha256(self.event_id.encode()).hexdigest()[:12]

    @property
    def day(self) -> str:
        return self.at.date().isoformat()


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
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
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


def count(days: metrics.Days, event: Event) -> None:
    """Add ``event`` to its day's bucket in ``days`` (in place)."""
    bucket = dict(days.get(event.day) or {"s": 0, "ib": 0, "rs": 0, "rn": 0, "ids": ""})
    seen = str(bucket.get("ids") or "")
    bucket["ids"] = f"{seen} {event.digest}".strip()
    if event.rating is None:  # an IB call
        bucket["ib"] = int(bucket.get("ib", 0)) + 1
    else:  # a completed session, always rated
        bucket["s"] = int(bucket.get("s", 0)) + 1
        bucket["rs"] = Decimal(str(bucket.get("rs", 0))) + event.rating
        bucket["rn"] = int(bucket.get("rn", 0)) + 1
    days[event.day] = bucket


def aggregate(entity_id: str, entity_type: str, days: metrics.Days, now: datetime) -> dict[str, Any]:
    """The full metrics item for ``days`` (already pruned), as of ``now``."""
    item: dict[str, Any] = {"entity_id": entity_id, "entity_type": entity_type}
    item.update(metrics.derived_fields(entity_type, days, now))
    item["last_updated"] = metrics.iso(now)
    item["days"] = metrics.encode_days(days)
    return item


def apply_events(client: Any, table: str, events: list[Event], entity_id: str, entity_type: str,
                 now: datetime) -> list[str]:
    """Count ``events`` on one entity item in one read and one write.

    Returns the ids counted now; ids already on the item (or repeated in
    ``events``) are skipped, and when nothing is new nothing is written.
    """
    for _ in range(metrics_store.MAX_ATTEMPTS):
        current = metrics_store.read(client, table, entity_id, entity_type) or {}
        version = current.get("version")
        days = metrics.prune(metrics.decode_days(current.get("days")), now)
        counted = []
        known = {digest for bucket in days.values() for digest in str(bucket.get("ids") or "").split()}
        for event in events:
            if event.digest in known:
                continue
            known.add(event.digest)
            count(days, event)
            counted.append(event.event_id)
        if not counted:
            return []
        if metrics_store.put_versioned(client, table, aggregate(entity_id, entity_type, days, now), version):
            return counted
        # another writer got there first: read again
    raise RuntimeError(f"gave up on {entity_type} {entity_id} after {metrics_store.MAX_ATTEMPTS} write races")


def apply_batch(client: Any, table: str, events: list[tuple[str, Event]], now: datetime) -> set[str]:
    """Apply valid events grouped by entity: one read and one write per entity item.

    ``events`` pairs a message id with its event. Returns the message ids of
    events whose entity write failed; SQS re-delivers them, and the entities
    that did count them skip them by id.
    """
    groups: dict[tuple[str, str], list[tuple[str, Event]]] = {}
    for message_id, event in events:
        if metrics.is_stale(event.at.date(), now):
            continue
        for entity in event.entities:
            groups.setdefault(entity, []).append((message_id, event))
    failed: set[str] = set()
    for (entity_id, entity_type), members in groups.items():
        try:
            apply_events(client, table, [e for _, e in members], entity_id, entity_type, now)
        except Exception:  # noqa: BLE001 - reported per message, logged here
            logger.exception("entity update failed", extra={"entity_id": entity_id, "entity_type": entity_type})
            failed.update(m for m, _ in members)
    return failed


# -- Lambda entry point ---------------------------------------------------------------
@logger.inject_lambda_context(log_event=False)
def handler(event: dict, context: Any) -> dict:
    """SQS batch -> ``{"batchItemFailures": [...]}``.

    The batch processor validates every record (a malformed event fails
    alone); the valid events are then applied grouped by entity, so a batch
    reads and writes each entity item once, and the messages behind a failed
    entity write are reported as failures too. No record is applied twice.
    """
    table = settings.metrics_table()
    now = clock.utc_now()
    parsed: list[tuple[str, Event]] = []

    def validate(record: SQSRecord) -> None:
        parsed.append((record.message_id, parse_event(record.body, now=now)))

    response = process_partial_response(event=event, record_handler=validate, processor=processor,
                                         context=context)
    failed = apply_batch(aws_clients.dynamodb(), table, parsed, now)
    already = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    response["batchItemFailures"] += [
        {"itemIdentifier": m} for m, _ in parsed if m in failed and m not in already
    ]
    return dict(response)
