"""Input checks shared by the routes: each failure is a 400 with its own code."""

from __future__ import annotations

import re

from lambda_src.common import decoding

from .errors import InvalidInput

# The address as it will be hashed, stored and mailed: UTF-8 text without
# controls, at most 254 characters (RFC 5321's limit on a path).
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]{1,251}\.[^@\s.\x00-\x1f\x7f]{2,63}$")
MAX_EMAIL = 254
_TOKEN = re.compile(r"^[A-Za-z0-9_\-.]{16,256}$")
_ECOSYSTEM = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
# npm (``@scope/name``, at most one slash), PyPI and dotted names, and Maven
# ``group:artifact``; ``#`` never appears, so the packages key stays unambiguous.
_NAME = re.compile(r"^(?:@[A-Za-z0-9][A-Za-z0-9._\-]{0,213}/)?"  # an npm scope
                   r"[A-Za-z0-9][A-Za-z0-9._\-]*"
                   r"(?::[A-Za-z0-9][A-Za-z0-9._\-]*)?$")  # a Maven artifact
MAX_NAME = 214
RISK_LEVELS = ("low", "medium", "high", "critical")


def email(value) -> str:
    """A normalized address; only UTF-8-encodable text can be hashed, stored and mailed."""
    if not decoding.clean_text(value) or len(value.strip()) > MAX_EMAIL or not _EMAIL.match(value.strip()):
        raise InvalidInput("invalid_email", "a valid email address is required")
    return value.strip().lower()


def token(value, code: str = "invalid_token") -> str:
    if not decoding.clean_text(value) or not _TOKEN.match(value):
        raise InvalidInput(code, "the token is missing or malformed")
    return value


def ecosystem(value) -> str:
    if not isinstance(value, str) or not _ECOSYSTEM.match(value):
        raise InvalidInput("invalid_ecosystem", "ecosystem must be a lowercase name such as npm or pypi")
    return value


def package_name(value) -> str:
    if not decoding.clean_text(value) or len(value) > MAX_NAME or not _NAME.match(value):
        raise InvalidInput("invalid_package_name", "package name is missing or malformed")
    return value


def risk_level(value) -> str:
    if value not in RISK_LEVELS:
        raise InvalidInput("invalid_risk_level", f"risk_level must be one of {', '.join(RISK_LEVELS)}")
    return value


def limit(value, default: int, maximum: int) -> int:
    if value in (None, ""):
        return default
    try:
        return decoding.ascii_int(value, code="invalid_limit", minimum=1, maximum=maximum, what="limit")
    except decoding.DecodeError as exc:
        raise InvalidInput(exc.code, exc.message) from None
