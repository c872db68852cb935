"""DepHealth: DynamoDB requests per operation, and batch reads under faults.

Every row runs the real handler code in-process against moto tables created
from the synthesized template, counting requests with a botocore event hook.
``batch_fault_benchmark`` wraps the client so a fraction of the keys in each
BatchGetItem come back as ``UnprocessedKeys`` (moto never produces them).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from contextlib import contextmanager

PRODUCT = "dephealth"
_ENV = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}


@contextmanager
def _moto():
    import boto3
    from moto import mock_aws

    from lambda_src.common.aws_clients import dynamodb, reset_clients
    from tests.synth import synth
    from tools.cfn_tables import create_tables

    saved = {k: os.environ.get(k) for k in (*_ENV, "PACKAGES_TABLE", "API_KEYS_TABLE")}
    os.environ.update(_ENV)
    for key in ("PACKAGES_TABLE", "API_KEYS_TABLE"):
        os.environ.pop(key, None)  # the schema's deployed names
    templates = synth("dev")
    try:
        with mock_aws():
            create_tables(boto3.client("dynamodb", region_name="us-east-1"),
                          [templates["DepHealthData"]])
            reset_clients()
            yield dynamodb()
    finally:
        reset_clients()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _Mail:
    def __init__(self):
        self.links = {}

    def send(self, *, to, kind, link):
        self.links[kind] = link.split("token=", 1)[-1]


class _Context:
    function_name, memory_limit_in_mb, aws_request_id = "bench", 256, "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"

    def get_remaining_time_in_millis(self):
        return 300_000


def _event(name: str, **changes) -> dict:
    from tests.runtime.dephealth.conftest import api_event

    return api_event(name, **changes)


def _call(handler, event) -> dict:
    response = handler(event, _Context())
    return {"status": response["statusCode"], "body": json.loads(response["body"])}


def _row(operation, counter, floor, notes="") -> dict:
    return {"product": PRODUCT, "operation": operation, "requests": counter.total, "floor": floor,
            "items_read": counter.items_read, "items_returned": counter.items_returned,
            "notes": notes or ", ".join(f"{op} {n}" for op, n in sorted(counter.by_operation.items()))}


def _load_packages(client, table: str, n: int, risk: str = "critical") -> list[tuple[str, str]]:
    names = [("npm", f"bench-{i:05d}") for i in range(n)]
    for start in range(0, n, 25):
        client.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {
            "pk": {"S": f"{e}#{name}"}, "sk": {"S": "LATEST"}, "ecosystem": {"S": e}, "name": {"S": name},
            "risk_level": {"S": risk}, "last_updated": {"S": f"2026-11-{1 + i % 28:02d}T00:00:{i % 60:02d}Z"}}}}
            for i, (e, name) in enumerate(names[start:start + 25], start)]})
    return names


def _scenario(client) -> list[dict]:
    from lambda_src.dephealth import auth_api, config, dlq, mailer, packages, packages_api, quotas, rate_limits
    from tools.bench.counting import count_requests

    rows = []
    mail = _Mail()
    old = mailer.set_sender(mail)
    try:
        email = "bench@example.com"
        with count_requests(client) as c:
            _call(auth_api.handler, _event("signup", body={"email": email}))
        rows.append(_row("POST /signup", c, 2, "Query user records + PutItem PENDING"))
        with count_requests(client) as c:
            key = _call(auth_api.handler, _event("verify", query={"token": mail.links["verify"]}))["body"]["api_key"]
        rows.append(_row("GET /verify", c, 3, "Query KEYS_ONLY index + GetItem (email, ttl) + one transaction"))
        with count_requests(client) as c:
            _call(auth_api.handler, _event("magic_link", body={"email": email}))
        rows.append(_row("POST /auth/magic-link", c, 2, "Query user records + UpdateItem"))
        with count_requests(client) as c:
            assert _call(auth_api.handler, _event("callback", query={"token": mail.links["magic_link"]}))["status"] == 200
        rows.append(_row("GET /auth/callback (login)", c, 2, "Query magic-token-index + one conditional UpdateItem"))
    finally:
        mailer.set_sender(old)

    with count_requests(client) as c:
        record = quotas.authenticate(client, key)
    rows.append(_row("api-key auth", c, 1))
    with count_requests(client) as c:
        quotas.consume(client, record)
    rows.append(_row("quota count (atomic ADD)", c, 1))
    with count_requests(client) as c:
        rate_limits.demo_hit(client, "203.0.113.9")
    rows.append(_row("demo counter (atomic ADD)", c, 1))

    table = config.packages_table()
    _load_packages(client, table, 250)
    with count_requests(client) as c:
        packages.get_package(client, "npm", "bench-00001")
    rows.append(_row("package get", c, 1))
    with count_requests(client) as c:
        _call(packages_api.handler, _event("package_get", headers={"x-api-key": key},
                                           path_params={"ecosystem": "npm", "name": "bench-00001"}))
    rows.append(_row("GET /packages/{ecosystem}/{name} with API key", c, 3, "auth Query + quota UpdateItem + GetItem"))
    for n in (50, 100, 250):
        with count_requests(client) as c:
            page = packages.list_by_risk(client, "critical", limit=n)
        assert len(page["items"]) == n
        rows.append(_row(f"risk listing, {n} items", c, 1 + math.ceil(n / 100),
                         f"Query 1 + BatchGetItem {c.by_operation['BatchGetItem']}"))
    names = _load_packages(client, table, 1000)
    with count_requests(client) as c:
        found = packages.batch_get_packages(client, names)
    assert len(found) == 1000
    rows.append(_row("batch_get_packages, 1000 names", c, 10))

    from lambda_src.dephealth.collector import InvalidMessage  # noqa: F401 (documents the permanent path)
    from tests.runtime.dephealth.conftest import load_event

    event = load_event("sqs_collector")
    with count_requests(client) as c:
        dlq.handler(event, _Context())
    rows.append(_row("collector message applied", c, 1, "one conditional UpdateItem"))
    event["Records"][0]["body"] = "not json"
    with count_requests(client) as c:
        dlq.handler(event, _Context())
        dlq.handler(event, _Context())
    rows.append(_row("FAILED record, delivered twice", c, 2,
                     "conditional PutItem each; the duplicate writes nothing"))
    return rows


def run() -> list[dict]:
    with _moto() as client:
        return _scenario(client)


def batch_fault_benchmark(n: int = 10_000, unprocessed_fraction: float = 0.3) -> dict:
    """``batch_get_packages`` of ``n`` names with a fraction held back per request."""
    from lambda_src.dephealth import config, packages
    from tests.runtime.dephealth.faults import FaultyClient

    with _moto() as client:
        names = _load_packages(client, config.packages_table(), n)
        faulty = FaultyClient(client, unprocessed_fraction=unprocessed_fraction, seed=11)
        started = time.perf_counter()
        found = packages.batch_get_packages(faulty, names, rng=random.Random(5), deadline_s=120)
        wall = time.perf_counter() - started
    floor = math.ceil(math.ceil(n / 100) / (1 - unprocessed_fraction))
    return {"requests": faulty.calls, "floor": floor, "keys_returned": len(found), "keys_requested": n,
            "wall_s": round(wall, 2), "max_batch": max(faulty.batch_sizes),
            "notes": "unprocessed keys merged into the next full request; full-jitter backoff"}


if __name__ == "__main__":
    for row in run():
        print(row)
    for fraction in (0.0, 0.3):
        print(batch_fault_benchmark(unprocessed_fraction=fraction))
