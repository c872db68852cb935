"""DepHealth: DynamoDB requests per operation, and batch reads under faults.

Every row runs the real handler code in-process against moto tables created
from the synthesized template, counting requests with a botocore event hook.
``batch_fault_benchmark`` holds back a fraction of the keys of each
BatchGetItem as ``UnprocessedKeys`` (moto never produces them) and adds a
fixed latency per request, then reads the same keys three ways: our
``batch_get_packages``, a sequential GetItem loop and PynamoDB's
``Model.batch_get``.

Both entry points take an optional ``client``: a moto world whose dev tables
already exist (the tests' ``aws`` fixture). Without one they build a private
world, which is what ``make bench`` does.
"""

from __future__ import annotations

import json
import math
import random
import time
from contextlib import contextmanager

from tools.bench.faults import inject_faults, moto_tables, patched_env

PRODUCT = "dephealth"
LATENCY_S = 0.005  # injected per DynamoDB request: a same-region round trip
FAULT_SEED = 11
SEQUENTIAL_SAMPLE = 500


@contextmanager
def _world(client=None):
    """The caller's moto world as is, or a private one with the DepHealth tables.

    The private one drops table-name overrides, so the handlers use the
    schema's names, which are the names of the tables it creates.
    """
    if client is not None:
        yield client
        return
    with patched_env({"PACKAGES_TABLE": None, "API_KEYS_TABLE": None}), \
            moto_tables(["DepHealthData"]) as own:
        yield own


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


def _api_event(method: str, path: str, resource: str | None = None, *, body=None, query=None,
               headers=None, path_params=None) -> dict:
    """An API Gateway REST proxy event, as the DepHealth routes receive it."""
    headers = {"Content-Type": "application/json", **(headers or {})}
    return {"resource": resource or path, "path": path, "httpMethod": method, "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": query, "multiValueQueryStringParameters":
                {k: [v] for k, v in query.items()} if query else None,
            "pathParameters": path_params, "stageVariables": None, "isBase64Encoded": False,
            "requestContext": {"resourcePath": resource or path, "httpMethod": method, "path": path,
                               "stage": "bench", "requestId": "bench", "accountId": "123456789012",
                               "identity": {"sourceIp": "203.0.113.7", "userAgent": "bench"}},
            "body": None if body is None else json.dumps(body)}


def _collector_event(body: str) -> dict:
    """One SQS record for the collector's dead-letter handler."""
    return {"Records": [{"messageId": "bench-1", "receiptHandle": "bench", "body": body,
                         "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795000000000",
                                        "SenderId": "bench", "ApproximateFirstReceiveTimestamp": "1795000000050"},
                         "messageAttributes": {},
                         "md5OfBody": "", "eventSource": "aws:sqs", "awsRegion": "us-east-1",
                         "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:collector-queue"}]}


_COLLECTED = {"ecosystem": "npm", "name": "left-pad", "risk_level": "high", "tier": "long-tail",
              "health_score": 21, "latest_version": "1.3.0", "last_updated": "2026-11-21T09:30:00Z"}


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
    from lambda_src.dephealth import (auth_api, config, dlq, mail_worker, mailer, packages, packages_api, quotas,
                                      rate_limits)
    from tools.bench.counting import count_requests

    rows = []
    mail = _Mail()
    old = mailer.set_sender(mail)
    import boto3

    sqs = boto3.client("sqs", region_name=client.meta.region_name)
    queue = sqs.create_queue(QueueName="bench-dephealth-mail")["QueueUrl"]

    def deliver(kind: str) -> None:
        """The Mailer's work for the request the route just queued (counted apart from the route)."""
        [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1)["Messages"]
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        with count_requests(client) as c:
            mail_worker.handler({"Records": [{"messageId": message["MessageId"], "body": message["Body"],
                                              "receiptHandle": "r", "attributes": {}, "messageAttributes": {},
                                              "eventSource": "aws:sqs"}]}, _Context())
        notes = {"signup": "Query user records + PutItem PENDING, then SES",
                 "magic_link": "Query user records + UpdateItem, then SES"}[kind]
        rows.append(_row(f"mail worker: {kind}", c, 2, notes))

    try:
        with patched_env({"MAIL_QUEUE_URL": queue}):
            email = "bench@example.com"
            with count_requests(client) as c:
                _call(auth_api.handler, _api_event("POST", "/signup", body={"email": email}))
            rows.append(_row("POST /signup", c, 1, "UpdateItem per-address mail counter + SQS SendMessage"))
            deliver("signup")
            with count_requests(client) as c:
                verified = _call(auth_api.handler,
                                 _api_event("GET", "/verify", query={"token": mail.links["verify"]}))
            key = verified["body"]["api_key"]
            rows.append(_row("GET /verify", c, 3, "Query KEYS_ONLY index + GetItem (email, ttl) + one transaction"))
            with count_requests(client) as c:
                _call(auth_api.handler, _api_event("POST", "/auth/magic-link", body={"email": email}))
            rows.append(_row("POST /auth/magic-link", c, 1, "UpdateItem per-address mail counter + SQS SendMessage"))
            deliver("magic_link")
            with count_requests(client) as c:
                login = _call(auth_api.handler,
                              _api_event("GET", "/auth/callback", query={"token": mail.links["magic_link"]}))
            assert login["status"] == 200
            rows.append(_row("GET /auth/callback (login)", c, 2,
                             "Query magic-token-index + one conditional UpdateItem"))
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
        _call(packages_api.handler, _api_event("GET", "/packages/npm/bench-00001", "/packages/{ecosystem}/{name}",
                                               headers={"x-api-key": key},
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

    event = _collector_event(json.dumps(_COLLECTED))
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


def run(client=None) -> list[dict]:
    """One row per operation. ``client``: the handlers' own (``aws_clients.dynamodb()``) in a
    moto world with the dev tables; the handlers count on it being the client they use."""
    with _world(client) as ddb:
        return _scenario(ddb)


def _time_ours(client, names, faults: dict) -> dict:
    """``batch_get_packages``: full requests of 100, held keys merged into the next, jittered backoff."""
    from lambda_src.dephealth import packages

    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    with inject_faults(client, **faults) as hooks:
        started = time.perf_counter()
        found = packages.batch_get_packages(client, names, rng=random.Random(5), deadline_s=120, sleep=sleep)
        elapsed = time.perf_counter() - started
    return {"s": elapsed, "requests": sum(hooks.calls.values()), "keys": len(found),
            "max_batch": max(hooks.batch_sizes), "backoff_s": sum(slept)}


def _time_sequential(client, table: str, sample, faults: dict) -> dict:
    """One GetItem per key, one after the other: what a loop without batching costs."""
    from lambda_src.dephealth.packages import package_key

    with inject_faults(client, **faults) as hooks:
        started = time.perf_counter()
        found = sum("Item" in client.get_item(TableName=table, Key=package_key(e, name)) for e, name in sample)
        elapsed = time.perf_counter() - started
    return {"s": elapsed, "requests": sum(hooks.calls.values()), "keys": found}


def _pynamodb_model(client, table: str):
    """A PynamoDB model of the packages table, on the endpoint and region of ``client``.

    A new class per call: PynamoDB caches its connection (and botocore
    client) on the class, which must not outlive one moto world.
    """
    from pynamodb.attributes import UnicodeAttribute
    from pynamodb.models import Model

    endpoint, region_name = client.meta.endpoint_url, client.meta.region_name

    class Package(Model):
        class Meta:
            table_name = table
            region = region_name
            host = endpoint

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)

    return Package


def _time_pynamodb(client, table: str, names, faults: dict) -> dict:
    """PynamoDB's ``Model.batch_get``, with the faults injected on PynamoDB's own botocore client."""
    from lambda_src.dephealth.packages import package_key

    model = _pynamodb_model(client, table)
    keys = [(k["pk"]["S"], k["sk"]["S"]) for k in (package_key(e, name) for e, name in names)]
    with inject_faults(model._get_connection().connection.client, **faults) as hooks:
        started = time.perf_counter()
        found = sum(1 for _ in model.batch_get(keys))
        elapsed = time.perf_counter() - started
    return {"s": elapsed, "requests": sum(hooks.calls.values()), "keys": found,
            "max_batch": max(hooks.batch_sizes)}


def _notes(latency_s: float, n: int, ours: dict, sequential: dict, sample: int, pynamodb: dict) -> str:
    return (f"{latency_s * 1000:g} ms injected per request (all three, seeded faults); "
            f"ours: held keys ride in the next full request, {ours['backoff_s']:.2f} s of wall is "
            "full-jitter backoff; "
            f"sequential: {sample:,} GetItem timed ({sequential['keys']:,} found) and scaled x{n / sample:g}; "
            f"PynamoDB: {pynamodb['requests']} requests, {pynamodb['keys']:,} keys returned, "
            "held keys re-requested alone, no backoff")


def batch_fault_benchmark(n: int = 10_000, unprocessed_fraction: float = 0.3, *, client=None,
                          latency_s: float = LATENCY_S, sequential_sample: int = SEQUENTIAL_SAMPLE) -> dict:
    """``n`` package reads three ways, under the same latency and the same seeded UnprocessedKeys.

    The sequential loop is timed over ``sequential_sample`` keys and scaled
    linearly to ``n`` (GetItem has no UnprocessedKeys, so only the latency
    applies to it); the whole loop would dominate the run and teach nothing more.
    """
    from lambda_src.dephealth import config

    faults = {"unprocessed_fraction": unprocessed_fraction, "latency_s": latency_s, "seed": FAULT_SEED}
    with _world(client) as ddb:
        table = config.packages_table()
        names = _load_packages(ddb, table, n)
        sample = names[:min(n, sequential_sample)]
        ours = _time_ours(ddb, names, faults)
        sequential = _time_sequential(ddb, table, sample, faults)
        pynamodb = _time_pynamodb(ddb, table, names, faults)
    floor = math.ceil(math.ceil(n / 100) / (1 - unprocessed_fraction))
    return {"requests": ours["requests"], "floor": floor, "keys_returned": ours["keys"], "keys_requested": n,
            "wall_s": round(ours["s"], 2), "max_batch": ours["max_batch"], "backoff_s": round(ours["backoff_s"], 2),
            "sequential_s": round(sequential["s"] * n / len(sample), 1),
            "sequential_sample": len(sample), "sequential_keys_returned": sequential["keys"],
            "pynamodb_s": round(pynamodb["s"], 2), "pynamodb_requests": pynamodb["requests"],
            "pynamodb_keys_returned": pynamodb["keys"], "latency_ms": latency_s * 1000,
            "notes": _notes(latency_s, n, ours, sequential, len(sample), pynamodb)}


if __name__ == "__main__":
    for row in run():
        print(row)
    for fraction in (0.0, 0.1, 0.3):
        print(batch_fault_benchmark(unprocessed_fraction=fraction))
