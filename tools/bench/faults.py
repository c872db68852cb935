"""The simulated AWS the benchmarks run in: moto tables, and the faults moto never produces.

- ``moto_tables()``: a private moto world with the tables of the synthesized
  dev template, for a benchmark run on its own (``make bench``). A caller that
  already has a moto world (the tests' ``aws`` fixture) passes its client to
  the benchmark instead: moto's backends are process-global, so a second
  ``mock_aws()`` nested inside the first would find the tables already there.
- ``FaultyClient``: wraps a client object; tests use it to script exact
  scenarios (throttle the third call, hold back every key).
- ``inject_faults()``: the same UnprocessedKeys, plus a fixed latency per
  request, through botocore event hooks on a client. Code that builds its own
  botocore client (PynamoDB) gets exactly the faults our code gets, with
  nothing wrapped.

Held-back keys are drawn from a seeded ``random.Random``: the same requests
meet the same faults on every run.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from botocore.exceptions import ClientError

REGION = "us-east-1"
_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}
_HELD = "bench_faults_held"


@cache
def dev_templates() -> dict[str, dict]:
    """Stack id -> template of the dev app, synthesized in-process once per process.

    Bundling and CDK's built-in validation are off: only the table
    properties are read, and they are the same either way.
    """
    from app import build_app

    context = {"stage": "dev", "aws:cdk:bundling-stacks": []}
    outdir = tempfile.mkdtemp(prefix="cdk-bench-dev-")
    assembly = build_app(context, outdir=outdir, validation=False).synth()
    return {s.id: json.loads(Path(s.template_full_path).read_text()) for s in assembly.stacks}


@contextmanager
def patched_env(values: Mapping[str, str | None]):
    """Set (or, for ``None``, remove) environment variables; put them back afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def moto_tables(stacks: Iterable[str] | None = None):
    """A private moto world with the dev tables of ``stacks`` (all by default).

    Yields the handlers' own DynamoDB client (``aws_clients.dynamodb()``), so
    requests counted on it are the requests the handlers send. Refuses to run
    inside another moto world rather than collide with its tables.
    """
    import boto3
    from moto import mock_aws

    from lambda_src.common.aws_clients import dynamodb, reset_clients
    from tools.cfn_tables import create_tables

    templates = dev_templates()
    chosen = [templates[s] for s in stacks] if stacks is not None else list(templates.values())
    with patched_env({**_CREDENTIALS, "AWS_ENDPOINT_URL": None, "AWS_PROFILE": None}), mock_aws():
        admin = boto3.client("dynamodb", region_name=REGION)
        existing = admin.list_tables()["TableNames"]
        if existing:
            raise RuntimeError(f"a moto world is already active ({len(existing)} tables): "
                               "pass its client to the benchmark instead of nesting another")
        create_tables(admin, chosen)
        reset_clients()
        try:
            yield dynamodb()
        finally:
            reset_clients()


@contextmanager
def world(client=None):
    """The caller's client as is (a test's moto world), or ``moto_tables()``'s own.

    Benchmarks take an optional client so the tests can run them inside the
    session's moto world, while ``make bench`` gets a private one.
    """
    if client is not None:
        yield client
        return
    with moto_tables() as own:
        yield own


class FaultyClient:
    """A DynamoDB client whose ``batch_get_item`` holds keys back and throttles chosen calls.

    Every other call goes to the wrapped (moto) client.
    """

    def __init__(self, client, *, unprocessed_fraction: float = 0.0, throttle_calls=(), seed: int = 7,
                 always_unprocessed: bool = False):
        self._client = client
        self.fraction = unprocessed_fraction
        self.throttle_calls = set(throttle_calls)
        self.always_unprocessed = always_unprocessed
        self.rng = random.Random(seed)
        self.calls = 0
        self.batch_sizes: list[int] = []
        self._lock = threading.Lock()  # callers may send from several threads

    def __getattr__(self, name):
        return getattr(self._client, name)

    def batch_get_item(self, RequestItems, **kwargs):
        [(table, request)] = RequestItems.items()
        keys = request["Keys"]
        with self._lock:
            self.calls += 1
            call = self.calls
            self.batch_sizes.append(len(keys))
            held = keys if self.always_unprocessed else [k for k in keys if self.rng.random() < self.fraction]
        if len(keys) > 100:
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "Too many items"}},
                              "BatchGetItem")
        if call in self.throttle_calls:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                         "Message": "throttled"}}, "BatchGetItem")
        held_ids = {id(k) for k in held}
        served = [k for k in keys if id(k) not in held_ids]
        response: dict[str, dict] = {"Responses": {table: []}, "UnprocessedKeys": {}}
        if served:
            real = self._client.batch_get_item(RequestItems={table: {**request, "Keys": served}}, **kwargs)
            response["Responses"][table] = real["Responses"].get(table, [])
        if held:
            response["UnprocessedKeys"] = {table: {"Keys": held}}
        return response


class FaultHooks:
    """botocore event handlers: a fixed latency per DynamoDB request, and BatchGetItem keys held back.

    A held-back key is taken out of the request before it is serialized and
    put into ``UnprocessedKeys`` of the parsed response, which is what
    DynamoDB does when it runs out of capacity mid-batch. When every key of a
    request is held, the request is answered without reaching the endpoint
    (an empty key list is not a valid request).
    """

    def __init__(self, *, unprocessed_fraction: float = 0.0, latency_s: float = 0.0, seed: int = 7):
        self.fraction = unprocessed_fraction
        self.latency_s = latency_s
        self.rng = random.Random(seed)
        self.calls: Counter = Counter()
        self.batch_sizes: list[int] = []
        self.keys_held = 0

    def hold_back(self, params, context, **_kwargs) -> None:
        """``before-parameter-build.dynamodb.BatchGetItem``: draw the keys DynamoDB will not process."""
        [(table, request)] = params["RequestItems"].items()
        keys = request["Keys"]
        self.batch_sizes.append(len(keys))
        held = [k for k in keys if self.rng.random() < self.fraction]
        if not held:
            return
        self.keys_held += len(held)
        context[_HELD] = (table, held, len(held) == len(keys))
        if len(held) < len(keys):
            held_ids = {id(k) for k in held}
            params["RequestItems"] = {table: {**request, "Keys": [k for k in keys if id(k) not in held_ids]}}

    def delay(self, model, context, **_kwargs):
        """``before-call.dynamodb``: the injected round trip; answers a fully held batch itself."""
        self.calls[model.name] += 1
        time.sleep(self.latency_s)
        held = context.get(_HELD)
        if held and held[2]:
            from botocore.awsrequest import AWSResponse

            return AWSResponse("", 200, {}, None), {"Responses": {held[0]: []}, "UnprocessedKeys": {}}
        return None

    def report_unprocessed(self, parsed, context, **_kwargs) -> None:
        """``after-call.dynamodb.BatchGetItem``: the held keys come back as ``UnprocessedKeys``."""
        held = context.get(_HELD)
        if not held or not isinstance(parsed, dict):
            return
        table, keys, _ = held
        unprocessed = parsed.setdefault("UnprocessedKeys", {}).setdefault(table, {"Keys": []})
        unprocessed["Keys"] = list(unprocessed.get("Keys", [])) + keys

    def handlers(self):
        return (("before-parameter-build.dynamodb.BatchGetItem", self.hold_back),
                ("before-call.dynamodb", self.delay),
                ("after-call.dynamodb.BatchGetItem", self.report_unprocessed))


@contextmanager
def inject_faults(client, *, unprocessed_fraction: float = 0.0, latency_s: float = 0.0, seed: int = 7):
    """Faults and latency on every request ``client`` (any botocore DynamoDB client) sends in the block."""
    hooks = FaultHooks(unprocessed_fraction=unprocessed_fraction, latency_s=latency_s, seed=seed)
    events = client.meta.events
    registered = []
    for event, handler in hooks.handlers():
        unique_id = f"bench-faults-{id(hooks)}-{event}"
        events.register(event, handler, unique_id=unique_id)
        registered.append((event, unique_id))
    try:
        yield hooks
    finally:
        for event, unique_id in registered:
            events.unregister(event, unique_id=unique_id)
