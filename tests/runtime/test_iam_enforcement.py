"""The IAM the runtime tests enforce is read right from the templates, and it bites."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from lambda_src.dephealth import schema as dephealth
from lambda_src.iops import schema as iops
from tests.runtime.iam import Policies


def test_every_function_of_the_app_has_its_dynamodb_statements(function_policies: Policies) -> None:
    modules = set(function_policies.by_module)
    assert {"lambda_src.kv.api", "lambda_src.dephealth.auth_api", "lambda_src.dephealth.mail_worker",
            "lambda_src.dephealth.packages_api", "lambda_src.dephealth.dlq", "lambda_src.dephealth.monthly_reset",
            "lambda_src.iops.ingest", "lambda_src.iops.recompute", "lambda_src.iops.insights"} <= modules
    for module in modules - {"lambda_src.dephealth.mailer"}:
        assert function_policies.by_module[module], f"{module}: no DynamoDB statement read"


def _needs_allowed(policies: Policies, module: str, operation: str, params: dict) -> bool:
    try:
        policies.check(module, operation, params)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "AccessDeniedException"
        return False
    return True


@pytest.mark.parametrize(("pk", "allowed"), [
    ("FAILED#npm#left-pad#2026-11-23", True),
    ("FAILED_MESSAGE#abc", True),
    ("user_0123abcd", False),  # an API-key record: the DLQ processor may not forge one
    ("SYSTEM#RESET_STATE", False),
])
def test_the_dlq_processor_writes_only_failed_records(function_policies: Policies, pk: str, allowed: bool) -> None:
    table = dephealth.API_KEYS.table_name("dev")
    item = {"pk": {"S": pk}, "sk": {"S": "x"}}
    assert _needs_allowed(function_policies, "lambda_src.dephealth.dlq", "PutItem",
                          {"TableName": table, "Item": item}) is allowed


def test_a_transaction_is_authorized_per_element(function_policies: Policies) -> None:
    table = dephealth.API_KEYS.table_name("dev")
    put = {"Put": {"TableName": table, "Item": {"pk": {"S": "FAILED#x"}, "sk": {"S": "1"}}}}
    forged = {"Put": {"TableName": table, "Item": {"pk": {"S": "user_forged"}, "sk": {"S": "1"}}}}
    module = "lambda_src.dephealth.dlq"
    assert _needs_allowed(function_policies, module, "TransactWriteItems", {"TransactItems": [put]})
    assert not _needs_allowed(function_policies, module, "TransactWriteItems", {"TransactItems": [put, forged]})


def test_only_the_reset_may_scan_and_a_reader_may_not_write(function_policies: Policies) -> None:
    table = dephealth.API_KEYS.table_name("dev")
    assert _needs_allowed(function_policies, "lambda_src.dephealth.monthly_reset", "Scan", {"TableName": table})
    assert not _needs_allowed(function_policies, "lambda_src.dephealth.packages_api", "Scan", {"TableName": table})
    metrics = iops.METRICS.table_name("dev")
    item = {iops.METRICS.partition.name: {"S": "x"}}
    assert not _needs_allowed(function_policies, "lambda_src.iops.insights", "PutItem",
                              {"TableName": metrics, "Item": item})


def test_a_query_on_an_index_needs_that_index(function_policies: Policies) -> None:
    table = dephealth.API_KEYS.table_name("dev")
    query = {"TableName": table, "IndexName": dephealth.KEY_HASH_INDEX.name,
             "KeyConditionExpression": "key_hash = :h", "ExpressionAttributeValues": {":h": {"S": "h"}}}
    assert _needs_allowed(function_policies, "lambda_src.dephealth.packages_api", "Query", query)
    assert not _needs_allowed(function_policies, "lambda_src.dephealth.monthly_reset", "Query", query)


def test_handler_calls_in_the_runtime_tests_are_checked(deployed_iam: Policies, aws) -> None:
    """A demo package read through the handler: its key lookup and counter update are authorized."""
    from lambda_src.dephealth import packages_api
    from tests.runtime.dephealth.conftest import api_event, call

    before = deployed_iam.checked
    status, _ = call(packages_api.handler, api_event("package_get_demo", ip="198.51.100.7"))
    assert status in (200, 404)
    assert deployed_iam.checked > before


def test_a_denied_handler_call_fails_as_on_aws(deployed_iam: Policies, aws, monkeypatch) -> None:
    """Take PackagesApi's grant on the packages table away: the same read answers from AccessDenied."""
    from lambda_src.dephealth import packages_api
    from tests.runtime.dephealth.conftest import api_event, call

    packages = dephealth.PACKAGES.table_name("dev")
    statements = deployed_iam.by_module["lambda_src.dephealth.packages_api"]
    monkeypatch.setitem(deployed_iam.by_module, "lambda_src.dephealth.packages_api",
                        [s for s in statements if packages not in s.resources])
    status, body = call(packages_api.handler, api_event("package_get_demo", ip="198.51.100.8"))
    assert status == 500 and body["error"] == "internal_error", (status, body)
