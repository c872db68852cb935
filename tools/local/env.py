"""Facts of the local target that every local tool shares, and the one boto3 session.

The account id is the one MiniStack is started with, so ``cdk bootstrap``
state and the ARNs in templates agree; credentials are the emulator's test
pair, never a real profile.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = ROOT / ".local"
ACCOUNT = "123456789012"
REGION = "us-east-1"
DEFAULT_PORT = 4566


class LocalError(RuntimeError):
    """An expected failure, reported as one line without a traceback."""


def endpoint_url(port: int) -> str:
    return f"http://localhost:{port}"


def api_url(port: int, api_id: str, stage: str) -> str:
    """A REST API's base URL on MiniStack (its execute-api path form)."""
    return f"{endpoint_url(port)}/_aws/execute-api/{api_id}/{stage}"


def local_env(port: int, base: dict | None = None) -> dict[str, str]:
    """Environment that points the CDK CLI, boto3 and the aws CLI at the endpoint."""
    env = dict(os.environ if base is None else base)
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_DEFAULT_PROFILE"):
        env.pop(var, None)
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url(port),
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "CDK_DEFAULT_ACCOUNT": ACCOUNT,
            "CDK_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return env


def export_line(port: int) -> str:
    return (
        f"export AWS_ENDPOINT_URL={endpoint_url(port)} AWS_ACCESS_KEY_ID=test "
        f"AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION={REGION}"
    )


@cache
def _session():
    import boto3

    return boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)


@cache
def client(service: str, port: int):
    """A boto3 client for the endpoint on ``port``, built once per process."""
    from botocore.config import Config

    return _session().client(
        service,
        endpoint_url=endpoint_url(port),
        config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=60),
    )
