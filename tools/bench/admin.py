"""Requests the admin CLI sends for each MyFusion Helper access pattern.

Every SPEC §1.2 pattern must be one GetItem or one Query. ``run()`` loads the
declared examples into the dev tables and runs each MFH pattern through the
CLI's query path, counting the DynamoDB requests on the wire. The tables are
the caller's (``run(client)``, e.g. the tests' moto world) or, standalone,
a private moto world created from the synthesized template.
"""

from __future__ import annotations

from tools.bench.faults import world


def _load_examples(client) -> None:
    from lambda_src.common.requests import to_item
    from lambda_src.mfh.schema import TABLES

    for spec in TABLES:
        for item in spec.examples:
            client.put_item(TableName=spec.table_name("dev"), Item=to_item(item))


def _patterns(conn, client, count_requests) -> list[dict]:
    from lambda_src.mfh.schema import TABLES
    from tools.admin.core import run_pattern

    rows = []
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


def run(client=None) -> list[dict]:
    """One row per MFH pattern and admin command. ``client``: a DynamoDB client on existing dev tables."""
    from tools.admin.connect import Connection
    from tools.bench.counting import count_requests

    with world(client) as ddb:
        _load_examples(ddb)
        conn = Connection(ddb, "aws", None)
        return _patterns(conn, ddb, count_requests) + _commands(conn, ddb, count_requests)


# (command line, floor, note): the admin operations of SPEC §1.2 beyond the patterns.
_U1 = "user:0f9c7a52-1111-4c2e-9d1e-6b0a2c3d4e5f"
COMMANDS = (
    (["get", "mfh.users", f"user_id={_U1}"], 1, "GetItem, strongly consistent"),
    (["query", "account-recent-executions", "account_id=acc_01HZX3", "--limit", "2"], 1, "newest N: one Query page"),
    (["scan", "mfh.executions", "--limit", "25"], 1, "bounded Scan"),
    (["count", "mfh.executions"], 1, "DescribeTable ItemCount"),
    (["count", "mfh.executions", "--exact"], 1, "Select=COUNT Scan, one page per MB"),
    (["update", "mfh.helpers", "helper_id=hlp_tagger", "--set", "enabled:=false"], 1,
     "UpdateItem with attribute_exists condition"),
    (["put", "mfh.platforms", '{"platform_id": "plat_bench", "slug": "bench"}'], 1, "PutItem"),
    (["delete", "mfh.platforms", "platform_id=plat_bench", "--yes"], 1,
     "DeleteItem with attribute_exists condition (--yes: no preliminary GetItem)"),
)


def _commands(conn, client, count_requests) -> list[dict]:
    import contextlib
    import io

    from tools.admin.cli import main

    rows = []
    for argv, floor, note in COMMANDS:
        with count_requests(client) as counter, contextlib.redirect_stdout(io.StringIO()):
            code = main(["--json", *argv], connection=conn)
        rows.append({
            "product": "admin",
            "operation": " ".join(argv[:2]) + (f" {argv[-1]}" if argv[-1].startswith("--") else ""),
            "requests": counter.total,
            "floor": floor,
            "items_read": counter.items_read,
            "items_returned": counter.items_returned,
            "notes": note if code == 0 else f"{note}; exit code {code}",
        })
    return rows


if __name__ == "__main__":
    import json

    for row in run():
        print(json.dumps(row))
