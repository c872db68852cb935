"""API-key authentication and per-tier monthly quotas.

Authentication is one Query on ``key-hash-index`` with the SHA-256 of the
presented key. The quota is an atomic ``ADD`` guarded by a condition, so
concurrent requests can never count past the tier's limit.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from lambda_src.common import decoding
from lambda_src.common.hashing import sha256_hex
from lambda_src.common.requests import build_request, from_item, to_attr

from . import config
from .errors import OverLimit, Unauthenticated
from .schema import API_KEYS


def authenticate(client, raw_key: str) -> dict:
    """The key record for ``raw_key`` (one Query), or ``Unauthenticated``."""
    if not decoding.clean_text(raw_key) or not 8 <= len(raw_key) <= 256:
        raise Unauthenticated("invalid_api_key", "the API key is missing or malformed")
    _, query = build_request(
        API_KEYS,
        API_KEYS.pattern("api-key-by-hash"),
        {"key_hash": sha256_hex(raw_key)},
        table_name=config.api_keys_table(),
    )
    query["Limit"] = 1
    items = client.query(**query).get("Items", [])
    if not items:
        raise Unauthenticated("invalid_api_key", "the API key is not valid")
    return from_item(items[0])


def consume(client, record: dict) -> int:
    """Count one request against the key's monthly quota; ``OverLimit`` when it is spent."""
    quota = config.TIER_QUOTAS.get(str(record.get("tier")), config.TIER_QUOTAS[config.DEFAULT_TIER])
    try:
        response = client.update_item(
            TableName=config.api_keys_table(),
            Key={"pk": to_attr(record["pk"]), "sk": to_attr(record["sk"])},
            UpdateExpression="ADD requests_this_month :one",
            ConditionExpression="attribute_exists(pk) AND "
            "(attribute_not_exists(requests_this_month) OR requests_this_month < :quota)",
            ExpressionAttributeValues={":one": to_attr(1), ":quota": to_attr(quota)},
            ReturnValues="UPDATED_NEW",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        raise OverLimit("quota_exceeded", f"the monthly quota of {quota} requests is used up") from None
    return int(response["Attributes"]["requests_this_month"]["N"])
