"""What a metrics item's numbers mean: per-day buckets, windows, health score.

Ingest (``ingest.py``) and the daily recompute (``recompute.py``) both derive
an item's visible fields here, so the formula exists once. Everything in this
module is pure arithmetic on plain Python values: no request, no clock (the
caller passes ``now``).

``days`` is a compact JSON string (one attribute, cheap to read and rewrite)
holding a map from UTC day (``YYYY-MM-DD``) to a bucket ``{s, ib, rs, rn, ids}``:
sessions, IB calls, rating sum, rating count, and the events of that day as
one space-separated string of 12-hex-digit SHA-256 digests of their ids.

Health score (0-100, integer), from the windows::

    activity = 40 * min(1, sessions_7d / SESSION_TARGET[type])
    rating   = 40 * (avg_rating - 1) / 4          (20 when no rating in 30 days)
    support  = 20 * max(0, 1 - ib_calls_7d / IB_LIMIT[type])
    health_score = round(activity + rating + support)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

# window field -> (bucket counter it sums, length in UTC days ending today)
WINDOWS = {"sessions_7d": ("s", 7), "sessions_14d": ("s", 14), "sessions_30d": ("s", 30),
           "ib_calls_7d": ("ib", 7), "ib_calls_14d": ("ib", 14)}
# Every field derived from the buckets (``avg_rating`` is absent when no rating in 30 days).
DERIVED = (*WINDOWS, "avg_rating", "health_score")
# Buckets older than this many UTC days (today included) are pruned on every write.
KEEP_DAYS = 30
# Sessions per 7 days that count as fully active, and IB calls per 7 days at
# which the support component reaches zero, per entity type.
SESSION_TARGET = {"student": 2, "tutor": 10, "subject": 50, "region": 200}
IB_LIMIT = {"student": 5, "tutor": 5, "subject": 50, "region": 200}

Days = dict[str, dict[str, Any]]


def iso(moment: datetime) -> str:
    """``moment`` as the items' timestamp format: UTC, whole seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def health_score(entity_type: str, sessions_7d: int, ib_calls_7d: int, avg_rating: float | None) -> int:
    activity = 40 * min(1.0, sessions_7d / SESSION_TARGET[entity_type])
    rating = 20.0 if avg_rating is None else 40 * (float(avg_rating) - 1) / 4
    support = 20 * max(0.0, 1 - ib_calls_7d / IB_LIMIT[entity_type])
    return max(0, min(100, round(activity + rating + support)))


def window_days(today: date, length: int) -> set[str]:
    """The ``length`` UTC days ending with ``today``, as bucket keys."""
    return {(today - timedelta(days=n)).isoformat() for n in range(length)}


def derived_fields(entity_type: str, days: Mapping[str, Mapping[str, Any]], now: datetime) -> dict[str, Any]:
    """What an item's ``days`` buckets say as of ``now``: the five windows,
    ``avg_rating`` (absent when no rating in 30 days) and ``health_score``."""
    today = now.date()
    fields: dict[str, Any] = {}
    for name, (counter, length) in WINDOWS.items():
        wanted = window_days(today, length)
        fields[name] = sum(int(b.get(counter, 0)) for d, b in days.items() if d in wanted)
    month = window_days(today, KEEP_DAYS)
    rating_sum = sum((Decimal(str(b.get("rs", 0))) for d, b in days.items() if d in month), Decimal(0))
    rating_n = sum(int(b.get("rn", 0)) for d, b in days.items() if d in month)
    avg = round(float(rating_sum / rating_n), 2) if rating_n else None
    if avg is not None:
        fields["avg_rating"] = avg
    fields["health_score"] = health_score(entity_type, fields["sessions_7d"], fields["ib_calls_7d"], avg)
    return fields


def encode_days(days: Mapping[str, Mapping[str, Any]]) -> str:
    plain = {d: {**b, "rs": str(b.get("rs", 0))} for d, b in days.items()}
    return json.dumps(plain, separators=(",", ":"), sort_keys=True)


def decode_days(value: Any) -> Days:
    if not value:
        return {}
    return json.loads(value) if isinstance(value, str) else dict(value)


def prune(days: Mapping[str, dict[str, Any]], now: datetime) -> Days:
    """``days`` without the buckets older than ``KEEP_DAYS`` UTC days before ``now``."""
    keep = window_days(now.date(), KEEP_DAYS)
    return {d: b for d, b in days.items() if d in keep}


def is_stale(day: date, now: datetime) -> bool:
    """True when a bucket for ``day`` could no longer change any window as of ``now``."""
    return day < now.date() - timedelta(days=KEEP_DAYS - 1)
