"""KV API: DynamoDB requests per operation, measured through the real handler on moto.

Each row runs the handler in-process against moto tables created from the
synthesized template (or the caller's moto world, ``run(client)``) and
counts the requests its client sends. ``floor`` is the design minimum:
authentication (one GSI1 Query) plus one request per operation, or per page
for listings.
"""

from __future__ import annotations

import json

from tools.bench.faults import patched_env, world

PRODUCT = "kv"


def _event(method: str, path: str, *, api_key=None, body=None, query=None, headers=None) -> dict:
    headers = dict(headers or {})
    if api_key:
        headers["x-api-key"] = api_key
    return {"resource": path, "path": path, "httpMethod": method, "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": query, "multiValueQueryStringParameters": None,
            "pathParameters": None, "stageVariables": None, "isBase64Encoded": False,
            "requestContext": {"stage": "bench", "requestId": "bench", "path": path},
            "body": None if body is None else json.dumps(body)}


class _Context:
    """The Lambda context the handler's logger reads (``inject_lambda_context``)."""

    function_name = "bench"
    memory_limit_in_mb = 512
    aws_request_id = "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def _call(method: str, path: str, **kwargs) -> dict:
    from lambda_src.kv.api import handler

    raw = handler(_event(method, path, **kwargs), _Context())
    headers = {k: v[-1] for k, v in (raw.get("multiValueHeaders") or {}).items()}
    headers.update(raw.get("headers") or {})
    return {"status": raw["statusCode"], "body": json.loads(raw["body"]), "headers": headers}


def _measure(client, fn, repeat: int = 1):
    from tools.bench.counting import count_requests

    with count_requests(client) as counter:
        for _ in range(repeat):
            fn()
    return counter


def _row(operation, counter, floor, notes, repeat=1) -> dict:
    requests = counter.total / repeat
    return {"product": PRODUCT, "operation": operation,
            "requests": int(requests) if requests == int(requests) else round(requests, 2),
            "floor": floor, "items_read": counter.items_read, "items_returned": counter.items_returned,
            "notes": notes}


def _scenario(client) -> list[dict]:
    from lambda_src.kv.meter import METER

    rows = []
    signup = {}
    counter = _measure(client, lambda: signup.update(_call("POST", "/users", body={"email": "b@example.com"})))
    key = signup["body"]["apiKey"]
    rows.append(_row("signup (POST /users)", counter, 2,
                     "per-source counter UpdateItem + TransactWriteItems (user, email claim); key stored as SHA-256"))
    rows.append(_row("create namespace", _measure(client, lambda: _call("PUT", "/namespaces/bench", api_key=key)),
                     2, "auth + TransactWriteItems (metadata, membership, usage ADD)"))
    put = {}
    counter = _measure(client, lambda: put.update(
        _call("PUT", "/namespaces/bench/keys/item/0", api_key=key, body={"value": {"n": 0}})))
    rows.append(_row("put key (create)", counter, 2,
                     "auth + TransactWriteItems (namespace check, key, usage ADD with caps)"))
    etag = put["headers"]["ETag"]
    counter = _measure(client, lambda: _call("PUT", "/namespaces/bench/keys/item/0", api_key=key,
                                             body={"value": {"n": 1}}, headers={"If-Match": etag}))
    rows.append(_row("put key (overwrite, If-Match ETag)", counter, 2, "the ETag carries version and size"))
    counter = _measure(client, lambda: _call("PUT", "/namespaces/bench/keys/item/0", api_key=key,
                                             body={"value": {"n": 2}}))
    rows.append(_row("put key (blind overwrite)", counter, 2,
                     "first transaction is cancelled and returns the old item (no read); retry is exact"))
    counter = _measure(client, lambda: _call("PUT", "/namespaces/bench/keys/item/0", api_key=key,
                                             body={"value": 3}, headers={"If-Match": "1"}))
    rows.append(_row("put key (stale If-Match -> 409)", counter, 2, "conflict detected by the condition"))

    METER.reset()
    reads = METER.flush_every
    counter = _measure(client, lambda: _call("GET", "/namespaces/bench/keys/item/0", api_key=key), reads)
    rows.append(_row("get key", counter, 2,
                     f"auth + GetItem; read metering flushed once per {reads} reads (amortized)", reads))
    METER.reset()
    counter = _measure(client, lambda: _call("GET", "/me", api_key=key), reads)
    rows.append(_row("GET /me", counter, 1, "the auth Query returns the user item", reads))

    for i in range(1, 25):
        _call("PUT", f"/namespaces/bench/keys/item/{i}", api_key=key, body={"value": {"n": i}})
    _call("PUT", "/namespaces/bench/keys/other", api_key=key, body={"value": 0})
    METER.reset()

    def walk():
        cursor = None
        while True:
            query = {"prefix": "item/", "limit": "10", **({"cursor": cursor} if cursor else {})}
            reply = _call("GET", "/namespaces/bench/keys", api_key=key, query=query)
            cursor = reply["body"]["cursor"]
            if not cursor:
                break
    METER.flush_every = 1000  # one listing, measured alone
    try:
        counter = _measure(client, walk)
    finally:
        METER.flush_every = reads
    pages = counter.by_operation["Query"] // 2
    rows.append(_row(f"list keys by prefix ({pages} pages of <=10, 25 keys)", counter, 2 * pages,
                     "auth + one GSI1 Query per page; items read == returned (no filter waste)"))

    counter = _measure(client, lambda: _call("DELETE", "/namespaces/bench/keys/item/1", api_key=key,
                                             headers={"If-Match": "1"}))
    rows.append(_row("delete key (If-Match version)", counter, 2,
                     "size unknown from a bare version: cancelled attempt returns it, then exact delete"))
    etag = _call("GET", "/namespaces/bench/keys/item/2", api_key=key)["headers"]["ETag"]
    counter = _measure(client, lambda: _call("DELETE", "/namespaces/bench/keys/item/2", api_key=key,
                                             headers={"If-Match": etag}))
    rows.append(_row("delete key (If-Match ETag)", counter, 2, "auth + TransactWriteItems (delete, usage ADD)"))
    counter = _measure(client, lambda: _call("DELETE", "/namespaces/bench", api_key=key,
                                             query={"force": "true"}))
    rows.append(_row("force-delete namespace (23 keys)", counter, 5,
                     "auth + deleting mark + per batch of 25: consistent Query + TransactWriteItems; "
                     "then one transaction"))
    return rows


def run(client=None) -> list[dict]:
    """One row per operation. ``client``: the handlers' own (``aws_clients.dynamodb()``) in a
    moto world with the dev tables; requests are counted on it."""
    import boto3

    from lambda_src.kv import cursor, declarations, schema

    names = {declarations.TABLE_NAME_VAR: schema.TABLE.table_name("dev"), declarations.GSI_NAME_VAR: schema.GSI1.name}
    with world(client) as ddb:
        secret = boto3.client("secretsmanager", region_name=ddb.meta.region_name).create_secret(
            Name="kv-bench-cursor", SecretString="bench-" + "k" * 58)["ARN"]
        cursor.reset_secret()
        try:
            with patched_env({**names, declarations.CURSOR_SECRET_ARN_VAR: secret}):
                return _scenario(ddb)
        finally:
            cursor.reset_secret()


if __name__ == "__main__":
    for row in run():
        print(json.dumps(row))
