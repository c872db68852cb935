"""One decoding path for everything a client sends: bodies, cursors, numbers, text.

Every byte that crosses the API boundary goes through here, with explicit
limits, so a hostile input is refused with a ``DecodeError`` (the API layer
answers 400) instead of escaping as ``RecursionError``, ``UnicodeEncodeError``
or ``ValueError`` from deep inside a handler:

- ``json_document``: size-capped, nesting-capped JSON; lone surrogates
  (``"\\ud800"``) anywhere in it are refused, since they cannot be encoded,
  hashed or stored.
- ``b64url_json``: a base64url-wrapped JSON object (paging cursors).
- ``ascii_int``: a decimal integer of ASCII digits only (``"²"`` passes
  ``str.isdigit`` but ``int()`` refuses it).
- ``clean_text``: a string that encodes as UTF-8.

The module is pure Python so that every product bundle can import it.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

MAX_BODY_BYTES = 512 * 1024  # API Gateway accepts up to 10 MB; no route needs more than this
MAX_DEPTH = 32  # the deepest any route reads is 3; this leaves room for stored JSON values
MAX_CURSOR_CHARS = 2048


class DecodeError(ValueError):
    """Input that cannot be decoded within the limits. ``code`` names the kind."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _depth_ok(raw: str, limit: int) -> bool:
    """True if no JSON container in ``raw`` nests deeper than ``limit``.

    A linear scan over the text (strings skipped) runs before ``json.loads``,
    so the parser never recurses deeply enough to raise ``RecursionError``.
    """
    depth = 0
    in_string = False
    escaped = False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def json_document(
    raw: str | bytes | None,
    *,
    max_bytes: int = MAX_BODY_BYTES,
    max_depth: int = MAX_DEPTH,
    code: str = "invalid_json",
) -> Any:
    """Parse ``raw`` as JSON within the limits; ``None`` for an empty input."""
    if raw is None or raw == "" or raw == b"":
        return None
    if isinstance(raw, bytes):
        if len(raw) > max_bytes:
            raise DecodeError("body_too_large", f"the body exceeds {max_bytes} bytes")
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(code, "the body is not UTF-8 text") from None
    if len(raw) > max_bytes:
        raise DecodeError("body_too_large", f"the body exceeds {max_bytes} bytes")
    if not _depth_ok(raw, max_depth):
        raise DecodeError(code, f"JSON nests deeper than {max_depth} levels")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise DecodeError(code, "not valid JSON") from None
    if _has_lone_surrogate(value):
        raise DecodeError(code, "JSON holds a lone surrogate, which is not text")
    return value


def json_object(raw: str | bytes | None, **limits: Any) -> dict:
    """Like ``json_document``, but the value must be an object (``{}`` if empty)."""
    if raw is None or raw == "" or raw == b"":
        return {}
    value = json_document(raw, **limits)
    if not isinstance(value, dict):
        raise DecodeError(limits.get("code", "invalid_json"), "the body must be a JSON object")
    return value


def base64_body(raw: str) -> bytes:
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise DecodeError("invalid_json", "the body is not valid base64") from None


def b64url_encode_json(value: Any) -> str:
    """The inverse of ``b64url_json``: compact JSON, base64url, no padding."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def b64url_json(token: str | None, *, code: str = "invalid_cursor", max_chars: int = MAX_CURSOR_CHARS) -> dict:
    """Decode a base64url JSON object (a paging cursor); ``DecodeError`` otherwise."""
    if not isinstance(token, str) or not token or len(token) > max_chars:
        raise DecodeError(code, "the cursor is malformed")
    try:
        raw = base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise DecodeError(code, "the cursor is malformed") from None
    value = json_document(raw, max_bytes=max_chars, max_depth=4, code=code)
    if not isinstance(value, dict):
        raise DecodeError(code, "the cursor is malformed")
    return value


def ascii_int(value: Any, *, code: str, minimum: int, maximum: int, what: str = "value") -> int:
    """A whole number written in ASCII digits, within [minimum, maximum]."""
    if isinstance(value, bool):
        raise DecodeError(code, f"{what} must be a whole number from {minimum} to {maximum}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and 0 < len(value) <= 12 and value.isascii() and value.isdigit():
        number = int(value)
    else:
        raise DecodeError(code, f"{what} must be a whole number from {minimum} to {maximum}")
    if not minimum <= number <= maximum:
        raise DecodeError(code, f"{what} must be a whole number from {minimum} to {maximum}")
    return number


def clean_text(value: Any) -> bool:
    """True if ``value`` is a str that encodes as UTF-8 (no lone surrogates)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
