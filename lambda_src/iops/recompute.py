"""Daily window recompute: slide the windows of entities that got no new event.

Ingest derives an item's visible fields (``sessions_7d`` ... ``ib_calls_14d``,
``avg_rating``, ``health_score``) from its per-UTC-day buckets (``days``) only
when it counts an event, so an entity that goes quiet would keep its last
numbers forever. This job runs daily just after 00:00 UTC, derives those
fields again as of now from the stored buckets with the function ingest uses
(``metrics.derived_fields``) and writes back only the items where they moved.

Selection: no Scan. Per entity type, two declared access patterns on
LastUpdatedIndex, oldest first, in pages of ``PAGE_SIZE``:

* ``updated-since`` ``today - 31 days``: every entity whose last counted event
  lies in the last 31 UTC days (or today). An item last updated on day D holds
  no bucket later than D+1 (ingest accepts events up to 5 minutes ahead), so
  its windows move on days D+1 .. D+31 at most and are all zero from D+31 on.
  Items updated today are read and found unchanged.
* ``updated-before`` that same date, filtered to items whose stored windows
  are not all zero. Empty in steady state (the first tier zeroes every entity
  by its 31st quiet day); it catches entities that went quiet before this job
  existed or while it did not run. A filter does not reduce read units: this
  Query reads every older item once per run (docs/iops.md has the cost).

Writes: ``last_updated`` is left alone. It keeps meaning "the last time an
event was counted", which is what the ``recently-updated`` view shows and
what bounds the selection (an entity leaves it 31 days after its last event).
An item is written only when a derived field differs from the stored one, as
one conditional PutItem on ``version``, ingest's optimistic lock
(``metrics_store``): a concurrent ingest wins, and the job re-reads the item
(consistent GetItem) and decides again. So a second run on the same day writes nothing, and a run that stops
before its deadline is resumed by running again (done items read as
unchanged). A write fires the metrics stream like an ingest write does, so an
entity that falls below a risk rule this way gets its insight.

Items without ``days`` were not written by ingest (e.g. the sample data):
there are no buckets to slide, and they are left alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.logging import Logger

from lambda_src.common import aws_clients, clock
from lambda_src.common.requests import build_request, from_item, to_attr

from . import metrics, metrics_store, schema, settings

# Windows of an item last updated on day D can move until D + 31 (see above).
LOOKBACK_DAYS = metrics.KEEP_DAYS + 1
PAGE_SIZE = 500
SAFETY_MS = 60_000  # start no new page or item this close to the Lambda deadline
WORKERS = 8  # items of one page written concurrently in Lambda
RECENT = schema.METRICS.pattern("updated-since")
OLDER = schema.METRICS.pattern("updated-before")
OUTCOMES = ("written", "unchanged", "skipped", "gone", "deferred", "failed")

# An older item needs work only while some stored window is not zero.
_NOT_ALL_ZERO = {
    "FilterExpression": " OR ".join(
        [f"#w{n} > :zero" for n in range(len(metrics.WINDOWS))] + ["attribute_exists(#avg)"]),
    "ExpressionAttributeNames": {**{f"#w{n}": name for n, name in enumerate(metrics.WINDOWS)},
                                 "#avg": "avg_rating"},
    "ExpressionAttributeValues": {":zero": to_attr(0)},
}

logger = Logger()


def refreshed(item: Mapping[str, Any], now: datetime) -> dict[str, Any] | None:
    """``item`` with its derived fields as of ``now``; None when none of them moved.

    Everything else on the item is kept, ``last_updated`` included; ``days``
    is pruned to the last 30 days as ingest would.
    """
    days = metrics.prune(metrics.decode_days(item.get("days")), now)
    fields = metrics.derived_fields(item["entity_type"], days, now)
    if all(item.get(name) == fields.get(name) for name in metrics.DERIVED):
        return None
    new = {k: v for k, v in item.items() if k not in metrics.DERIVED}
    new.update(fields)
    new["days"] = metrics.encode_days(days)
    return new


def recompute_item(client: Any, table: str, item: Mapping[str, Any], now: datetime) -> tuple[str, int]:
    """Bring one item's windows up to ``now``: ``(outcome, write races lost)``.

    ``item`` may come from the index (eventually consistent): a stale copy
    fails the version condition, and the item is read again consistently.
    """
    entity_id, entity_type = item["entity_id"], item["entity_type"]
    races = 0
    for attempt in range(metrics_store.MAX_ATTEMPTS):
        if attempt:
            got = metrics_store.read(client, table, entity_id, entity_type)
            if got is None:
                return "gone", races  # deleted meanwhile: never recreate it
            item = got
        if "days" not in item:
            return "skipped", races
        new = refreshed(item, now)
        if new is None:
            return "unchanged", races  # also when a concurrent ingest already moved it today
        if metrics_store.put_versioned(client, table, new, item.get("version")):
            return "written", races
        races += 1
    raise RuntimeError(f"gave up on {entity_type} {entity_id} after {metrics_store.MAX_ATTEMPTS} write races")


def selections(now: datetime) -> list[tuple[str, dict]]:
    """``(label, Query kwargs)`` per tier and entity type (no table name, no start key)."""
    since = (now.date() - timedelta(days=LOOKBACK_DAYS)).isoformat()
    out = []
    tiers: tuple[tuple[str, Any, dict[str, str], dict | None], ...] = (
        ("recent", RECENT, {"since": since}, None),
        ("older", OLDER, {"before": since}, _NOT_ALL_ZERO),
    )
    for label, pattern, params, extra in tiers:
        for entity_type in schema.ENTITY_TYPES:
            _, kwargs = build_request(schema.METRICS, pattern, {"entity_type": entity_type, **params},
                                      table_name="")
            if extra:
                kwargs["FilterExpression"] = extra["FilterExpression"]
                kwargs["ExpressionAttributeNames"] = {**kwargs["ExpressionAttributeNames"],
                                                      **extra["ExpressionAttributeNames"]}
                kwargs["ExpressionAttributeValues"] = {**kwargs["ExpressionAttributeValues"],
                                                       **extra["ExpressionAttributeValues"]}
            out.append((f"{label} {entity_type}", kwargs))
    return out


def run(client: Any, *, table: str, now: datetime, time_left_ms: Callable[[], int] = lambda: 10**9,
        page_size: int = PAGE_SIZE, workers: int = 1) -> dict:
    """One pass over every selection; returns what happened (counts per outcome).

    ``status`` is ``complete``, or ``stopped`` when the deadline came first
    (the next run redoes the rest). ``workers`` > 1 writes a page's items
    concurrently (boto3 clients are thread-safe).
    """
    counts: Counter[str] = Counter()
    stopped = False
    stopped_at = None

    def one(item: dict) -> tuple[str, int]:
        if time_left_ms() < SAFETY_MS:
            return "deferred", 0
        try:
            return recompute_item(client, table, item, now)
        except Exception:  # noqa: BLE001 - counted, logged, and the run goes on
            logger.exception("recompute failed", extra={"entity_id": item.get("entity_id")})
            return "failed", 0

    pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
    try:
        for label, query in selections(now):
            start = None
            while not stopped:
                if time_left_ms() < SAFETY_MS:
                    stopped = True
                    break
                page = client.query(**{**query, "TableName": table, "Limit": page_size,
                                       **({"ExclusiveStartKey": start} if start else {})})
                counts["pages"] += 1
                items = [from_item(i) for i in page.get("Items", [])]
                counts["read"] += len(items)
                results: Iterator[tuple[str, int]] = pool.map(one, items) if pool else map(one, items)
                for outcome, races in results:
                    counts[outcome] += 1
                    counts["races"] += races
                stopped = counts["deferred"] > 0
                start = page.get("LastEvaluatedKey")
                if not start:
                    break
            if stopped:
                stopped_at = label
                break
    finally:
        if pool:
            pool.shutdown()
    return {"as_of": metrics.iso(now), "status": "stopped" if stopped else "complete",
            **({"stopped_at": stopped_at} if stopped else {}),
            "pages": counts["pages"], "read": counts["read"], "races": counts["races"],
            **{outcome: counts[outcome] for outcome in OUTCOMES}}


# -- Lambda entry point ---------------------------------------------------------------
@logger.inject_lambda_context(log_event=False)
def handler(event: dict, context: Any) -> dict:
    """EventBridge schedule -> one pass. Raises when an item could not be written
    (after the pass), so the invocation counts as an error and Lambda retries it;
    a retry rewrites nothing that is already current."""
    table = settings.metrics_table()
    summary = run(aws_clients.dynamodb(), table=table, now=clock.utc_now(),
                  time_left_ms=context.get_remaining_time_in_millis, workers=WORKERS)
    # A stopped run is resumed by the next one; a warning, so it can be alarmed on.
    log = logger.warning if summary["status"] == "stopped" else logger.info
    log(f"metrics recompute {summary['status']}", extra={"summary": summary})
    if summary["failed"]:
        raise RuntimeError(f"{summary['failed']} item(s) could not be recomputed: {summary}")
    return summary
