"""Input checks shared by the routes: each failure is a 400 with its own code."""

from __future__ import annotations

import re

from lambda_src.common.api import ApiError

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s.]{2,63}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_\-.]{16,256}$")
_ECOSYSTEM = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_NAME = re.compile(r"^[A-Za-z0-9@][A-Za-z0-9@/._\-]{0,213}$")
RISK_LEVELS = ("low", "medium", "high", "critical")


def email(value) -> str:
    if not isinstance(value, str) or not _EMAIL.match(value.strip()):
        raise ApiError(400, "invalid_email", "a valid email address is required")
    return value.strip().lower()


def token(value, code: str = "invalid_token") -> str:
    if not isinstance(value, str) or not _TOKEN.match(value):
        raise ApiError(400, code, "the token is missing or malformed")
    return value


def ecosystem(value) -> str:
    if not isinstance(value, str) or not _ECOSYSTEM.match(value):
        raise ApiError(400, "invalid_ecosystem", "ecosystem must be a lowercase name such as npm or pypi")
    return value


def package_name(value) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ApiError(400, "invalid_package_name", "package name is missing or malformed")
    return value


def risk_level(value) -> str:
    if value not in RISK_LEVELS:
        raise ApiError(400, "invalid_risk_level", f"risk_level must be one of {', '.join(RISK_LEVELS)}")
    return value


def limit(value, default: int, maximum: int) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if not 1 <= number <= maximum:
        raise ApiError(400, "invalid_limit", f"limit must be an integer from 1 to {maximum}")
    return number
