"""Plan caps: monthly requests and stored bytes per plan.

Caps live here, not on the user item, so a price change is a deploy, not a
data migration; the user item stores only the plan name.
"""

from __future__ import annotations

from dataclasses import dataclass

from lambda_src.common import clock


@dataclass(frozen=True)
class Plan:
    name: str
    monthly_requests: int
    storage_bytes: int


PLANS = {
    "free": Plan("free", monthly_requests=10_000, storage_bytes=1 * 1024 * 1024),
    "pro": Plan("pro", monthly_requests=1_000_000, storage_bytes=1024 * 1024 * 1024),
    "scale": Plan("scale", monthly_requests=50_000_000, storage_bytes=100 * 1024 * 1024 * 1024),
}
DEFAULT_PLAN = "free"


def plan_of(user: dict) -> Plan:
    return PLANS.get(user.get("plan", DEFAULT_PLAN), PLANS[DEFAULT_PLAN])


def current_month(now: float | None = None) -> str:
    """The usage period, ``YYYY-MM`` in UTC; the request counter restarts with it."""
    return clock.month(now)


def requests_this_month(user: dict, month: str) -> int:
    """The stored counter, or 0 once the month on record has passed."""
    return int(user.get("requestCount", 0)) if user.get("usageMonth") == month else 0
