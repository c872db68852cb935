"""Session-wide fixtures: synthesized templates and moto tables built from them."""

from __future__ import annotations

import os

import pytest

from tests.synth import Synthesis, synthesis

# Never reach a real account from a test.
for _var, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}.items():
    os.environ[_var] = _value
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(scope="session")
def dev_synthesis() -> Synthesis:
    """The dev app: templates and the cdk-nag findings left unacknowledged (AwsSolutions)."""
    return synthesis("dev")


@pytest.fixture(scope="session")
def prod_synthesis() -> Synthesis:
    """The prod app: templates and the findings of AwsSolutions, Serverless and NIST 800-53 rev 5."""
    return synthesis("prod")


@pytest.fixture(scope="session")
def dev_templates(dev_synthesis) -> dict[str, dict]:
    return dev_synthesis.templates


@pytest.fixture(scope="session")
def prod_templates(prod_synthesis) -> dict[str, dict]:
    return prod_synthesis.templates


@pytest.fixture(scope="session", params=["dev", "prod"])
def staged_templates(request) -> tuple[str, dict[str, dict]]:
    return request.param, synthesis(request.param).templates


@pytest.fixture(scope="session")
def _moto_session(dev_templates):
    import boto3
    from moto import mock_aws

    from tools.cfn_tables import create_tables

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(client, dev_templates.values())
        yield client


def function_table_env(templates) -> dict[str, str]:
    """The table and index names the stacks set in their functions' environments.

    Handlers refuse to run without them (no fallback to a default table), so
    in-process tests set them exactly as the synthesized templates do.
    """
    env: dict[str, str] = {}
    for template in templates:
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            for name, value in resource["Properties"].get("Environment", {}).get("Variables", {}).items():
                if isinstance(value, str) and (name.endswith("_TABLE") or name in ("TABLE_NAME", "GSI_NAME")):
                    env[name] = value
    return env


@pytest.fixture
def aws(_moto_session, dev_templates, monkeypatch):
    """moto with every table of the dev templates, created from their properties.

    Each test starts with empty tables and a blank account for every other
    service (see tests/moto_world.py); the client is shared for speed. The
    functions' table-name variables are set as the dev stacks set them.
    """
    for name, value in function_table_env(dev_templates.values()).items():
        monkeypatch.setenv(name, value)
    from lambda_src.common.aws_clients import reset_clients
    from tests.moto_world import reset_world

    reset_world(_moto_session, dev_templates.values())
    reset_clients()
    yield _moto_session
    reset_clients()


@pytest.fixture
def ddb(aws):
    """The low-level DynamoDB client against the moto tables."""
    return aws
