"""The reviewed acknowledgement file: risky changes someone decided to make.

security/plan-acknowledgements.json::

    {"acknowledgements": [
        {"stack": "DepHealth-prod-Data", "logical_id": "ApiKeysTableB4793DF5",
         "kind": "replacement", "reason": "why losing or moving this data is intended"}
    ]}

An entry is keyed by stack, logical id and kind, and must carry a reason.
Only ``risk`` kinds can be acknowledged; a change CloudFormation refuses has
to be split instead. An entry that matches no finding of the current plan is
stale and fails, so the file holds exactly the changes in flight.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.plan.compare import ACKNOWLEDGEABLE, Finding

_FIELDS = ("stack", "logical_id", "kind", "reason")


class AckError(ValueError):
    """The acknowledgement file is unreadable or has an invalid entry."""


@dataclass(frozen=True)
class Ack:
    stack: str
    logical_id: str
    kind: str
    reason: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.stack, self.logical_id, self.kind)


def parse(data: Any, source: str = "acknowledgements") -> list[Ack]:
    if not isinstance(data, dict) or set(data) != {"acknowledgements"} or not isinstance(
        data["acknowledgements"], list
    ):
        raise AckError(f'{source}: expected {{"acknowledgements": [...]}}')
    acks: list[Ack] = []
    seen: set[tuple[str, str, str]] = set()
    for number, entry in enumerate(data["acknowledgements"], 1):
        where = f"{source} entry {number}"
        if not isinstance(entry, dict):
            raise AckError(f"{where}: expected an object")
        unknown = sorted(set(entry) - set(_FIELDS))
        if unknown:
            raise AckError(f"{where}: unknown field(s) {', '.join(unknown)}")
        for field in _FIELDS:
            value = entry.get(field)
            if not isinstance(value, str) or not value.strip():
                raise AckError(f"{where}: missing or empty {field!r}")
        if entry["kind"] not in ACKNOWLEDGEABLE:
            raise AckError(
                f"{where}: kind {entry['kind']!r} cannot be acknowledged "
                f"(one of: {', '.join(sorted(ACKNOWLEDGEABLE))})"
            )
        ack = Ack(**{field: entry[field].strip() for field in _FIELDS})
        if ack.key in seen:
            raise AckError(f"{where}: duplicate of {'/'.join(ack.key)}")
        seen.add(ack.key)
        acks.append(ack)
    return acks


def load(path: Path) -> list[Ack]:
    """The entries of ``path``; a missing file holds none."""
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AckError(f"{path.name}: not readable JSON ({exc})") from exc
    return parse(data, path.name)


@dataclass(frozen=True)
class Verdict:
    """The outcome of a plan: what passes, what is acknowledged, what fails."""

    refused: list[Finding]
    unacknowledged: list[Finding]
    acknowledged: list[tuple[Finding, Ack]]
    notes: list[Finding]
    stale: list[Ack]

    @property
    def ok(self) -> bool:
        return not (self.refused or self.unacknowledged or self.stale)


def judge(findings: Iterable[Finding], acks: Iterable[Ack]) -> Verdict:
    by_key = {ack.key: ack for ack in acks}
    refused, unacknowledged, acknowledged, notes = [], [], [], []
    used: set[tuple[str, str, str]] = set()
    for finding in findings:
        if finding.severity == "refused":
            refused.append(finding)
        elif finding.severity == "risk":
            ack = by_key.get(finding.key)
            if ack is None:
                unacknowledged.append(finding)
            else:
                acknowledged.append((finding, ack))
                used.add(ack.key)
        else:
            notes.append(finding)
    stale = [ack for key, ack in by_key.items() if key not in used]
    return Verdict(refused, unacknowledged, acknowledged, notes, stale)
