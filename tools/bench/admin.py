"""Requests the admin CLI sends for each MyFusion Helper access pattern.

Every SPEC §1.2 pattern must be one GetItem or one Query. ``run()`` creates
the dev tables in moto from the synthesized template, loads the declared
examples and runs each MFH pattern through the CLI's query path, counting
the DynamoDB requests on the wire.
"""

from __future__ import annotations

import os


def run() -> list[dict]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

    import boto3
    from moto import mock_aws

    from lambda_src.common.requests import to_item
    from lambda_src.mfh.schema import TABLES
    from tests.synth import synth
    from tools.admin.connect import Connection
    from tools.admin.core import run_pattern
    from tools.bench.counting import count_requests
    from tools.cfn_tables import create_tables

    templates = synth("dev")
    rows: list[dict] = []
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(client, templates.values())
        for spec in TABLES:
            for item in spec.examples:
                client.put_item(TableName=spec.table_name("dev"), Item=to_item(item))
        conn = Connection(client, "aws", None)
        for spec in TABLES:
            for pattern in spec.access_patterns:
                params = {k: str(v) for k, v in pattern.example.items()}
                with count_requests(client) as counter:
                    result = run_pattern(conn, spec, pattern, params, stage="dev")
                rows.append({
                    "product": "admin",
                    "operation": f"query {spec.alias}:{pattern.name}",
                    "requests": counter.total,
                    "floor": 1,
                    "items_read": counter.items_read,
                    "items_returned": counter.items_returned,
                    "notes": result["operation"] + (f" on {pattern.index}" if pattern.index else "")
                    + f"; {len(pattern.expect)} expected item(s)",
                })
    return rows


if __name__ == "__main__":
    import json

    for row in run():
        print(json.dumps(row))
