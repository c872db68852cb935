"""IOps dashboard queries: ``python -m tools.iops_queries <command>``.

Every command is one declared access pattern of ``lambda_src/iops/schema.py``
turned into a request by ``lambda_src.common.requests.build_request``: a
Query on an index or on the base table, never a Scan.

    low-health --below 70 [--type student]      EntityTypeHealthIndex, worst first
    recent [--type student]                     LastUpdatedIndex, newest first
    high-risk --type churn_risk --above 80      RiskScoreIndex, riskiest first
    insights ENTITY_ID                          the entity's latest 10 insights, newest first

Output is a table; ``--json`` prints a JSON list for scripts. ``--target
local`` (default) talks to http://localhost:$LOCAL_PORT (4566) with test
credentials, ``--target aws`` to the account of the standard credential
chain; ``--endpoint-url`` overrides either. Exit codes: 0 ok, 1 the request
failed (endpoint, table), 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

from lambda_src.common.requests import build_request, from_item
from lambda_src.common.schema_types import SchemaError
from lambda_src.iops import schema
from tools.admin.connect import Connection, connect
from tools.admin.errors import AdminError, UsageError

COLUMNS = {
    "metrics": ("entity_id", "entity_type", "health_score", "sessions_7d", "sessions_14d",
                "sessions_30d", "ib_calls_7d", "ib_calls_14d", "avg_rating", "last_updated"),
    "insights": ("timestamp", "entity_id", "prediction_type", "risk_score", "alert_id",
                 "explanation", "recommendations", "model_used"),
}
# Attributes kept on a metrics item for the ingest's bookkeeping, not for display.
INTERNAL = ("days", "version")


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line and exit 2, like every usage error
        raise UsageError(message)


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    return int(value) if value.is_integer() else value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError("must be between 1 and 1000")
    return value


def build_parser() -> Parser:
    parser = Parser(prog="python -m tools.iops_queries", description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=("local", "aws"), default="local")
    parser.add_argument("--endpoint-url", metavar="URL", help="override the DynamoDB endpoint")
    parser.add_argument("--region", help="AWS region (default: environment, or us-east-1 locally)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("low-health", help="entities of a type with health_score below N, worst first")
    p.add_argument("--below", type=_number, default=70)
    p.add_argument("--type", dest="entity_type", choices=schema.ENTITY_TYPES, default="student")
    p.add_argument("--limit", type=_positive, default=50)

    p = sub.add_parser("recent", help="entities of a type, most recently updated first")
    p.add_argument("--type", dest="entity_type", choices=schema.ENTITY_TYPES, default="student")
    p.add_argument("--limit", type=_positive, default=20)

    p = sub.add_parser("high-risk", help="predictions of a type with risk_score above N, riskiest first")
    p.add_argument("--type", dest="prediction_type", required=True)
    p.add_argument("--above", type=_number, default=80)
    p.add_argument("--limit", type=_positive, default=50)

    p = sub.add_parser("insights", help="an entity's latest insights, newest first")
    p.add_argument("entity_id")
    p.add_argument("--limit", type=_positive, default=None, help="default: the pattern's 10")
    return parser


def request_for(args: argparse.Namespace) -> tuple[Any, Any, dict, int | None]:
    """(table spec, pattern, params, limit) for the parsed command."""
    if args.command == "low-health":
        return schema.METRICS, schema.METRICS.pattern("low-health"), {
            "entity_type": args.entity_type, "health_score": args.below}, args.limit
    if args.command == "recent":
        return schema.METRICS, schema.METRICS.pattern("recently-updated"), {
            "entity_type": args.entity_type}, args.limit
    if args.command == "high-risk":
        if not args.prediction_type.strip():
            raise UsageError("--type must not be empty")
        return schema.INSIGHTS, schema.INSIGHTS.pattern("high-risk"), {
            "prediction_type": args.prediction_type, "risk_score": args.above}, args.limit
    if not args.entity_id.strip():
        raise UsageError("ENTITY_ID must not be empty")
    pattern = schema.INSIGHTS.pattern("entity-insights")
    return schema.INSIGHTS, pattern, {"entity_id": args.entity_id}, args.limit or pattern.limit


def run(args: argparse.Namespace, conn: Connection) -> list[dict]:
    spec, pattern, params, limit = request_for(args)
    try:
        # The IOps table names do not vary by stage.
        _operation, kwargs = build_request(spec, pattern, params, table_name=spec.table_name("dev"),
                                          limit=limit)
    except SchemaError as exc:
        raise UsageError(str(exc)) from exc
    items: list[dict] = []
    while True:
        page = conn.call("query", **kwargs)
        items += [from_item(i) for i in page.get("Items", [])]
        start = page.get("LastEvaluatedKey")
        if not start or (limit and len(items) >= limit):
            break
        kwargs["ExclusiveStartKey"] = start
    if limit:
        items = items[:limit]
    return [{k: v for k, v in i.items() if k not in INTERNAL} for i in items]


def render(items: list[dict], kind: str, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout, highlight=False, soft_wrap=False, width=200)
    table = Table(title=title, title_justify="left")
    columns = COLUMNS[kind]
    for column in columns:
        table.add_column(column, overflow="fold")
    for item in items:
        cells = []
        for column in columns:
            value = item.get(column)
            if isinstance(value, list):
                value = "; ".join(str(v) for v in value)
            cells.append("" if value is None else str(value))
        table.add_row(*cells)
    console.print(table)
    console.print(f"{len(items)} item(s)")


def main(argv: Sequence[str] | None = None, *, client=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if client is not None:
            conn = Connection(client, args.target, args.endpoint_url)
        else:
            conn = connect(args.target, args.endpoint_url, args.region)
        items = run(args, conn)
    except AdminError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        import json

        sys.stdout.write(json.dumps(items, indent=2, default=str) + "\n")
        return 0
    kind = "metrics" if args.command in ("low-health", "recent") else "insights"
    titles = {
        "low-health": lambda: f"{args.entity_type}s with health_score < {args.below}",
        "recent": lambda: f"{args.entity_type}s, most recently updated first",
        "high-risk": lambda: f"{args.prediction_type} with risk_score > {args.above}",
        "insights": lambda: f"latest insights of {args.entity_id}",
    }
    render(items, kind, titles[args.command]())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
