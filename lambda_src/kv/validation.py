"""Input checks for names, values, ttl and If-Match, each failing with a domain error (400, or 413 for a value)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from lambda_src.common.decoding import clean_text
from lambda_src.kv.errors import InvalidInput, ValueTooLarge

NAMESPACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
KEY_MAX_BYTES = 512
# DynamoDB items stop at 400 KB; leave room for the key, names and metadata.
VALUE_MAX_BYTES = 390 * 1024
MAX_DEPTH = 30  # DynamoDB allows 32 levels of nesting
MAX_TTL_SECONDS = 10 * 365 * 24 * 3600
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,63}$")
_ETAG_RE = re.compile(r'^\s*(?:W/)?"?(\d{1,12})(?:\.(\d{1,12}))?"?\s*$')


def namespace(name: str) -> str:
    if not isinstance(name, str) or not NAMESPACE_RE.match(name):
        raise InvalidInput("invalid_namespace",
                       "namespace names are 1-64 characters: letters, digits, '_', '-', '.', "
                       "starting with a letter or digit")
    return name


def key(name: str) -> str:
    if (not clean_text(name) or not name or len(name.encode("utf-8")) > KEY_MAX_BYTES
            or any(ord(c) < 32 or ord(c) == 127 for c in name)):
        raise InvalidInput("invalid_key",
                       f"keys are 1-{KEY_MAX_BYTES} bytes of UTF-8 without control characters")
    return name


def _depth(value, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max([_depth(v, level + 1) for v in value.values()] or [level + 1])
    if isinstance(value, list):
        return max([_depth(v, level + 1) for v in value] or [level + 1])
    return level


def value_size(value) -> int:
    """Bytes the value occupies as compact JSON: what a plan's storage cap counts."""
    try:
        encoded = json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidInput("invalid_value", "value must be finite JSON") from None
    if _depth(value) > MAX_DEPTH:
        raise InvalidInput("invalid_value", f"value nests deeper than {MAX_DEPTH} levels")
    size = len(encoded.encode("utf-8"))
    if size > VALUE_MAX_BYTES:
        raise ValueTooLarge("value_too_large",
                       f"value is {size} bytes; the limit is {VALUE_MAX_BYTES} bytes")
    return size


def ttl_seconds(raw) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw <= MAX_TTL_SECONDS:
        raise InvalidInput("invalid_ttl", f"ttl is a whole number of seconds, 1 to {MAX_TTL_SECONDS}")
    return raw


def email(raw) -> str:
    if not clean_text(raw) or not EMAIL_RE.match(raw):
        raise InvalidInput("invalid_email", "a valid email address is required")
    return raw.strip().lower()


@dataclass(frozen=True)
class Expected:
    """What If-Match names: a version, and the size when it came from our ETag."""

    version: int
    size: int | None = None


def if_match(raw: str | None) -> Expected | None:
    if raw is None or raw == "":
        return None
    match = _ETAG_RE.match(raw)
    if not match:
        raise InvalidInput("invalid_if_match", 'If-Match takes a version number or an ETag such as "3.17"')
    return Expected(int(match.group(1)), int(match.group(2)) if match.group(2) else None)


def etag(version: int, size: int) -> str:
    return f'"{version}.{size}"'
