"""KV users: signup (one email, one user; a per-source hourly limit) and API-key authentication."""

from __future__ import annotations

import ipaddress
import os
import secrets

from botocore.exceptions import ClientError

from lambda_src.common import clock
from lambda_src.common.hashing import new_secret, sha256_hex
from lambda_src.common.requests import from_item, to_attr, to_item
from lambda_src.kv import schema
from lambda_src.kv.errors import Conflict, RateLimited, Unauthenticated
from lambda_src.kv.plans import DEFAULT_PLAN, current_month
from lambda_src.kv.usage import dynamodb, failed, item_key, request, table_name, transact

SIGNUPS_PER_HOUR = 10  # per source address (an IPv6 client by its /64); KV_SIGNUPS_PER_HOUR overrides


def signup_source(source_ip: str | None) -> str:
    """The rate-limited unit: an IPv4 address, or an IPv6 client's /64 prefix."""
    try:
        address = ipaddress.ip_address((source_ip or "").strip())
    except ValueError:
        return "unknown"
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def count_signup(source_ip: str | None) -> None:
    """One conditional counter per source and UTC hour (expires by TTL); 429 past the limit."""
    limit = int(os.environ.get("KV_SIGNUPS_PER_HOUR") or SIGNUPS_PER_HOUR)
    now = int(clock.now())
    hour_end = (now // 3600 + 1) * 3600
    hour = clock.hour(now)
    try:
        dynamodb().update_item(
            TableName=table_name(),
            Key=item_key(schema.SIGNUP_PK.build(sourceHash=sha256_hex(signup_source(source_ip))),
                     schema.HOUR_SK.build(hour=hour)),
            UpdateExpression="ADD #n :one SET #ttl = if_not_exists(#ttl, :ttl), entityType = :type",
            ConditionExpression="attribute_not_exists(#n) OR #n < :max",
            ExpressionAttributeNames={"#n": "signups", "#ttl": "ttl"},
            ExpressionAttributeValues={":one": to_attr(1), ":max": to_attr(limit),
                                       ":ttl": to_attr(hour_end + 3600), ":type": to_attr(schema.USER_TYPE)},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        raise RateLimited("rate_limited", "too many signups from this address; retry later",
                       {"Retry-After": str(max(1, hour_end - now))}) from None


def create_user(email: str) -> tuple[dict, str]:
    """Store a user on the ``free`` plan keyed by the SHA-256 of a fresh API key; return (user, raw key).

    The user and an ``EMAIL#<sha256(email)>`` claim are written in one
    transaction, so one address holds at most one user (409 ``email_taken``).
    """
    user_id = "u_" + secrets.token_hex(8)
    api_key = new_secret("kv_")
    now = clock.iso_seconds()
    item = {
        "PK": schema.USER_PK.build(userId=user_id), "SK": schema.METADATA_SK.build(),
        "GSI1PK": schema.APIKEY_GSI1PK.build(apiKeyHash=sha256_hex(api_key)),
        "GSI1SK": schema.METADATA_SK.build(), "entityType": schema.USER_TYPE,
        "userId": user_id, "email": email, "plan": DEFAULT_PLAN, "requestCount": 0,
        "storageBytes": 0, "usageMonth": current_month(clock.now()),
        "createdAt": now, "updatedAt": now,
    }
    claim = {"PK": schema.EMAIL_PK.build(emailHash=sha256_hex(email)), "SK": schema.METADATA_SK.build(),
             "entityType": schema.USER_TYPE, "userId": user_id, "createdAt": now}
    reasons = transact([
        {"Put": {"TableName": table_name(), "Item": to_item(item), "ConditionExpression": "attribute_not_exists(PK)"}},
        {"Put": {"TableName": table_name(), "Item": to_item(claim), "ConditionExpression": "attribute_not_exists(PK)"}},
    ])
    if reasons is not None:
        if failed(reasons[1]):
            raise Conflict("email_taken", "that email address already has an account")
        raise Conflict("transaction_conflict", "a concurrent request changed the same data; retry")
    return item, api_key


def authenticate(api_key: str | None) -> dict:
    """One Query on GSI1 by the key's hash; the raw key is never stored or logged."""
    if not api_key:
        raise Unauthenticated("missing_api_key", "send your API key in the x-api-key header")
    _, kwargs = request("user-by-api-key", {"apiKeyHash": sha256_hex(api_key)}, limit=1)
    items = dynamodb().query(**kwargs).get("Items", [])
    if not items:
        raise Unauthenticated("invalid_api_key", "the API key is not valid")
    return from_item(items[0])

