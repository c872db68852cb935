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

import functools
import json
import math
import time
from contextlib import contextmanager

from lambda_src.dephealth import declarations
from lambda_src.dephealth.schema import API_KEYS, PACKAGES
from tools.bench.faults import moto_tables, patched_env

# The table names the dev service stack sets on every DepHealth function.
DEV_TABLES = {declarations.PACKAGES_TABLE_VAR: PACKAGES.table_name("dev"),
              declarations.API_KEYS_TABLE_VAR: API_KEYS.table_name("dev")}

PRODUCT = "dephealth"
LATENCY_S = 0.005  # injected per DynamoDB request: a same-region round trip
FAULT_SEED = 11
SEQUENTIAL_SAMPLE = 500


@contextmanager
def _world(client=None):
    """The caller's moto world as is, or a private one with the DepHealth tables.

    The private one sets the table names to the schema's dev names, which are
    the names of the tables it creates.
    """
    if client is not None:
        yield client
        return
    with patched_env(DEV_TABLES), \
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
    from lambda_src.dephealth import (
        auth_api,
        config,
        dlq,
        mail_worker,
        mailer,
        packages,
        packages_api,
        quotas,
        rate_limits,
    )
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
        with patched_env({declarations.MAIL_QUEUE_URL_VAR: queue}):
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


# --- batch reads on the transport stub --------------------------------------------------------

BATCH_LATENCY_S = 0.010  # per BatchGetItem/GetItem request
BATCH_PER_KEY_S = 0.00005  # per key of a request: a full request of 100 answers in 15 ms
SOURCE_SLEEP_S = 0.1  # the source design's fixed pause before re-sending UnprocessedKeys
SOURCE_SAMPLE_CHUNKS = 10


def _stub_client():
    """A botocore DynamoDB client that never reaches the network (the stub answers before-send)."""
    import boto3

    return boto3.client("dynamodb", region_name="us-east-1", endpoint_url="https://dynamodb.us-east-1.amazonaws.com",
                        aws_access_key_id="bench", aws_secret_access_key="bench")


def _stub(table: str, names, fraction: float, **latency):
    from lambda_src.dephealth.packages import package_key
    from tools.bench.transport import StubTable

    items = [{**package_key(e, name), "ecosystem": {"S": e}, "name": {"S": name}, "risk_level": {"S": "low"}}
             for e, name in names]
    return StubTable(table, items, fraction=fraction, seed=FAULT_SEED, **latency)


def _timed(stub, client, fn) -> dict:
    stub.attach(client)
    try:
        started = time.perf_counter()
        keys = fn()
        elapsed = time.perf_counter() - started
    finally:
        stub.detach(client)
    return {"s": elapsed, "requests": stub.requests, "keys": keys,
            "max_batch": max(stub.batch_sizes, default=0)}


def _ours(table, names, fraction, latency) -> dict:
    from lambda_src.dephealth import packages

    client, stub = _stub_client(), _stub(table, names, fraction, **latency)
    return _timed(stub, client, lambda: len(packages.batch_get_packages(client, names, deadline_s=300)))


def _pynamodb(table, names, fraction, latency) -> dict:
    """PynamoDB's ``Model.batch_get`` on its own botocore client, on the same stub."""
    from pynamodb.attributes import UnicodeAttribute
    from pynamodb.models import Model

    from lambda_src.dephealth.packages import package_key

    class Package(Model):  # a new class per run: PynamoDB caches its client on the class
        class Meta:
            table_name = table
            region = "us-east-1"
            host = "https://dynamodb.us-east-1.amazonaws.com"
            aws_access_key_id = "bench"
            aws_secret_access_key = "bench"

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)

    keys = [(k["pk"]["S"], k["sk"]["S"]) for k in (package_key(e, name) for e, name in names)]
    stub = _stub(table, names, fraction, **latency)
    return _timed(stub, Package._get_connection().connection.client,
                  lambda: sum(1 for _ in Package.batch_get(keys)))


def source_loop(client, table: str, keys: list[dict], pause_s: float = SOURCE_SLEEP_S) -> list[dict]:
    """The source design's reader: one request of 100 at a time, its UnprocessedKeys re-sent
    alone after a fixed ``time.sleep(0.1)`` until none are left, then the next 100."""
    found = []
    for start in range(0, len(keys), 100):
        request: dict | None = {table: {"Keys": keys[start:start + 100]}}
        while request:
            response = client.batch_get_item(RequestItems=request)
            found.extend(response["Responses"].get(table, []))
            request = response.get("UnprocessedKeys") or None
            if request:
                time.sleep(pause_s)
    return found


def _source(table, names, fraction, latency, sample_chunks) -> dict:
    """The source loop over the first ``sample_chunks`` requests' keys, scaled to all of them.

    The loop finishes one chunk before it starts the next, so chunks cost the
    same on average and the sample scales linearly; the whole loop at 30 %
    would take most of a minute and teach nothing more.
    """
    from lambda_src.dephealth.packages import package_key

    sample = names[:sample_chunks * 100]
    client, stub = _stub_client(), _stub(table, sample, fraction, **latency)
    keys = [package_key(e, name) for e, name in sample]
    r = _timed(stub, client, lambda: len(source_loop(client, table, keys)))
    scale = math.ceil(len(names) / 100) / math.ceil(len(sample) / 100)
    return {**r, "sample_keys": len(sample), "sample_s": r["s"], "s": r["s"] * scale,
            "requests": round(r["requests"] * scale)}


def _floors(table, names, fraction, latency, concurrency) -> dict:
    """Full requests of 100 on a stub that holds nothing back, ``ceil(ceil(n/100)/(1-p))`` of
    them: the fewest a reader can send. Sent one at a time, then ``concurrency`` at a time."""
    from lambda_src.dephealth.packages import package_key

    chunk = [package_key(e, name) for e, name in names[:100]]
    count = math.ceil(math.ceil(len(names) / 100) / (1 - fraction))
    out = {"requests": count}
    for label, workers in (("sequential_s", 1), ("concurrent_s", concurrency)):
        client, stub = _stub_client(), _stub(table, names[:100], 0.0, **latency)
        out[label] = _timed(stub, client, functools.partial(_send_full_requests, client, table, chunk, count,
                                                            workers))["s"]
    return out


def _send_full_requests(client, table: str, chunk: list[dict], count: int, workers: int) -> int:
    """``count`` BatchGetItem requests of ``chunk``, ``workers`` at a time; the keys asked for."""
    from concurrent.futures import ThreadPoolExecutor

    def send(_):
        client.batch_get_item(RequestItems={table: {"Keys": chunk}})

    if workers == 1:
        for i in range(count):
            send(i)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(send, range(count)))
    return count * len(chunk)


def batch_read_benchmark(n: int = 10_000, fraction: float = 0.3, *, latency_s: float = BATCH_LATENCY_S,
                         per_key_s: float = BATCH_PER_KEY_S, source_sample_chunks: int = SOURCE_SAMPLE_CHUNKS,
                         concurrency: int | None = None) -> dict:
    """``n`` package reads five ways on the transport stub, with the same seeded held keys."""
    # The handlers' modules read the table names the stack sets; the stub answers for any name.
    with patched_env(DEV_TABLES):
        return _batch_read_benchmark(n, fraction, latency_s=latency_s, per_key_s=per_key_s,
                                     source_sample_chunks=source_sample_chunks, concurrency=concurrency)


def _batch_read_benchmark(n: int, fraction: float, *, latency_s: float, per_key_s: float,
                          source_sample_chunks: int, concurrency: int | None) -> dict:
    from lambda_src.dephealth.batch import DEFAULT_CONCURRENCY

    concurrency = concurrency or DEFAULT_CONCURRENCY
    table = PACKAGES.table_name("dev")  # the stub answers for any name; no deployment around it
    names = [("npm", f"bench-{i:05d}") for i in range(n)]
    latency = {"latency_s": latency_s, "per_key_s": per_key_s}
    ours = _ours(table, names, fraction, latency)
    pynamodb = _pynamodb(table, names, fraction, latency)
    source = _source(table, names, fraction, latency, source_sample_chunks)
    floors = _floors(table, names, fraction, latency, concurrency)
    return {
        "n": n, "fraction": fraction, "concurrency": concurrency,
        "ours_s": round(ours["s"], 3), "ours_requests": ours["requests"], "ours_keys": ours["keys"],
        "ours_max_batch": ours["max_batch"],
        "pynamodb_s": round(pynamodb["s"], 3), "pynamodb_requests": pynamodb["requests"],
        "pynamodb_keys": pynamodb["keys"],
        "source_s": round(source["s"], 2), "source_requests": source["requests"], "source_keys": source["keys"],
        "source_sample_keys": source["sample_keys"],
        "floor_requests": floors["requests"], "sequential_floor_s": round(floors["sequential_s"], 3),
        "concurrent_floor_s": round(floors["concurrent_s"], 3),
        "vs_pynamodb": round(pynamodb["s"] / ours["s"], 1), "vs_source": round(source["s"] / ours["s"], 1),
        "vs_concurrent_floor": round(ours["s"] / floors["concurrent_s"], 2),
        "request_ratio": round(ours["requests"] / (math.ceil(n / 100) / (1 - fraction)), 3),
    }


if __name__ == "__main__":
    for row in run():
        print(row)
    for p in (0.0, 0.1, 0.3):
        print(batch_read_benchmark(fraction=p))
