"""Every runtime test runs its handlers under the IAM the deployed functions get (tests/runtime/iam.py)."""

from __future__ import annotations

import pytest

from tests.runtime.iam import Policies, enforced, read_policies


@pytest.fixture(scope="session")
def function_policies(dev_templates) -> Policies:
    return read_policies(dev_templates)


@pytest.fixture(autouse=True)
def deployed_iam(function_policies):
    """A DynamoDB request a handler's role does not allow fails as on AWS (AccessDeniedException)."""
    with enforced(function_policies) as policies:
        yield policies
