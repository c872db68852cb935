"""Atomic counters: demo requests per IP per hour, and the shared GitHub budget.

The demo counter is one conditional ``ADD``: DynamoDB applies it atomically,
so N concurrent requests never push the count past the limit. The GitHub
budget is spread over shards (a random shard per write, so no single item is
hot) and read by summing every shard with one BatchGetItem.
"""

from __future__ import annotations

import ipaddress
import random

from botocore.exceptions import ClientError

from lambda_src.common import clock
from lambda_src.common.requests import to_attr

from . import config
from .errors import InvalidInput, OverLimit
from .schema import DEMO_PK, DEMO_SK, GITHUB_PK, GITHUB_SK, MAIL_PK, MAIL_SK


def demo_source(ip) -> str:
    """The unit the demo allowance counts: an IPv4 address, or an IPv6 client's /64.

    One IPv6 subscriber is handed a whole /64 and can rotate through it, so
    the prefix, not the address, is the client. An IPv4-mapped IPv6 address
    counts as its IPv4 address.
    """
    try:
        address = ipaddress.ip_address(ip.strip() if isinstance(ip, str) else "")
    except ValueError:
        raise InvalidInput("missing_source_ip", "the request has no valid source IP") from None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _hourly_hit(client, key: dict, *, limit: int, ttl_s: int, now: int) -> int | None:
    """One conditional ``ADD`` on an hourly counter item; its new count, or None past ``limit``."""
    try:
        response = client.update_item(
            TableName=config.api_keys_table(),
            Key={name: to_attr(value) for name, value in key.items()},
            UpdateExpression="ADD #c :one SET #ttl = if_not_exists(#ttl, :ttl)",
            ConditionExpression="attribute_not_exists(#c) OR #c < :limit",
            ExpressionAttributeNames={"#c": "count", "#ttl": "ttl"},
            ExpressionAttributeValues={":one": to_attr(1), ":limit": to_attr(limit), ":ttl": to_attr(now + ttl_s)},
            ReturnValues="UPDATED_NEW",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return None
    return int(response["Attributes"]["count"]["N"])


def demo_hit(client, ip: str) -> int:
    """Count one demo request for ``ip`` (see ``demo_source``) this hour; 429 past the limit."""
    ip = demo_source(ip)
    limit = config.demo_limit()
    now = int(clock.now())
    key = {"pk": DEMO_PK.build(ip=ip), "sk": DEMO_SK.build(hour=clock.hour(now))}
    count = _hourly_hit(client, key, limit=limit, ttl_s=config.DEMO_COUNTER_TTL_S, now=now)
    if count is None:
        raise OverLimit("demo_limit_exceeded",
                       f"the demo allows {limit} requests per hour; sign up for an API key")
    return count


def mail_hit(client, email_hash: str) -> int:
    """Count one mail request for an address this hour; 429 ``mail_limit_exceeded`` past the limit.

    Known and unknown addresses are counted alike, so the answer says nothing
    about whether the address has an account.
    """
    limit = config.mail_limit()
    now = int(clock.now())
    key = {"pk": MAIL_PK.build(email_hash=email_hash), "sk": MAIL_SK.build(hour=clock.hour(now))}
    count = _hourly_hit(client, key, limit=limit, ttl_s=config.MAIL_COUNTER_TTL_S, now=now)
    if count is None:
        raise OverLimit("mail_limit_exceeded", f"at most {limit} links per address per hour; try again later",
                       headers={"Retry-After": str(3600 - now % 3600)})
    return count


def github_consume(client, calls: int = 1, *, shard: int | None = None) -> None:
    """Record ``calls`` GitHub API calls in this hour's window, on a random shard."""
    now = int(clock.now())
    shard = random.randrange(config.GITHUB_SHARDS) if shard is None else shard
    client.update_item(
        TableName=config.api_keys_table(),
        Key={"pk": to_attr(GITHUB_PK.build(shard=str(shard))), "sk": to_attr(GITHUB_SK.build(window=clock.hour(now)))},
        UpdateExpression="ADD used :n SET #ttl = if_not_exists(#ttl, :ttl)",
        ExpressionAttributeNames={"#ttl": "ttl"},
        ExpressionAttributeValues={":n": to_attr(calls), ":ttl": to_attr(now + 2 * 3600)},
    )


def github_used(client, window: str | None = None) -> int:
    """Calls used in ``window`` (default: this hour), summed over every shard."""
    window = window or clock.hour()
    table = config.api_keys_table()
    keys = [
        {"pk": to_attr(GITHUB_PK.build(shard=str(s))), "sk": to_attr(GITHUB_SK.build(window=window))}
        for s in range(config.GITHUB_SHARDS)
    ]
    from .batch import batch_get

    items = batch_get(client, table, keys)
    return sum(int(item["used"]["N"]) for item in items if "used" in item)


def github_remaining(client) -> int:
    return max(0, config.GITHUB_HOURLY_BUDGET - github_used(client))
