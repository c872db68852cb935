"""Compare a table's template properties with what an endpoint reports.

Each property is ``match``, ``differs`` (both sides known, not equal) or
``unreported`` (the endpoint returns nothing for it, so nothing is claimed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MATCH, DIFFERS, UNREPORTED = "match", "differs", "unreported"


@dataclass
class Check:
    prop: str
    status: str
    expected: str = ""
    actual: str = ""


@dataclass
class TableReport:
    name: str
    checks: list[Check] = field(default_factory=list)

    def add(self, prop: str, expected: Any, actual: Any) -> None:
        if actual is None:
            self.checks.append(Check(prop, UNREPORTED, _fmt(expected), "not reported"))
        else:
            status = MATCH if expected == actual else DIFFERS
            self.checks.append(Check(prop, status, _fmt(expected), _fmt(actual)))

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if c.status != MATCH]


def _fmt(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value) or "none"
    return str(value)


def _keys(schema: list[dict] | None) -> tuple:
    return tuple(f"{k['AttributeName']}:{k['KeyType']}" for k in schema or [])


def _projection(p: dict | None) -> str:
    p = p or {}
    kind = p.get("ProjectionType", "ALL")
    extra = sorted(p.get("NonKeyAttributes") or [])
    return f"{kind}({','.join(extra)})" if extra else kind


def _gsis(items: list[dict] | None) -> dict[str, tuple]:
    return {g["IndexName"]: (_keys(g["KeySchema"]), _projection(g.get("Projection"))) for g in items or []}


def compare(props: dict, table: dict, ttl: dict | None, backups: dict | None, name: str) -> TableReport:
    """``props``: template Properties; ``table``: DescribeTable's ``Table``;
    ``ttl``: ``TimeToLiveDescription``; ``backups``: ``ContinuousBackupsDescription``."""
    report = TableReport(name)
    report.add("key schema", _keys(props.get("KeySchema")), _keys(table.get("KeySchema")) or None)
    report.add(
        "attribute definitions",
        sorted(f"{a['AttributeName']}:{a['AttributeType']}" for a in props.get("AttributeDefinitions", [])),
        sorted(f"{a['AttributeName']}:{a['AttributeType']}" for a in table.get("AttributeDefinitions", []))
        or None,
    )
    expected_gsis, actual_gsis = _gsis(props.get("GlobalSecondaryIndexes")), _gsis(
        table.get("GlobalSecondaryIndexes")
    )
    for index in sorted(set(expected_gsis) | set(actual_gsis)):
        exp, act = expected_gsis.get(index), actual_gsis.get(index)
        report.add(
            f"GSI {index}",
            f"{'/'.join(exp[0])} {exp[1]}" if exp else "absent",
            f"{'/'.join(act[0])} {act[1]}" if act else "absent",
        )
    billing = (table.get("BillingModeSummary") or {}).get("BillingMode")
    if billing is None and "ProvisionedThroughput" in table:
        # DescribeTable omits the summary for tables that were always provisioned.
        pt = table["ProvisionedThroughput"]
        billing = "PROVISIONED" if pt.get("ReadCapacityUnits") else None
    report.add("billing mode", props.get("BillingMode", "PROVISIONED"), billing)

    stream = props.get("StreamSpecification")
    actual_stream = table.get("StreamSpecification") or {}
    report.add(
        "stream",
        stream["StreamViewType"] if stream else "off",
        actual_stream.get("StreamViewType", "off") if actual_stream.get("StreamEnabled", False) else "off",
    )

    ttl_spec = props.get("TimeToLiveSpecification") or {}
    expected_ttl = ttl_spec["AttributeName"] if ttl_spec.get("Enabled") else "off"
    if ttl is None:
        report.add("TTL", expected_ttl, None)
    else:
        on = ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
        report.add("TTL", expected_ttl, ttl.get("AttributeName", "?") if on else "off")

    pitr_expected = bool(
        (props.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled")
    )
    pitr = ((backups or {}).get("PointInTimeRecoveryDescription") or {}).get("PointInTimeRecoveryStatus")
    pitr_seen = None if pitr is None else ("on" if pitr == "ENABLED" else "off")
    report.add("PITR", "on" if pitr_expected else "off", pitr_seen)

    sse = props.get("SSESpecification") or {}
    if sse.get("SSEEnabled"):
        expected_sse = f"KMS {sse.get('KMSMasterKeyId', 'aws/dynamodb (AWS managed key)')}"
    else:
        expected_sse = "AWS owned key (default)"
    described = table.get("SSEDescription")
    if described and described.get("Status") in ("ENABLED", "ENABLING"):
        actual_sse = f"KMS {described.get('KMSMasterKeyArn', '?')}"
        if sse.get("SSEEnabled") and "KMSMasterKeyId" not in sse:
            actual_sse = expected_sse if described.get("SSEType") == "KMS" else actual_sse
        report.add("SSE", expected_sse, actual_sse)
    elif not sse.get("SSEEnabled"):
        # DynamoDB reports no SSEDescription for the AWS owned key either.
        report.add("SSE", expected_sse, expected_sse)
    else:
        report.add("SSE", expected_sse, None)

    report.add(
        "deletion protection",
        "on" if props.get("DeletionProtectionEnabled") else "off",
        None
        if "DeletionProtectionEnabled" not in table
        else ("on" if table["DeletionProtectionEnabled"] else "off"),
    )
    return report


def describe(ddb, name: str) -> tuple[dict, dict | None, dict | None]:
    table = ddb.describe_table(TableName=name)["Table"]
    try:
        ttl = ddb.describe_time_to_live(TableName=name).get("TimeToLiveDescription")
    except Exception:
        ttl = None
    try:
        backups = ddb.describe_continuous_backups(TableName=name).get("ContinuousBackupsDescription")
    except Exception:
        backups = None
    return table, ttl, backups
