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
