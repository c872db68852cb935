"""Time in one place, so tests can pin it and every module agrees on UTC."""

from __future__ import annotations

import datetime as dt
import time


def now() -> float:
    return time.time()


def iso(ts: float | None = None) -> str:
    value = dt.datetime.fromtimestamp(now() if ts is None else ts, dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def hour(ts: float | None = None) -> str:
    """``yyyy-mm-ddThh`` in UTC: the demo and GitHub counter window."""
    return dt.datetime.fromtimestamp(now() if ts is None else ts, dt.UTC).strftime("%Y-%m-%dT%H")


def month(ts: float | None = None) -> str:
    return dt.datetime.fromtimestamp(now() if ts is None else ts, dt.UTC).strftime("%Y-%m")
