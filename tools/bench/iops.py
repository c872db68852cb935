"""IOps benchmarks: DynamoDB requests per ingested event, per query and per
recomputed entity, and ingest throughput.

Both run in-process against moto tables created from the synthesized dev
template (or the caller's moto world, when given its client), through the
same handlers and CLI the deployment uses, counting requests with a botocore
event hook on the client the code itself holds.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from datetime import UTC, datetime, timedelta
from unittest import mock

from tools.bench.faults import world

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class _Context:
    """The Lambda context fields the handlers read."""

    function_name = "iops-bench"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:iops-bench"
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 900_000


@contextmanager
def _deployed_at(now: datetime) -> Iterator[None]:
    """The ingest function as deployed on the dev stage, its clock (``lambda_src.common.clock``) at ``now``."""
    from lambda_src.iops import declarations, schema

    with mock.patch.dict(os.environ, {declarations.METRICS_TABLE_VAR: schema.METRICS.table_name("dev")}), \
            mock.patch("lambda_src.common.clock.now", lambda: now.timestamp()):
        yield


def _ingest(bodies) -> dict:
    from lambda_src.iops import ingest

    return ingest.handler(_sqs_event(bodies), _Context())


def _sqs_event(bodies) -> dict:
    import json

    return {"Records": [{"messageId": f"m{n}", "receiptHandle": "r", "body": json.dumps(b),
                         "attributes": {}, "messageAttributes": {}, "md5OfBody": "",
                         "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q",
                         "awsRegion": "us-east-1"} for n, b in enumerate(bodies)]}


def _event(n: int, kind: str = "session_completed", *, entities: int = 4) -> dict:
    names = {"student_id": f"stu_{n % 100:04d}", "tutor_id": f"tut_{n % 20:04d}",
             "subject_id": f"sub_{n % 5}", "region_id": f"reg_{n % 3}"}
    body: dict[str, object] = {"event_id": f"evt-{n}", "type": kind,
            "timestamp": (NOW - timedelta(hours=n % 600)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **dict(list(names.items())[:entities])}
    if kind == "session_completed":
        body["rating"] = 1 + n % 5
    return body


def run(client=None) -> list[dict]:
    """One row per query and ingest shape. ``client``: the handlers' own
    (``aws_clients.dynamodb()``) in a moto world with the dev tables."""
    from lambda_src.common.requests import to_item
    from lambda_src.iops import insights, recompute, schema
    from tools.admin import cli as admin
    from tools.admin.connect import Connection
    from tools.bench.counting import count_requests

    rows: list[dict] = []

    def row(operation, counter, floor, notes=""):
        rows.append({"product": "iops", "operation": operation, "requests": counter.total,
                     "floor": floor, "items_read": counter.items_read,
                     "items_returned": counter.items_returned, "notes": notes})

    with world(client) as client, _deployed_at(NOW):
        for spec in schema.TABLES:
            for item in spec.examples:
                client.put_item(TableName=spec.table_name("dev"), Item=to_item(item))
        conn = Connection(client, "aws", None)
        for argv in (["low-health", "--below", "70"], ["query", "recently-updated", "entity_type=student"],
                     ["high-risk", "--type", "churn_risk", "--above", "80"], ["insights", "stu_4532"]):
            with count_requests(client) as c, redirect_stdout(io.StringIO()):
                if admin.main(["--json", *argv], connection=conn) != 0:
                    raise RuntimeError(f"dynamo-admin {' '.join(argv)} failed")
            row(f"query: {' '.join(argv)}", c, 1, "one Query on the declared index")
        with count_requests(client) as c:
            _ingest([_event(1, entities=1)])
        row("ingest: event naming 1 entity", c, 2,
            "consistent GetItem + conditional PutItem; windows are derived from the stored day buckets")
        with count_requests(client) as c:
            _ingest([_event(2)])
        row("ingest: event naming 4 entities", c, 8, "2 per entity item")
        with count_requests(client) as c:
            _ingest([_event(2)])
        row("ingest: re-delivered event (4 entities)", c, 4, "one GetItem per entity finds the id; no write")
        with count_requests(client) as c:
            _ingest([_event(n) for n in range(100, 110)])
        row("ingest: SQS batch of 10 events (28 distinct entities)", c, 56,
            "grouped by entity: 1 GetItem + 1 PutItem per entity item per batch")

        writer = insights.InsightWriter(ddb=client, sns=None, table=schema.INSIGHTS.table_name("dev"),
                                        topic_arn=None)
        old = {"entity_id": "stu_x", "entity_type": "student", "health_score": 75, "ib_calls_7d": 0}
        for label, new_health, floor in (("crossing health < 70", 60, 1), ("no crossing", 74, 0)):
            record = {"eventName": "MODIFY", "dynamodb": {
                "ApproximateCreationDateTime": NOW.timestamp(), "SequenceNumber": label,
                "OldImage": to_item(old), "NewImage": to_item({**old, "health_score": new_health})}}
            with count_requests(client) as c:
                writer.process_record(record)
            row(f"stream record: {label}", c, floor, "conditional PutItem per insight (+1 SNS Publish)")

        # The daily window recompute, 8 days after the events above: every entity
        # ingested here has a window to slide; the sample items have no day buckets.
        later = NOW + timedelta(days=8)
        selections = len(recompute.selections(later))
        with count_requests(client) as c:
            done = recompute.run(client, table=schema.METRICS.table_name("dev"), now=later)
        per_entity = round(c.total / max(1, done["written"]), 2)
        row(f"recompute: {done['read']} entities read, {done['written']} windows moved", c,
            selections + done["written"],
            f"{c.by_operation['Query']} Query pages ({selections} selections: 2 per entity type, up to "
            f"{recompute.PAGE_SIZE} items a page) + {c.by_operation['PutItem']} conditional PutItems, "
            f"one per changed item: {per_entity} requests per entity recomputed; "
            f"{done['skipped']} sample items without day buckets read and left alone")
        with count_requests(client) as c:
            again = recompute.run(client, table=schema.METRICS.table_name("dev"), now=later)
        row(f"recompute: re-run the same day ({again['unchanged']} unchanged)", c, selections,
            f"{c.by_operation.get('PutItem', 0)} writes: every item reads as current")

    return rows


def ingest_throughput(n: int = 1000, client=None) -> dict:
    """Events per second through the SQS handler, in batches of 10, against moto (``client`` as for ``run``)."""
    from tools.bench.counting import count_requests

    events = [_event(i, "session_completed" if i % 4 else "ib_call") for i in range(n)]
    with world(client) as client, _deployed_at(NOW):
        failures = 0
        with count_requests(client) as counter:
            start = time.perf_counter()
            for i in range(0, n, 10):
                failures += len(_ingest(events[i:i + 10])["batchItemFailures"])
            elapsed = time.perf_counter() - start
    return {
        "events": n,
        "batches": (n + 9) // 10,
        "entity updates": n * 4,
        "wall s": round(elapsed, 2),
        "events/s": round(n / elapsed, 1),
        "requests": counter.total,
        "requests/event": round(counter.total / n, 2),
        "failures": failures,
        "notes": "SQS batches of 10, 4 entities per event (100 students, 20 tutors, 5 subjects, "
                 "3 regions); moto in-process, so this measures the handler's own cost",
    }


if __name__ == "__main__":
    for r in run():
        print(r)
    print(ingest_throughput())
