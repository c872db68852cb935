"""Reserved concurrency: the public API functions in prod (context ``apiReservedConcurrency``), none in dev.

A flood through the API can then use at most the reservation, never the
account's whole pool (which the queue consumers and scheduled jobs share)
nor more of the tables' capacity than that many concurrent requests.
"""

from __future__ import annotations

import pytest

from constructs_lib.rest_api import DEFAULT_PROD_RESERVED_CONCURRENCY
from tests.synth import synth

PUBLIC = {"KvStorageApi": {"lambda_src.kv.api.handler"},
          "DepHealthService": {"lambda_src.dephealth.auth_api.handler", "lambda_src.dephealth.packages_api.handler"}}
# Scheduled jobs run one at a time in prod (constructs_lib/scheduled_target.py), whatever the API reservation.
SCHEDULED = {"lambda_src.dephealth.monthly_reset.handler"}


def reservations(template: dict) -> dict[str, int | None]:
    return {r["Properties"]["Handler"]: r["Properties"].get("ReservedConcurrentExecutions")
            for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"}


@pytest.mark.parametrize("stack", sorted(PUBLIC))
def test_prod_reserves_for_public_api_functions_only(stack, prod_templates, dev_templates):
    prod = reservations(prod_templates[stack])
    assert {h for h, n in prod.items() if n is not None} - SCHEDULED == PUBLIC[stack]
    assert all(prod[h] == 1 for h in SCHEDULED & set(prod))
    assert all(prod[h] == DEFAULT_PROD_RESERVED_CONCURRENCY for h in PUBLIC[stack])
    assert set(reservations(dev_templates[stack]).values()) == {None}


def test_the_context_sets_or_removes_the_reservation():
    assert reservations(synth("prod", (("apiReservedConcurrency", "7"),))["KvStorageApi"]) == {
        "lambda_src.kv.api.handler": 7}
    off = synth("prod", (("apiReservedConcurrency", "none"),))
    assert {h for h, n in reservations(off["DepHealthService"]).items() if n is not None} == SCHEDULED
