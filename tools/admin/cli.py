"""Argument parsing and the commands of ``python -m tools.admin``."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from lambda_src.common.schema_types import STAGES, TableSpec
from lambda_src.iops import schema as iops_schema
from tools.admin import core, parsing
from tools.admin.errors import AdminError, Failure, UsageError
from tools.catalog import ALL_TABLES

PROG = "dynamo-admin"


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit code 2."""

    def error(self, message: str):  # noqa: D102 - argparse hook
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Options accepted before or after the command name."""
    def default(value):
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("connection and output")
    group.add_argument("--stage", choices=STAGES, default=default("dev"),
                       help="stage whose tables to use (default: dev)")
    group.add_argument("--target", choices=("local", "aws"), default=default("local"),
                       help="local: http://localhost:$LOCAL_PORT (default 4566) with test credentials; "
                            "aws: the standard credential chain (default: local)")
    group.add_argument("--endpoint-url", default=default(None), metavar="URL",
                       help="override the DynamoDB endpoint")
    group.add_argument("--region", default=default(None), help="AWS region (default: from the environment; "
                       "us-east-1 for local)")
    group.add_argument("--json", action="store_true", default=default(False),
                       help="print JSON for scripts instead of tables")
    group.add_argument("-c", "--context", dest="context", action="append", default=default([]),
                       metavar="KEY=VALUE",
                       help="CDK context override, as for cdk (tableName, gsiName); cdk.json gives the rest")


def _pattern_catalogue() -> str:
    lines = []
    for spec in ALL_TABLES:
        for pattern in spec.access_patterns:
            params = " ".join(f"{p}=..." for p in pattern.params)
            lines.append(f"  {core.qualified(spec, pattern):48} {params}")
    return "\n".join(lines)


EXAMPLES = {
    "tables": """
        examples:
          dynamo-admin tables
          dynamo-admin tables --stage prod --check --target aws
    """,
    "describe": """
        examples:
          dynamo-admin describe mfh.users
          dynamo-admin describe mfh-dev-executions --json
    """,
    "patterns": """
        examples:
          dynamo-admin patterns
          dynamo-admin patterns mfh.executions
          dynamo-admin patterns mfh --json
    """,
    "query": """
        A pattern is named alone when unique, or as TABLE:PATTERN / PRODUCT:PATTERN
        (user-by-id and api-key-by-hash exist in two products).
        Without --all one request is sent (a GetItem or one Query page of --limit,
        default {limit} or the pattern's own); --all follows pages until the end
        or until --limit items. Values are typed from the key schema.

        examples:
          dynamo-admin query mfh:user-by-email email=maria@example.com
          dynamo-admin query account-recent-executions account_id=acc_01HZX3 --limit 10
          dynamo-admin query helper-executions helper_id=hlp_tagger --oldest --all
          dynamo-admin query low-health entity_type=student health_score=70 --json

        patterns (TABLE:PATTERN  parameters):
    """,
    "get": """
        examples:
          dynamo-admin get mfh.users user_id=user:0f9c7a52-1111-4c2e-9d1e-6b0a2c3d4e5f
          dynamo-admin get kv.data PK=USER#u_ada SK=METADATA --json
    """,
    "put": """
        The item is checked against the table's key schema (every key attribute
        present, with its declared type; index keys typed; TTL a number) before
        it is written. ITEM is JSON text, @file.json, or - for stdin.

        examples:
          dynamo-admin put mfh.platforms '{"platform_id": "plat_hubspot", "slug": "hubspot", "name": "HubSpot"}'
          dynamo-admin put mfh.helpers @helper.json --no-overwrite
    """,
    "update": """
        --set name=text stores a string; --set name:=JSON stores a JSON value
        (number, true/false, null, list, object). Attribute names and values
        go through expression placeholders. The update only applies to an
        existing item (ConditionExpression attribute_exists on the key).

        examples:
          dynamo-admin update mfh.helpers helper_id=hlp_tagger --set enabled:=false
          dynamo-admin update mfh.users user_id=user:0f9c... --set name="Maria L." --remove legacy_flag
    """,
    "delete": """
        Shows the item and asks for confirmation; --yes skips the question.
        Without a terminal, --yes is required.

        examples:
          dynamo-admin delete mfh.oauth-states state_id=st_9f2c
          dynamo-admin delete mfh.oauth-states state_id=st_9f2c --yes
    """,
    "scan": """
        Always bounded: --limit items (default {scan}, at most {max}). Use
        --start-key with the next_key of a previous --json run to continue.

        examples:
          dynamo-admin scan mfh.platforms
          dynamo-admin scan mfh.executions --limit 100 --json
          dynamo-admin scan mfh.users --index EmailIndex --limit 5
    """,
    "low-health": """
        The source design's query-metrics: EntityTypeHealthIndex, entity_type = TYPE
        and health_score < N, every page (up to --limit), worst first.

        examples:
          dynamo-admin low-health
          dynamo-admin low-health --below 50 --type tutor --json
    """,
    "high-risk": """
        RiskScoreIndex, prediction_type = TYPE and risk_score > N, riskiest first.

        examples:
          dynamo-admin high-risk --type high_ib_call_frequency
          dynamo-admin high-risk --type churn_risk --above 90 --json
    """,
    "insights": """
        The source design's query-insights: pk = insight#ENTITY_ID, newest first,
        the latest {insights} (--limit). --period keeps the insights whose ISO
        timestamp starts with it: begins_with(sk, "2025-01").

        examples:
          dynamo-admin insights stu_4532
          dynamo-admin insights stu_4532 --period 2025-01 --json
    """,
    "set-plan": """
        Plans are set by the server: every signup starts on free, and an
        operator moves a user with this command (one conditional UpdateItem;
        an unknown user changes nothing and exits 1).

        examples:
          dynamo-admin set-plan u_0123abcd4567ef89 pro
          dynamo-admin --target aws --stage prod set-plan u_0123abcd4567ef89 scale
    """,
    "count": """
        Without --exact: ItemCount from DescribeTable (one request, refreshed by
        DynamoDB about every six hours). --exact: a paginated Scan with
        Select=COUNT, showing progress; it reads the whole table.

        examples:
          dynamo-admin count mfh.executions
          dynamo-admin count mfh.executions --exact
    """,
}


def _epilog(name: str) -> str:
    text = textwrap.dedent(EXAMPLES[name]).strip("\n")
    for field, value in (("{limit}", core.DEFAULT_QUERY_LIMIT), ("{scan}", core.DEFAULT_SCAN_LIMIT),
                         ("{max}", core.MAX_SCAN_LIMIT),
                         ("{insights}", iops_schema.INSIGHTS.pattern("entity-insights").limit)):
        text = text.replace(field, str(value))
    if name == "query":
        text += "\n" + _pattern_catalogue()
    return text


def build_parser() -> Parser:
    parser = Parser(
        prog=PROG,
        description="Query and administer the DynamoDB tables declared in lambda_src/*/schema.py. "
                    "Tables are named by alias (mfh.users) or deployed name (mfh-dev-users).",
        epilog=textwrap.dedent("""
            exit codes: 0 ok, 1 runtime failure (endpoint, missing item, failed condition),
                        2 usage error (unknown table or pattern, missing key part, wrong type)

            examples:
              dynamo-admin tables
              dynamo-admin patterns mfh
              dynamo-admin query mfh:user-by-email email=maria@example.com
              dynamo-admin --target aws --stage prod count mfh.users
        """),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=_epilog(name),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        _global_options(p, suppress=True)
        return p

    p = command("tables", "List the tables of a stage with keys and indexes (from the schema).")
    p.add_argument("--check", action="store_true", help="also ask the endpoint which tables exist")

    p = command("describe", "Settings, indexes, item count, TTL, stream and PITR as the endpoint reports them.")
    p.add_argument("table", metavar="TABLE", help="alias or deployed name")

    p = command("patterns", "List the declared access patterns and their parameters.")
    p.add_argument("table", metavar="TABLE", nargs="?", help="a table alias/name or a product (mfh, kv, ...)")

    p = command("query", "Run a declared access pattern (one GetItem or Query per page).")
    p.add_argument("pattern", metavar="PATTERN", help="pattern name, TABLE:PATTERN or PRODUCT:PATTERN")
    p.add_argument("params", metavar="name=value", nargs="*", default=[], help="the pattern's parameters")
    p.add_argument("--table", help="disambiguate the pattern by table or product")
    order = p.add_mutually_exclusive_group()
    order.add_argument("--newest", dest="descending", action="store_const", const=True, default=None,
                       help="descending sort key order (newest first)")
    order.add_argument("--oldest", dest="descending", action="store_const", const=False,
                       help="ascending sort key order (oldest first)")
    p.add_argument("--limit", type=_positive, metavar="N", help="at most N items")
    p.add_argument("--all", action="store_true", help="follow pages until the end (or --limit items)")
    p.add_argument("--page-size", type=_positive, metavar="N", help="Limit per request with --all")
    p.add_argument("--start-key", metavar="JSON", help="continue from a previous next_key")

    p = command("get", "Read one item by its primary key (strongly consistent).")
    p.add_argument("table", metavar="TABLE")
    p.add_argument("key", metavar="name=value", nargs="*", default=[], help="every primary key attribute")

    p = command("put", "Write one item, validated against the key schema.")
    p.add_argument("table", metavar="TABLE")
    p.add_argument("item", metavar="ITEM", help="JSON object, @file.json or - (stdin)")
    p.add_argument("--no-overwrite", action="store_true", help="fail if an item with this key exists")

    p = command("update", "Set or remove attributes of an existing item.")
    p.add_argument("table", metavar="TABLE")
    p.add_argument("key", metavar="name=value", nargs="*", default=[], help="every primary key attribute")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=TEXT|NAME:=JSON",
                   help="set an attribute (repeatable)")
    p.add_argument("--remove", dest="removes", action="append", default=[], metavar="NAME",
                   help="remove an attribute (repeatable)")

    p = command("delete", "Delete one item after showing it and asking for confirmation.")
    p.add_argument("table", metavar="TABLE")
    p.add_argument("key", metavar="name=value", nargs="*", default=[], help="every primary key attribute")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")

    p = command("scan", "Read the first N items of a table or index (always bounded).")
    p.add_argument("table", metavar="TABLE")
    p.add_argument("--limit", type=int, default=core.DEFAULT_SCAN_LIMIT, metavar="N",
                   help=f"items to return (default {core.DEFAULT_SCAN_LIMIT}, max {core.MAX_SCAN_LIMIT})")
    p.add_argument("--index", help="scan a global secondary index instead of the table")
    p.add_argument("--start-key", metavar="JSON", help="continue from a previous next_key")

    p = command("set-plan", "Move a KV storage user to another plan (free, pro, scale).")
    p.add_argument("user_id", metavar="USER_ID", help="the user's id, as /me reports it (u_...)")
    p.add_argument("plan", metavar="PLAN", help="free, pro or scale")

    p = command("count", "Count items: approximate ItemCount, or --exact with a full COUNT scan.")
    p.add_argument("table", metavar="TABLE")
    p.add_argument("--exact", action="store_true", help="scan with Select=COUNT (reads the whole table)")

    p = command("low-health", "IOps: entities of a type with health_score below N, worst first.")
    p.add_argument("--below", type=_number, default=70, metavar="N", help="health_score threshold (default 70)")
    p.add_argument("--type", dest="entity_type", choices=iops_schema.ENTITY_TYPES, default="student")
    p.add_argument("--limit", type=_positive, metavar="N", help="at most N entities (default: all)")

    p = command("high-risk", "IOps: predictions of a type with risk_score above N, riskiest first.")
    p.add_argument("--type", dest="prediction_type", required=True, metavar="PREDICTION_TYPE")
    p.add_argument("--above", type=_number, default=80, metavar="N", help="risk_score threshold (default 80)")
    p.add_argument("--limit", type=_positive, metavar="N", help="at most N predictions (default: all)")

    p = command("insights", "IOps: an entity's latest insights, newest first.")
    p.add_argument("entity_id", metavar="ENTITY_ID")
    p.add_argument("--period", metavar="PREFIX", help="ISO timestamp prefix: 2025, 2025-01, 2025-01-15")
    p.add_argument("--limit", type=_positive, metavar="N", help="at most N insights (default 10)")
    return parser


def _number(text: str):
    try:
        value = Decimal(text.strip())
    except ArithmeticError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value.is_finite() or not text.strip().lstrip("-").replace(".", "", 1).isdigit():
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    return int(value) if value == value.to_integral_value() else value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


# -- commands ------------------------------------------------------------------
class App:
    def __init__(self, args: argparse.Namespace, connection=None):
        from tools.admin.render import Output

        self.args = args
        self.out = Output(args.json)
        self._conn = connection

    @property
    def conn(self):
        if self._conn is None:
            from tools.admin.connect import connect

            self._conn = connect(self.args.target, self.args.endpoint_url, self.args.region)
        return self._conn

    @property
    def stage(self) -> str:
        return self.args.stage

    @property
    def context(self) -> dict:
        if not hasattr(self, "_context"):
            from tools.admin.context import load

            self._context = load(self.args.context)
        return self._context

    def table(self) -> TableSpec:
        return core.resolve_table(self.args.table, self.stage, self.context)

    def footer(self, result: dict) -> None:
        parts = [f"{result['count']} item(s)", f"{result['requests']} request(s)"]
        if result.get("consumed_capacity"):
            parts.append(f"{result['consumed_capacity']:g} capacity units")
        self.out.note(" · ".join(parts))
        if result.get("next_key"):
            self.out.note(f"more items: --all, or --start-key '{_compact(result['next_key'])}'")

    # tables -------------------------------------------------------------------
    def cmd_tables(self) -> None:
        deployed = core.list_deployed(self.conn) if self.args.check else None
        rows = []
        for spec in core.tables(self.stage, self.context):
            row: dict[str, Any] = {
                "alias": spec.alias,
                "table": spec.table_name(self.stage),
                "partition_key": f"{spec.partition.name} ({spec.partition.type})",
                "sort_key": f"{spec.sort.name} ({spec.sort.type})" if spec.sort else None,
                "indexes": [
                    {"name": i.name, "keys": list(i.key_names), "projection": i.projection} for i in spec.indexes
                ],
                "ttl": spec.ttl_attribute,
                "stream": spec.stream,
            }
            if deployed is not None:
                row["deployed"] = row["table"] in deployed
            rows.append(row)
        if self.out.as_json:
            return self.out.json(rows)
        columns = ["alias", "table", "key", "indexes", "ttl", "stream"] + (["deployed"] if deployed is not None else [])
        self.out.table(columns, [
            [r["alias"], r["table"], r["partition_key"] + (f" + {r['sort_key']}" if r["sort_key"] else ""),
             "\n".join(f"{i['name']} ({' → '.join(i['keys'])}, {i['projection']})" for i in r["indexes"]),
             r["ttl"], r["stream"]] + (["yes" if r["deployed"] else "NO"] if deployed is not None else [])
            for r in rows
        ], title=f"tables of stage {self.stage}")

    # describe -----------------------------------------------------------------
    def cmd_describe(self) -> None:
        result = core.describe(self.conn, self.table(), self.stage)
        if self.out.as_json:
            return self.out.json(result)
        self.out.line(f"{result['table']} ({result['alias']}): {result['description']}")
        marks = {True: "ok", False: "DIFFERS", None: ""}
        self.out.table(("setting", "declared", "reported", ""),
                       [(s["setting"], s["declared"], s["reported"], marks[s["match"]]) for s in result["settings"]])
        differs = [s["setting"] for s in result["settings"] if s["match"] is False]
        if differs:
            self.out.note(f"differs from the declaration: {', '.join(differs)} "
                          "(local endpoints ignore some settings, e.g. TTL and PITR on moto)")
        if result["indexes"]:
            self.out.table(("index", "keys", "projection", "reported projection", "status", "items"),
                           [(i["name"], " → ".join(i["keys"]), i["projection"], i["reported_projection"],
                             i["status"], i["item_count"]) for i in result["indexes"]], title="indexes")

    # patterns -----------------------------------------------------------------
    def cmd_patterns(self) -> None:
        if self.args.table:
            specs = core.tables_named(self.args.table, self.stage, self.context)
        else:
            specs = core.tables(self.stage, self.context)
        infos = [core.pattern_info(s, p, self.stage) for s in specs for p in s.access_patterns]
        if self.out.as_json:
            return self.out.json(infos)

        def condition(i: dict) -> str:
            text = f"{i['partition']['attribute']} = {i['partition']['value']}"
            if i["sort"]:
                s = i["sort"]
                text += (f" AND begins_with({s['attribute']}, {s['value']})" if s["op"] == "begins_with"
                         else f" AND {s['attribute']} {s['op']} {s['value']}")
            return text

        self.out.table(
            ("pattern", "operation", "condition", "order", "description"),
            [(i["qualified"], i["operation"] + (f" {i['index']}" if i["index"] else ""), condition(i),
              ("newest first" if i["newest_first"] else "") + (f", limit {i['limit']}" if i["limit"] else ""),
              i["description"]) for i in infos],
        )

    # query --------------------------------------------------------------------
    def cmd_query(self) -> None:
        spec, pattern = core.resolve_pattern(self.args.pattern, self.args.table, self.stage, self.context)
        params = parsing.parse_pairs(self.args.params, "name=value")
        start = parsing.parse_json(self.args.start_key, "--start-key") if self.args.start_key else None
        if start is not None and not isinstance(start, dict):
            raise UsageError("--start-key must be a JSON object")
        result = core.run_pattern(
            self.conn, spec, pattern, params, stage=self.stage, limit=self.args.limit,
            descending=self.args.descending, all_pages=self.args.all, page_size=self.args.page_size,
            start_key=start,
        )
        if self.out.as_json:
            return self.out.json(result)
        how = result["operation"] + (f" on {result['index']}" if result["index"] else "")
        self.out.items([a.name for a in spec.key_attrs], result["items"],
                       title=f"{core.qualified(spec, pattern)} · {how} · {result['table']}")
        self.footer(result)

    # get / put / update / delete ---------------------------------------------
    def cmd_get(self) -> None:
        spec = self.table()
        key = parsing.parse_key(spec, self.args.key)
        item = core.get_item(self.conn, spec, key, self.stage)
        if item is None:
            raise Failure(f"{spec.alias}: no item with key {core.show_key(key)}")
        if self.out.as_json:
            return self.out.json(item)
        self.out.record(item, title=spec.table_name(self.stage))

    def cmd_put(self) -> None:
        spec = self.table()
        text = self.args.item
        if text == "-":
            text = sys.stdin.read()
        elif text.startswith("@"):
            try:
                with open(text[1:], encoding="utf-8") as handle:
                    text = handle.read()
            except OSError as exc:
                raise UsageError(f"cannot read {text[1:]}: {exc.strerror}") from exc
        item = parsing.parse_json(text, "ITEM")
        result = core.put_item(self.conn, spec, item, self.stage, no_overwrite=self.args.no_overwrite)
        if self.out.as_json:
            return self.out.json(result)
        verb = "replaced" if result["replaced"] else "created"
        self.out.line(f"{verb} {_compact(result['key'])} in {result['table']}")

    def cmd_update(self) -> None:
        spec = self.table()
        key = parsing.parse_key(spec, self.args.key)
        sets: dict[str, Any] = {}
        for raw in self.args.sets:
            if "=" not in raw or raw.startswith("=") or raw.startswith(":="):
                raise UsageError(f"--set expects NAME=TEXT or NAME:=JSON, got {raw!r}")
            name, value = raw.split("=", 1)
            is_json = name.endswith(":")
            name = name[:-1] if is_json else name
            if name in sets:
                raise UsageError(f"{name!r} given twice")
            sets[name] = parsing.set_value(spec, name, value, is_json)
        item = core.update_item(self.conn, spec, key, sets, self.args.removes, self.stage)
        if self.out.as_json:
            return self.out.json(item)
        self.out.record(item, title=f"updated {spec.table_name(self.stage)}")

    def cmd_set_plan(self) -> None:
        result = core.set_plan(self.conn, self.args.user_id, self.args.plan, self.stage, self.context)
        if self.out.as_json:
            return self.out.json(result)
        self.out.record(result, title="plan set")

    def cmd_delete(self) -> None:
        spec = self.table()
        key = parsing.parse_key(spec, self.args.key)
        if not self.args.yes and not _is_tty(sys.stdin):
            raise UsageError("refusing to delete without --yes: stdin is not a terminal")
        if not self.args.yes:
            item = core.get_item(self.conn, spec, key, self.stage)
            if item is None:
                raise Failure(f"{spec.alias}: no item with key {core.show_key(key)} (nothing deleted)")
            if self.out.as_json:  # keep stdout pure JSON: show the item on stderr
                from tools.admin.render import dumps

                sys.stderr.write(dumps(item) + "\n")
            else:
                self.out.record(item, title=f"about to delete from {spec.table_name(self.stage)}")
            sys.stderr.write(f"Delete this item from {spec.table_name(self.stage)}? [y/N] ")
            sys.stderr.flush()
            answer = sys.stdin.readline().strip().lower()
            if answer not in ("y", "yes"):
                raise Failure("not confirmed: nothing deleted")
        old = core.delete_item(self.conn, spec, key, self.stage)
        if self.out.as_json:
            return self.out.json({"deleted": old, "table": spec.table_name(self.stage)})
        if self.args.yes:
            self.out.record(old, title=f"deleted from {spec.table_name(self.stage)}")
        else:
            self.out.line(f"deleted {core.show_key(key)} from {spec.table_name(self.stage)}")

    # scan / count -------------------------------------------------------------
    def cmd_scan(self) -> None:
        spec = self.table()
        start = parsing.parse_json(self.args.start_key, "--start-key") if self.args.start_key else None
        if start is not None and not isinstance(start, dict):
            raise UsageError("--start-key must be a JSON object")
        result = core.scan(self.conn, spec, self.stage, limit=self.args.limit, index=self.args.index,
                           start_key=start)
        if self.out.as_json:
            return self.out.json(result)
        keys = [a.name for a in spec.key_attrs]
        if self.args.index:
            keys = list(spec.index(self.args.index).key_names) + [k for k in keys if k not in
                                                                  spec.index(self.args.index).key_names]
        self.out.items(keys, result["items"], title=f"scan {result['table']}"
                       + (f" {self.args.index}" if self.args.index else "") + f" (first {self.args.limit})")
        self.footer(result)

    def cmd_count(self) -> None:
        spec = self.table()
        progress = None
        bar = None
        if self.args.exact and not self.out.as_json and _is_tty(sys.stderr):
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            bar = Progress(SpinnerColumn(), TextColumn("counting {task.fields[table]}: {task.completed:,} items, "
                                                       "{task.fields[pages]} page(s)"), TimeElapsedColumn(),
                           console=Console(file=sys.stderr), transient=True)
            task = bar.add_task("count", total=None, table=spec.table_name(self.stage), pages=0)
            bar.start()

            def progress(total: int, pages: int) -> None:
                bar.update(task, completed=total, pages=pages)
        try:
            result = core.count(self.conn, spec, self.stage, exact=self.args.exact, progress=progress)
        finally:
            if bar is not None:
                bar.stop()
        if self.out.as_json:
            return self.out.json(result)
        kind = "exact" if result["exact"] else "approximate"
        self.out.line(f"{result['table']}: {result['count']:,} items ({kind}, {result['requests']} request(s))")
        if result.get("note"):
            self.out.note(result["note"])


    # IOps queries (the source design's query scripts wrap these) -----------------
    def _iops(self, alias: str, pattern: str, params: dict, *, limit: int | None, all_pages: bool) -> dict:
        spec = core.resolve_table(alias, self.stage, self.context)
        return core.run_pattern(self.conn, spec, spec.pattern(pattern), params, stage=self.stage,
                                limit=limit, all_pages=all_pages)

    def _rows(self, columns: Sequence[str], rows: list[dict], title: str, result: dict) -> None:
        if self.out.as_json:
            return self.out.json(rows)
        self.out.table(columns, ([row.get(c) for c in columns] for row in rows), title=title)
        self.footer(result)

    def cmd_low_health(self) -> None:
        kind = self.args.entity_type
        result = self._iops("iops.metrics", "low-health",
                            {"entity_type": kind, "health_score": str(self.args.below)},
                            limit=self.args.limit, all_pages=True)
        id_column = f"{kind}_id"
        columns = (id_column, "health_score", "sessions_7d", "ib_calls_14d")
        rows = [{id_column: i.get("entity_id"), "health_score": i.get("health_score"),
                 "sessions_7d": i.get("sessions_7d"), "ib_calls_14d": i.get("ib_calls_14d")}
                for i in result["items"]]
        self._rows(columns, rows, f"{kind}s with health_score < {self.args.below}, worst first", result)

    def cmd_high_risk(self) -> None:
        if not self.args.prediction_type.strip():
            raise UsageError("--type must not be empty")
        result = self._iops("iops.insights", "high-risk",
                            {"prediction_type": self.args.prediction_type, "risk_score": str(self.args.above)},
                            limit=self.args.limit, all_pages=True)
        columns = ("timestamp", "entity_id", "prediction_type", "risk_score", "explanation")
        rows = [{c: i.get(c) for c in columns} for i in result["items"]]
        self._rows(columns, rows, f"{self.args.prediction_type} with risk_score > {self.args.above}", result)

    def cmd_insights(self) -> None:
        entity = self.args.entity_id
        if not entity.strip():
            raise UsageError("ENTITY_ID must not be empty")
        params = {"entity_id": entity}
        pattern = "entity-insights"
        if self.args.period is not None:
            if not self.args.period.strip():
                raise UsageError("--period must not be empty")
            pattern, params["period"] = "entity-insights-in-period", self.args.period
        limit = self.args.limit or iops_schema.INSIGHTS.pattern("entity-insights").limit
        result = self._iops("iops.insights", pattern, params, limit=limit, all_pages=True)
        columns = ("timestamp", "prediction_type", "risk_score", "explanation")
        # The sort key is the insight's timestamp.
        rows = [{"timestamp": i.get("sk"), "prediction_type": i.get("prediction_type"),
                 "risk_score": i.get("risk_score"), "explanation": i.get("explanation")}
                for i in result["items"]]
        period = f" in {self.args.period}" if self.args.period else ""
        self._rows(columns, rows, f"latest insights of {entity}{period}, newest first", result)


def _is_tty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _compact(value: Any) -> str:
    from tools.admin.render import dumps

    return dumps(value)


def main(argv: Sequence[str] | None = None, *, connection=None) -> int:
    """Run the CLI; returns the exit code. ``connection`` injects a prepared Connection."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exc:  # --help
            return int(exc.code or 0)
        app = App(args, connection)
        getattr(app, "cmd_" + args.command.replace("-", "_"))()
        return 0
    except AdminError as exc:
        _error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 1
    except Exception as exc:  # never a traceback
        from tools.admin.connect import translate

        _error(str(translate(exc, _Nowhere(), None)))
        return 1


class _Nowhere:
    target = "unknown"
    where = "the endpoint"


def _error(message: str) -> None:
    message = " ".join(message.split())
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
