"""Build the DynamoDB client for a target and turn botocore failures into one line."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Protocol

from tools.admin.errors import Failure, UsageError

DEFAULT_LOCAL_PORT = "4566"
DEFAULT_LOCAL_REGION = "us-east-1"


class Endpoint(Protocol):
    """What a failure message needs to know about where the request went."""

    target: str

    @property
    def where(self) -> str: ...


@dataclass
class Connection:
    """A low-level DynamoDB client plus a count of the API calls it made."""

    client: Any
    target: str
    endpoint: str | None
    requests: int = 0
    by_operation: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.client.meta.events.register("before-call.dynamodb", self._count)

    def _count(self, model, **_kwargs) -> None:
        self.requests += 1
        self.by_operation[model.name] = self.by_operation.get(model.name, 0) + 1

    def call(self, operation: str, **kwargs):
        """Call ``operation`` (a snake_case client method), mapping errors to AdminError."""
        try:
            return getattr(self.client, operation)(**kwargs)
        except Exception as exc:  # botocore raises many unrelated classes
            raise translate(exc, self, kwargs.get("TableName")) from exc

    @property
    def where(self) -> str:
        return self.endpoint or "AWS"


_SESSIONS: dict[tuple, object] = {}


def _session(**kwargs):
    """One boto3 session per configuration: loading service models is the slow part."""
    import boto3

    key = tuple(sorted(kwargs.items()))
    if key not in _SESSIONS:
        _SESSIONS[key] = boto3.session.Session(**kwargs)
    return _SESSIONS[key]


def local_endpoint() -> str:
    return f"http://localhost:{os.environ.get('LOCAL_PORT') or DEFAULT_LOCAL_PORT}"


def connect(target: str, endpoint_url: str | None, region: str | None) -> Connection:
    """``local``: the embedded endpoint with test credentials; ``aws``: the standard chain."""
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    try:
        if target == "local":
            endpoint = endpoint_url or local_endpoint()
            config = Config(connect_timeout=2, read_timeout=15, retries={"max_attempts": 2, "mode": "standard"})
            session = _session(
                aws_access_key_id="test",
                aws_secret_access_key="test",
                region_name=region or os.environ.get("AWS_REGION")
                or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_LOCAL_REGION,
            )
            client = session.client("dynamodb", endpoint_url=endpoint, config=config)
            return Connection(client, target, endpoint)
        config = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 5, "mode": "standard"})
        session = _session(region_name=region)
        if not session.region_name:
            raise UsageError("no AWS region configured: pass --region or set AWS_REGION")
        client = session.client("dynamodb", endpoint_url=endpoint_url, config=config)
        return Connection(client, target, endpoint_url)
    except BotoCoreError as exc:
        raise Failure(f"cannot create a DynamoDB client: {exc}") from exc


def translate(exc: Exception, conn: Endpoint, table: str | None):
    """One clear line for every failure botocore can raise."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
        hint = " (is the local endpoint running? `make deploy` starts it)" if conn.target == "local" else ""
        return Failure(f"cannot reach the DynamoDB endpoint {conn.where}{hint}")
    if isinstance(exc, ReadTimeoutError):
        return Failure(f"the DynamoDB endpoint {conn.where} did not answer in time")
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return Failure("no AWS credentials found (configure a profile, or use --target local)")
    if isinstance(exc, NoRegionError):
        return UsageError("no AWS region configured: pass --region or set AWS_REGION")
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = err.get("Code", "Error")
        message = (err.get("Message") or "").strip()
        if code == "ConditionalCheckFailedException":
            return Failure("condition failed: the item does not exist (nothing changed)")
        if code == "ResourceNotFoundException":
            name = f" {table!r}" if table else ""
            return Failure(f"table{name} not found at {conn.where} (deployed? right --stage/--target?)")
        if code in ("UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException",
                    "AccessDeniedException"):
            return Failure(f"{code}: {message or 'request was refused'}")
        if code == "ValidationException":
            return UsageError(f"DynamoDB rejected the request: {message}")
        return Failure(f"{code}: {message}" if message else code)
    if isinstance(exc, BotoCoreError):
        return Failure(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    if isinstance(exc, (UsageError, Failure)):
        return exc
    return Failure(f"{type(exc).__name__}: {exc}")
