"""boto3 clients created once per container (per process), on first use.

Lazily, so importing a handler stays cheap and tests can start moto before
the first client exists; ``reset_clients()`` lets a test drop the cache.
"""

from __future__ import annotations

from functools import cache

import boto3
from botocore.config import Config

# Standard retry mode: exponential backoff with jitter on throttling, capped.
# Short per-attempt timeouts: DynamoDB answers in milliseconds, and each handler keeps one
# attempt (connect + read) back from its Lambda deadline (common/faults.py), so a 10 s API
# function has 6.5 s of working time.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=1, read_timeout=2)


@cache
def client(service: str):
    return boto3.client(service, config=_CONFIG)


def dynamodb():
    return client("dynamodb")


def reset_clients() -> None:
    client.cache_clear()
