"""Reads of a user's records in the api-keys table."""

from __future__ import annotations

from lambda_src.common.hashing import sha256_hex
from lambda_src.common.requests import build_request, from_item

from . import config
from .schema import API_KEYS, PENDING_SK, USER_PK


def email_hash(email: str) -> str:
    return sha256_hex(email.strip().lower())


def user_records(client, email_hash_value: str) -> list[dict]:
    """Every record under ``user_{email_hash}``: key records and a PENDING signup."""
    _, kwargs = build_request(
        API_KEYS,
        API_KEYS.pattern("user-records"),
        {"email_hash": email_hash_value},
        table_name=config.api_keys_table(),
    )
    kwargs["ConsistentRead"] = True
    return [from_item(i) for i in client.query(**kwargs).get("Items", [])]


def key_records(records: list[dict]) -> list[dict]:
    """The API-key records among a user's records, oldest first."""
    keys = [r for r in records if r["sk"] != PENDING_SK.build()]
    return sorted(keys, key=lambda r: (r.get("created_at", ""), r["sk"]))


def user_pk(email_hash_value: str) -> str:
    return USER_PK.build(email_hash=email_hash_value)


def public_user(record: dict) -> dict:
    """What a caller may see of a key record: never a hash, token or key."""
    return {
        "email": record.get("email"),
        "tier": record.get("tier"),
        "requests_this_month": record.get("requests_this_month", 0),
        "created_at": record.get("created_at"),
        "last_login": record.get("last_login"),
    }
