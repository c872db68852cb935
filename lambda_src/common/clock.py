"""The one clock of the runtime code: every product reads time here.

Tests pin time by patching ``now`` in this module alone; every helper reads
it through ``now()``, so nothing can disagree about the current instant or
about the zone (always UTC).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> float:
    """Seconds since the epoch."""
    return time.time()


def utc_now() -> datetime:
    """The current instant as an aware UTC datetime."""
    return datetime.fromtimestamp(now(), UTC)


def utc(ts: float | None = None) -> datetime:
    """``ts`` (default now) as an aware UTC datetime."""
    return datetime.fromtimestamp(now() if ts is None else ts, UTC)


# -- the UTC text forms the products store and answer with --------------------------
def iso_millis(ts: float | None = None) -> str:
    """``2026-11-18T11:06:40.123Z``: ISO 8601 UTC to the millisecond (sorts as text)."""
    moment = utc(ts)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_seconds(ts: float | None = None) -> str:
    """``2026-11-18T11:06:40Z``: ISO 8601 UTC to the second."""
    return utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def hour(ts: float | None = None) -> str:
    """``2026-11-18T11``: the UTC hour, the window of hourly counters."""
    return utc(ts).strftime("%Y-%m-%dT%H")


def month(ts: float | None = None) -> str:
    """``2026-11``: the UTC month, the period of monthly quotas and usage."""
    return utc(ts).strftime("%Y-%m")
