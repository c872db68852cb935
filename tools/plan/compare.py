"""Compare two synthesized apps and name every risky change to stateful resources.

Pure functions on template dicts: ``compare_stage(base, head, prod=...)``
takes ``{stack name: template}`` for the same stage on both sides and
returns ``Finding``s, one per change, each with the safe way to make it.

Severities:
- ``refused``: CloudFormation or DynamoDB rejects the update (more than one
  index created or deleted on a table in one update, an index changed in
  place, a stream's view type changed, TTL moved to another attribute). No
  acknowledgement makes these pass; the change has to be split.
- ``risk``: the update goes through but replaces or drops data, or drops a
  prod table's protection. Fails unless acknowledged with a reason.
- ``note``: safe, worth knowing (an index added and backfilled, TTL on).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

TABLE = "AWS::DynamoDB::Table"
QUEUE = "AWS::SQS::Queue"
SECRET = "AWS::SecretsManager::Secret"
LOG_GROUP = "AWS::Logs::LogGroup"
STATEFUL = (TABLE, QUEUE, SECRET, LOG_GROUP)

# Physical-name property and the other properties whose change replaces the resource.
_NAME_PROPERTY = {TABLE: "TableName", QUEUE: "QueueName", SECRET: "Name", LOG_GROUP: "LogGroupName"}
_REPLACING = {QUEUE: ("QueueName", "FifoQueue"), SECRET: ("Name",), LOG_GROUP: ("LogGroupName",)}
_NOUN = {TABLE: "table", QUEUE: "queue", SECRET: "secret", LOG_GROUP: "log group"}

REFUSED = "refused"
RISK = "risk"
NOTE = "note"

# kind -> severity; the acknowledgement file may name only the RISK kinds.
KINDS = {
    "gsi-operations": REFUSED,
    "gsi-changed": REFUSED,
    "stream-view-type": REFUSED,
    "ttl-attribute": REFUSED,
    "replacement": RISK,
    "removed": RISK,
    "retain-dropped": RISK,
    "deletion-protection-dropped": RISK,
    "pitr-dropped": RISK,
    "gsi-added": NOTE,
    "gsi-removed": NOTE,
    "ttl-enabled": NOTE,
    "ttl-disabled": NOTE,
    "stream-added": NOTE,
    "stream-removed": NOTE,
    "removed-unprotected": NOTE,
}
ACKNOWLEDGEABLE = frozenset(kind for kind, severity in KINDS.items() if severity == RISK)

GUIDE = "docs/schema-evolution.md"


@dataclass(frozen=True)
class Finding:
    stack: str
    logical_id: str
    kind: str
    resource: str  # the physical name when literal, else the logical id
    message: str

    @property
    def severity(self) -> str:
        return KINDS[self.kind]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.stack, self.logical_id, self.kind)

    def line(self) -> str:
        return f"{self.stack}/{self.logical_id} ({self.resource}) {self.kind}: {self.message}"


# -- reading templates -----------------------------------------------------------


def stateful_resources(template: Mapping[str, Any]) -> dict[str, dict]:
    return {
        logical_id: resource
        for logical_id, resource in (template.get("Resources") or {}).items()
        if resource.get("Type") in STATEFUL
    }


def _props(resource: Mapping[str, Any]) -> dict:
    return resource.get("Properties") or {}


def physical_name(resource: Mapping[str, Any]) -> str | None:
    name = _props(resource).get(_NAME_PROPERTY[resource["Type"]])
    return name if isinstance(name, str) else None


def _label(logical_id: str, resource: Mapping[str, Any]) -> str:
    return physical_name(resource) or logical_id


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _attr_types(props: Mapping[str, Any]) -> dict[str, str]:
    return {a["AttributeName"]: a["AttributeType"] for a in props.get("AttributeDefinitions") or []}


def _keys(key_schema: Iterable[Mapping[str, str]] | None, types: Mapping[str, str]) -> str:
    """``[pk HASH, sk RANGE]`` -> ``pk(S) + sk(S)``."""
    order = {"HASH": 0, "RANGE": 1}
    parts = sorted(key_schema or [], key=lambda k: order.get(k["KeyType"], 2))
    return " + ".join(f"{k['AttributeName']}({types.get(k['AttributeName'], '?')})" for k in parts)


def _indexes(props: Mapping[str, Any], field: str = "GlobalSecondaryIndexes") -> dict[str, dict]:
    return {index["IndexName"]: index for index in props.get(field) or []}


def _index_shape(index: Mapping[str, Any], types: Mapping[str, str]) -> tuple[str, str]:
    """What an index change cannot touch in place: its typed keys and its projection."""
    projection = index.get("Projection") or {}
    described = projection.get("ProjectionType", "ALL")
    if projection.get("NonKeyAttributes"):
        described += "(" + ",".join(sorted(projection["NonKeyAttributes"])) + ")"
    return _keys(index.get("KeySchema"), types), described


def _ttl(props: Mapping[str, Any]) -> str | None:
    spec = props.get("TimeToLiveSpecification") or {}
    return spec.get("AttributeName") if spec.get("Enabled") else None


def _stream(props: Mapping[str, Any]) -> str | None:
    spec = props.get("StreamSpecification") or {}
    return spec.get("StreamViewType")


def _retained(resource: Mapping[str, Any]) -> bool:
    return resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate", "Snapshot")


def _pitr(props: Mapping[str, Any]) -> bool:
    spec = props.get("PointInTimeRecoverySpecification") or {}
    return bool(spec.get("PointInTimeRecoveryEnabled"))


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


# -- one resource ----------------------------------------------------------------

_REPLACE_PATH = (
    "safe path: create the new {noun} next to the old one, backfill it, switch readers and "
    "writers, then retire the old one in a later deploy (" + GUIDE + ")"
)


def _replacement_message(what: str, resource: Mapping[str, Any], noun: str) -> str:
    fixed_name = physical_name(resource) is not None
    effect = (
        "CloudFormation refuses to replace a resource with a fixed name mid-update"
        if fixed_name and what.split(" ")[0] != _NAME_PROPERTY[resource["Type"]]
        else "CloudFormation creates a new, empty " + noun + " and "
        + (
            "orphans the old one (UpdateReplacePolicy Retain)"
            if resource.get("UpdateReplacePolicy") in ("Retain", "Snapshot")
            else "deletes the old one with its data"
        )
    )
    return f"{what} replaces the {noun}: {effect}; " + _REPLACE_PATH.format(noun=noun)


def compare_table(
    stack: str, logical_id: str, base: Mapping[str, Any], head: Mapping[str, Any], *, prod: bool
) -> list[Finding]:
    """Findings for one table present on both sides under the same stack and logical id."""
    findings: list[Finding] = []
    label = _label(logical_id, head)
    bp, hp = _props(base), _props(head)
    bt, ht = _attr_types(bp), _attr_types(hp)

    def add(kind: str, message: str) -> None:
        findings.append(Finding(stack, logical_id, kind, label, message))

    # Replacement: name, key schema, a key attribute's type, local secondary indexes.
    replaced = []
    if bp.get("TableName") != hp.get("TableName"):
        replaced.append(f"TableName `{bp.get('TableName')}` -> `{hp.get('TableName')}`")
    base_keys, head_keys = _keys(bp.get("KeySchema"), bt), _keys(hp.get("KeySchema"), ht)
    if base_keys != head_keys:
        same_names = [k["AttributeName"] for k in bp.get("KeySchema") or []] == [
            k["AttributeName"] for k in hp.get("KeySchema") or []
        ]
        what = "key attribute type" if same_names else "KeySchema"
        replaced.append(f"{what} {base_keys} -> {head_keys}")
    if _canon(_lsi_shapes(bp, bt)) != _canon(_lsi_shapes(hp, ht)):
        replaced.append("LocalSecondaryIndexes change")
    if replaced:
        add("replacement", _replacement_message("; ".join(replaced), head, "table"))

    # Global secondary indexes: at most one created or deleted per table per update.
    bi, hi = _indexes(bp), _indexes(hp)
    added = [name for name in hi if name not in bi]
    removed = [name for name in bi if name not in hi]
    changed = [
        name for name in hi
        if name in bi and _index_shape(bi[name], bt) != _index_shape(hi[name], ht)
    ]
    for name in changed:
        (bk, bproj), (hk, hproj) = _index_shape(bi[name], bt), _index_shape(hi[name], ht)
        parts = []
        if bk != hk:
            parts.append(f"keys {bk} -> {hk}")
        if bproj != hproj:
            parts.append(f"projection {bproj} -> {hproj}")
        add(
            "gsi-changed",
            f"`{name}` {', '.join(parts)} is a delete plus a create of the index (two index "
            "operations; CloudFormation refuses it in one update and the index is unavailable in "
            f"between): safe path: deploy 1 adds `{name}-v2` with the new shape, switch readers to "
            f"it, deploy 2 removes `{name}`",
        )
    operations = [f"add `{n}`" for n in added] + [f"remove `{n}`" for n in removed]
    if len(added) + len(removed) + len(changed) > 1:
        steps = operations + [f"change `{n}` (itself two deploys)" for n in changed]
        count = len(added) + len(removed) + 2 * len(changed)
        add(
            "gsi-operations",
            f"{count} index operations in one update, CloudFormation allows one per table: "
            f"split into {_count_word(len(steps))} deploys: {_sequence(steps)}",
        )
    else:
        for name in added:
            add(
                "gsi-added",
                f"`{name}` added: DynamoDB backfills it from the existing items; queries on it "
                "fail until it is ACTIVE, so ship its readers after it",
            )
        for name in removed:
            add("gsi-removed", f"`{name}` removed: its readers must be gone in an earlier deploy")

    # TTL: enabling and disabling are single steps; a new attribute is two.
    bttl, httl = _ttl(bp), _ttl(hp)
    if bttl and httl and bttl != httl:
        add(
            "ttl-attribute",
            f"TTL attribute `{bttl}` -> `{httl}` in one update fails (DynamoDB accepts one TTL "
            f"change per table per hour): safe path: deploy 1 disables TTL, deploy 2 an hour "
            f"later enables it on `{httl}`",
        )
    elif httl and not bttl:
        add(
            "ttl-enabled",
            f"TTL enabled on `{httl}`: existing items whose `{httl}` is in the past are deleted "
            "in the background",
        )
    elif bttl and not httl:
        add("ttl-disabled", f"TTL on `{bttl}` disabled: expired items are kept from now on")

    # Streams: the view type of an enabled stream cannot change in place.
    bs, hs = _stream(bp), _stream(hp)
    if bs and hs and bs != hs:
        add(
            "stream-view-type",
            f"stream view type {bs} -> {hs} cannot change in place: safe path: deploy 1 removes "
            "the stream and its consumers' mappings, deploy 2 adds it with the new view type "
            "(a new stream ARN; records written in between are not delivered)",
        )
    elif hs and not bs:
        add("stream-added", f"stream {hs} added: consumers start at the new stream")
    elif bs and not hs:
        add("stream-removed", f"stream {bs} removed: its consumers' mappings must go first")

    if prod:
        findings.extend(_protection(stack, logical_id, base, head, label))
    return findings


def _lsi_shapes(props: Mapping[str, Any], types: Mapping[str, str]) -> dict:
    return {
        name: _index_shape(index, types)
        for name, index in _indexes(props, "LocalSecondaryIndexes").items()
    }


def _count_word(n: int) -> str:
    return {2: "two", 3: "three", 4: "four", 5: "five"}.get(n, str(n))


def _sequence(steps: list[str]) -> str:
    """``add `a` first, then `b`, then remove `c```: a verb is said once per run."""
    said, previous = [], None
    for step in steps:
        verb, _, rest = step.partition(" ")
        said.append(rest if verb == previous else step)
        previous = verb
    return f"{said[0]} first, then " + ", then ".join(said[1:])


def _protection(
    stack: str, logical_id: str, base: Mapping[str, Any], head: Mapping[str, Any], label: str
) -> list[Finding]:
    out = []
    for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
        if base.get(policy) == "Retain" and head.get(policy) != "Retain":
            out.append(Finding(
                stack, logical_id, "retain-dropped", label,
                f"{policy} Retain -> {head.get(policy) or 'Delete'} on a prod table: a later "
                "removal or replacement deletes its data; keep RETAIN on prod data",
            ))
    if _props(base).get("DeletionProtectionEnabled") and not _props(head).get(
        "DeletionProtectionEnabled"
    ):
        out.append(Finding(
            stack, logical_id, "deletion-protection-dropped", label,
            "deletion protection turned off on a prod table: a DeleteTable call succeeds; "
            "keep it on unless the table is being retired",
        ))
    if _pitr(_props(base)) and not _pitr(_props(head)):
        out.append(Finding(
            stack, logical_id, "pitr-dropped", label,
            "point-in-time recovery turned off on a prod table: its continuous backups are "
            "deleted; keep it on unless the table is being retired",
        ))
    return out


def compare_other(
    stack: str, logical_id: str, base: Mapping[str, Any], head: Mapping[str, Any], *, prod: bool
) -> list[Finding]:
    """Queues, secrets and log groups: replacement, and on prod a dropped RETAIN."""
    kind = head["Type"]
    changed = [
        f"{prop} {_props(base).get(prop)!r} -> {_props(head).get(prop)!r}"
        for prop in _REPLACING[kind]
        if _canon(_props(base).get(prop)) != _canon(_props(head).get(prop))
    ]
    findings = []
    label = _label(logical_id, head)
    if changed:
        findings.append(Finding(
            stack, logical_id, "replacement", label,
            _replacement_message("; ".join(changed), head, _NOUN[kind]),
        ))
    if prod and _retained(base) and not _retained(head):
        findings.append(Finding(
            stack, logical_id, "retain-dropped", label,
            f"DeletionPolicy Retain -> {head.get('DeletionPolicy') or 'Delete'} on a prod "
            f"{_NOUN[kind]}: a later removal deletes its contents",
        ))
    return findings


# -- a whole stage ---------------------------------------------------------------


def _flatten(stacks: Mapping[str, Mapping[str, Any]]) -> dict[tuple[str, str], dict]:
    return {
        (stack, logical_id): resource
        for stack, template in stacks.items()
        for logical_id, resource in stateful_resources(template).items()
    }


def compare_stage(
    base: Mapping[str, Mapping[str, Any]],
    head: Mapping[str, Mapping[str, Any]],
    *,
    prod: bool,
) -> list[Finding]:
    """Every finding between two ``{stack name: template}`` maps of one stage."""
    before, after = _flatten(base), _flatten(head)
    findings: list[Finding] = []
    for (stack, logical_id), old in before.items():
        new = after.get((stack, logical_id))
        if new is None:
            findings.extend(_gone(stack, logical_id, old, before, after, prod=prod))
        elif new["Type"] != old["Type"]:
            findings.append(Finding(
                stack, logical_id, "replacement", _label(logical_id, old),
                f"logical id now names a {new['Type']}: the {_NOUN[old['Type']]} is deleted "
                "with its data; give the new resource its own logical id",
            ))
        elif old["Type"] == TABLE:
            findings.extend(compare_table(stack, logical_id, old, new, prod=prod))
        else:
            findings.extend(compare_other(stack, logical_id, old, new, prod=prod))
    return sorted(findings, key=lambda f: (f.stack, f.logical_id, f.kind))


def _gone(
    stack: str,
    logical_id: str,
    old: Mapping[str, Any],
    before: Mapping[tuple[str, str], Mapping[str, Any]],
    after: Mapping[tuple[str, str], Mapping[str, Any]],
    *,
    prod: bool,
) -> list[Finding]:
    noun, label, name = _NOUN[old["Type"]], _label(logical_id, old), physical_name(old)
    fate = "orphaned (RETAIN: kept, no longer managed)" if _retained(old) else "deleted with its data"
    if name is not None:
        for (new_stack, new_id), new in after.items():
            if (new_stack, new_id) not in before and new["Type"] == old["Type"] and physical_name(
                new
            ) == name:
                return [Finding(
                    stack, logical_id, "replacement", label,
                    f"moved to {new_stack}/{new_id}: CloudFormation creates `{name}` anew (which "
                    f"fails while the old one exists) and the old one is {fate}; keep the logical "
                    "id and stack (override_logical_id), or move it with a resource import",
                )]
    if old["Type"] == TABLE or (prod and not _retained(old)):
        return [Finding(
            stack, logical_id, "removed", label,
            f"{noun} removed from the app: it is {fate}; safe path: stop its readers and "
            f"writers first, export or back up the data, then remove it",
        )]
    return [Finding(
        stack, logical_id, "removed-unprotected", label,
        f"{noun} removed from the app: it is {fate}",
    )]


def compare_app(
    base: Mapping[str, Mapping[str, Mapping[str, Any]]],
    head: Mapping[str, Mapping[str, Mapping[str, Any]]],
    *,
    prod_stages: Iterable[str] = ("prod",),
) -> list[Finding]:
    """``{stage: {stack: template}}`` on both sides -> every finding, stage by stage."""
    prod = set(prod_stages)
    findings = []
    for stage in sorted(set(base) | set(head)):
        findings.extend(compare_stage(base.get(stage, {}), head.get(stage, {}), prod=stage in prod))
    return findings
