"""Runtime settings of the DepHealth functions, read from the environment.

Table names come from variables the service stack sets; a missing one fails
with ``MissingSetting`` naming it (``lambda_src.common.environment``), never
falls back to some default table. Facts the stack reads too live in
``declarations``.
"""

from __future__ import annotations

import os

from lambda_src.common.environment import require, required

from .declarations import (
    API_KEYS_TABLE_VAR,
    DEFAULT_MAIL_FROM,
    DLQ_MAX_ATTEMPTS,
    DLQ_MAX_ATTEMPTS_VAR,
    MAIL_FROM_VAR,
    MAIL_QUEUE_URL_VAR,
    PACKAGES_TABLE_VAR,
    PUBLIC_BASE_URL_VAR,
    TABLE_VARS,
)

TIER_QUOTAS = {"free": 1_000, "pro": 50_000, "enterprise": 1_000_000}
DEFAULT_TIER = "free"

MAGIC_LINK_TTL_S = 15 * 60
VERIFICATION_TTL_S = 24 * 3600
DEMO_LIMIT_PER_HOUR = 10
DEMO_COUNTER_TTL_S = 2 * 3600
GITHUB_SHARDS = 10
GITHUB_HOURLY_BUDGET = 5_000
FAILED_TTL_S = 90 * 24 * 3600
MAIL_LIMIT_PER_HOUR = 5  # signup and login mails per address per UTC hour
MAIL_COUNTER_TTL_S = 2 * 3600


def require_tables() -> None:
    """Fail with ``MissingSetting`` unless both table names are set (every handler, first thing)."""
    require(*TABLE_VARS)


def packages_table() -> str:
    return required(PACKAGES_TABLE_VAR)


def api_keys_table() -> str:
    return required(API_KEYS_TABLE_VAR)


def public_base_url() -> str:
    """Where login and verification links point (the API's public URL)."""
    return os.environ.get(PUBLIC_BASE_URL_VAR, "https://api.dephealth.example").rstrip("/")


def demo_limit() -> int:
    return int(os.environ.get("DEMO_LIMIT_PER_HOUR", DEMO_LIMIT_PER_HOUR))


def dlq_max_attempts() -> int:
    return int(os.environ.get(DLQ_MAX_ATTEMPTS_VAR, DLQ_MAX_ATTEMPTS))


def mail_queue_url() -> str:
    """The queue that hands mail requests from the auth routes to the mail worker."""
    return required(MAIL_QUEUE_URL_VAR)


def mail_from() -> str:
    """The SES identity (an address) that DepHealth's mail is sent from."""
    return os.environ.get(MAIL_FROM_VAR, DEFAULT_MAIL_FROM)


def mail_limit() -> int:
    return int(os.environ.get("MAIL_LIMIT_PER_HOUR", MAIL_LIMIT_PER_HOUR))
