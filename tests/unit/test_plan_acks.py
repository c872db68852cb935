"""The reviewed acknowledgement file: accepted entries, stale entries, missing reasons."""

from __future__ import annotations

import json

import pytest

from tools.plan.acks import AckError, judge, load, parse
from tools.plan.baseline import ROOT
from tools.plan.compare import Finding

REPLACED = Finding("DepHealth-prod-Data", "ApiKeysTableB4793DF5", "replacement",
                   "dephealth-api-keys", "TableName ... replaces the table")
REFUSED = Finding("DepHealth-prod-Data", "ApiKeysTableB4793DF5", "gsi-operations",
                  "dephealth-api-keys", "2 index operations")
NOTE = Finding("DepHealth-prod-Data", "ApiKeysTableB4793DF5", "gsi-added",
               "dephealth-api-keys", "added")


def entry(**overrides):
    base = {"stack": "DepHealth-prod-Data", "logical_id": "ApiKeysTableB4793DF5",
            "kind": "replacement", "reason": "the v1 table is retired after the backfill"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_an_acknowledged_risk_passes():
    acks = parse({"acknowledgements": [entry()]})
    verdict = judge([REPLACED, NOTE], acks)
    assert verdict.ok
    assert verdict.acknowledged == [(REPLACED, acks[0])]
    assert verdict.notes == [NOTE]


def test_an_unacknowledged_risk_fails():
    verdict = judge([REPLACED], [])
    assert not verdict.ok and verdict.unacknowledged == [REPLACED]


def test_an_acknowledgement_for_another_stack_or_kind_does_not_count():
    for other in (entry(stack="DepHealth-dev-Data"), entry(kind="removed"),
                  entry(logical_id="PackagesTableDCB08867")):
        verdict = judge([REPLACED], parse({"acknowledgements": [other]}))
        assert not verdict.ok
        assert verdict.unacknowledged == [REPLACED] and len(verdict.stale) == 1


def test_a_stale_entry_fails():
    acks = parse({"acknowledgements": [entry()]})
    verdict = judge([NOTE], acks)
    assert not verdict.ok and verdict.stale == acks


def test_a_refused_change_stays_refused():
    verdict = judge([REFUSED], [])
    assert not verdict.ok and verdict.refused == [REFUSED]
    with pytest.raises(AckError, match="cannot be acknowledged"):
        parse({"acknowledgements": [entry(kind="gsi-operations")]})


@pytest.mark.parametrize("reason", [None, "", "   ", 3])
def test_a_missing_reason_fails(reason):
    with pytest.raises(AckError, match="'reason'"):
        parse({"acknowledgements": [entry(reason=reason)]})


@pytest.mark.parametrize(
    "data, match",
    [
        ([], "expected"),
        ({"acknowledgements": {}}, "expected"),
        ({"acknowledgements": [], "extra": 1}, "expected"),
        ({"acknowledgements": ["x"]}, "expected an object"),
        ({"acknowledgements": [entry(stack="")]}, "'stack'"),
        ({"acknowledgements": [entry(note="x")]}, "unknown field"),
        ({"acknowledgements": [entry(), entry()]}, "duplicate"),
    ],
)
def test_malformed_files_are_refused(data, match):
    with pytest.raises(AckError, match=match):
        parse(data)


def test_load_reads_a_file_and_treats_a_missing_one_as_empty(tmp_path):
    path = tmp_path / "acks.json"
    assert load(path) == []
    path.write_text(json.dumps({"acknowledgements": [entry()]}))
    assert [a.key for a in load(path)] == [REPLACED.key]
    path.write_text("{not json")
    with pytest.raises(AckError, match="not readable JSON"):
        load(path)


def test_the_reviewed_file_in_the_repository_is_valid():
    path = ROOT / "security" / "plan-acknowledgements.json"
    assert path.exists()
    assert all(ack.reason for ack in load(path))
