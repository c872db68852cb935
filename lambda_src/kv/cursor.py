"""Paging cursors: opaque, bound to their listing, and tamper-evident.

A cursor is ``<payload>.<mac>``: the payload is base64url JSON naming the
listing (``namespaces`` or ``keys``), the user, the namespace, the prefix and
the last item returned; the mac is an HMAC-SHA256 of the payload under a
per-deployment secret kept in AWS Secrets Manager (its ARN in
``KV_CURSOR_HMAC_ARN``), read once per container. The ExclusiveStartKey is
rebuilt from the listing's own (server-side) values plus ``after``, so a cursor
can only move within the listing it was issued for. Anything else, forged,
altered, or issued to another user, namespace or prefix, is ``InvalidCursor``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from lambda_src.common import decoding
from lambda_src.common.aws_clients import client
from lambda_src.kv import deadline
from lambda_src.kv.declarations import CURSOR_SECRET_ARN_VAR

VERSION = 1
MAX_CHARS = 8192  # a key is up to 512 UTF-8 bytes, escaped in JSON, then base64url


class InvalidCursor(Exception):
    """The cursor was not issued by this deployment for this listing."""


@lru_cache(maxsize=1)
def _secret() -> bytes:
    arn = os.environ.get(CURSOR_SECRET_ARN_VAR)
    if not arn:
        raise RuntimeError("KV_CURSOR_HMAC_ARN is not set")
    secrets = client("secretsmanager")
    deadline.install(secrets)  # its retries stop at the invocation's deadline, as DynamoDB's do
    return secrets.get_secret_value(SecretId=arn)["SecretString"].encode("utf-8")


def reset_secret() -> None:
    _secret.cache_clear()


def _mac(payload: str) -> str:
    digest = hmac.new(_secret(), b"kv-cursor:" + payload.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _binding(listing: str, user_id: str, ns: str, prefix: str) -> dict:
    return {"v": VERSION, "l": listing, "u": user_id, "ns": ns, "p": prefix}


def encode(listing: str, user_id: str, after: str | None, *, ns: str = "", prefix: str = "") -> str | None:
    """A cursor continuing after the item named ``after`` (None: no more pages)."""
    if after is None:
        return None
    payload = decoding.b64url_encode_json({**_binding(listing, user_id, ns, prefix), "a": after})
    return f"{payload}.{_mac(payload)}"


def decode(token: str | None, listing: str, user_id: str, *, ns: str = "", prefix: str = "") -> str | None:
    """The ``after`` value of a cursor issued for exactly this listing, else ``InvalidCursor``."""
    if token is None or token == "":
        return None
    if not decoding.clean_text(token) or len(token) > MAX_CHARS or token.count(".") != 1:
        raise InvalidCursor()
    payload, mac = token.split(".")
    if not payload.isascii() or not mac.isascii() or not hmac.compare_digest(_mac(payload), mac):
        raise InvalidCursor()
    try:
        plain = decoding.b64url_json(payload, max_chars=MAX_CHARS)
    except decoding.DecodeError:
        raise InvalidCursor() from None
    after = plain.pop("a", None)
    if plain != _binding(listing, user_id, ns, prefix) or not isinstance(after, str) or not after.startswith(prefix):
        raise InvalidCursor()
    return after
