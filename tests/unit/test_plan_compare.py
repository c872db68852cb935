"""The plan check's comparison on hand-made template pairs, one kind of change at a time."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.plan.acks import judge
from tools.plan.compare import KINDS, compare_app, compare_stage

STACK = "DepHealth-prod-Data"
LID = "ApiKeysTableB4793DF5"


def gsi(name, pk, sk=None, projection="ALL", non_key=None):
    index = {
        "IndexName": name,
        "KeySchema": [{"AttributeName": pk, "KeyType": "HASH"}]
        + ([{"AttributeName": sk, "KeyType": "RANGE"}] if sk else []),
        "Projection": {"ProjectionType": projection},
    }
    if non_key:
        index["Projection"]["NonKeyAttributes"] = non_key
    return index


def table(name="dephealth-api-keys", *, indexes=(), ttl=None, stream=None, prod=True,
          pk=("pk", "S"), sk=("sk", "S"), extra_types=None):
    attrs = {pk[0]: pk[1]}
    if sk:
        attrs[sk[0]] = sk[1]
    for index in indexes:
        for key in index["KeySchema"]:
            attrs.setdefault(key["AttributeName"], "S")
    attrs.update(extra_types or {})
    props = {
        "TableName": name,
        "KeySchema": [{"AttributeName": pk[0], "KeyType": "HASH"}]
        + ([{"AttributeName": sk[0], "KeyType": "RANGE"}] if sk else []),
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": t} for a, t in attrs.items()],
        "BillingMode": "PAY_PER_REQUEST",
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": prod},
        "DeletionProtectionEnabled": prod,
    }
    if indexes:
        props["GlobalSecondaryIndexes"] = list(indexes)
    if ttl:
        props["TimeToLiveSpecification"] = {"AttributeName": ttl, "Enabled": True}
    if stream:
        props["StreamSpecification"] = {"StreamViewType": stream}
    policy = "Retain" if prod else "Delete"
    return {"Type": "AWS::DynamoDB::Table", "Properties": props,
            "DeletionPolicy": policy, "UpdateReplacePolicy": policy}


def app(resources, stack=STACK):
    return {stack: {"Resources": resources}}


def diff(before, after, prod=True):
    return compare_stage(app({LID: before}), app({LID: after}), prod=prod)


def kinds(findings):
    return sorted(f.kind for f in findings)


EMAIL = gsi("email-index", "email")
MAGIC = gsi("magic-token-index", "magic_token", projection="KEYS_ONLY")
KEY_HASH = gsi("key-hash-index", "key_hash")


def test_identical_templates_have_no_findings():
    assert diff(table(indexes=[KEY_HASH]), table(indexes=[KEY_HASH])) == []


def test_a_two_gsi_change_is_refused_with_the_split():
    findings = diff(table(indexes=[KEY_HASH]), table(indexes=[KEY_HASH, EMAIL, MAGIC]))
    assert kinds(findings) == ["gsi-operations"]
    (finding,) = findings
    assert finding.severity == "refused"
    assert "split into two deploys: add `email-index` first, then `magic-token-index`" in (
        finding.message
    )
    verdict = judge(findings, [])
    assert not verdict.ok and verdict.refused == findings


def test_one_added_and_one_removed_index_is_two_operations():
    findings = diff(table(indexes=[KEY_HASH, EMAIL]), table(indexes=[KEY_HASH, MAGIC]))
    assert kinds(findings) == ["gsi-operations"]
    assert "add `magic-token-index` first, then remove `email-index`" in findings[0].message


def test_one_gsi_added_passes_with_a_note():
    findings = diff(table(indexes=[KEY_HASH]), table(indexes=[KEY_HASH, MAGIC]))
    assert kinds(findings) == ["gsi-added"]
    assert "`magic-token-index`" in findings[0].message and "backfills" in findings[0].message
    assert judge(findings, []).ok


def test_one_gsi_removed_passes_with_a_note():
    findings = diff(table(indexes=[KEY_HASH, EMAIL]), table(indexes=[KEY_HASH]))
    assert kinds(findings) == ["gsi-removed"]
    assert judge(findings, []).ok


@given(
    before=st.sets(st.sampled_from(["a-index", "b-index", "c-index", "d-index"])),
    after=st.sets(st.sampled_from(["a-index", "b-index", "c-index", "d-index"])),
)
@settings(max_examples=60, deadline=None)
def test_index_set_changes_fail_exactly_when_more_than_one_operation(before, after):
    def build(names):
        return table(indexes=[gsi(n, n.replace("-", "_")) for n in sorted(names)])

    findings = diff(build(before), build(after))
    operations = len(before ^ after)
    assert judge(findings, []).ok is (operations <= 1)
    assert ("gsi-operations" in kinds(findings)) is (operations > 1)


@pytest.mark.parametrize(
    "old, new, expect",
    [
        (gsi("email-index", "email", projection="ALL"),
         gsi("email-index", "email", projection="KEYS_ONLY"), "projection ALL -> KEYS_ONLY"),
        (gsi("email-index", "email"), gsi("email-index", "email_lower"),
         "keys email(S) -> email_lower(S)"),
        (gsi("email-index", "email"), gsi("email-index", "email", "created_at"),
         "keys email(S) -> email(S) + created_at(S)"),
        (gsi("email-index", "email", projection="INCLUDE", non_key=["a"]),
         gsi("email-index", "email", projection="INCLUDE", non_key=["a", "b"]),
         "projection INCLUDE(a) -> INCLUDE(a,b)"),
    ],
)
def test_a_gsi_key_or_projection_change_is_refused(old, new, expect):
    findings = diff(table(indexes=[old]), table(indexes=[new]))
    assert kinds(findings) == ["gsi-changed"]
    assert expect in findings[0].message
    assert "delete plus a create" in findings[0].message
    assert "deploy 1 adds `email-index-v2`" in findings[0].message
    assert not judge(findings, []).ok


def test_a_gsi_key_attribute_type_change_is_an_index_change():
    before = table(indexes=[gsi("score-index", "score")], extra_types={"score": "S"})
    after = table(indexes=[gsi("score-index", "score")], extra_types={"score": "N"})
    findings = diff(before, after)
    assert kinds(findings) == ["gsi-changed"]
    assert "score(S) -> score(N)" in findings[0].message


def test_a_changed_gsi_counts_toward_the_one_index_rule():
    before = table(indexes=[EMAIL])
    after = table(indexes=[gsi("email-index", "email", projection="KEYS_ONLY"), MAGIC])
    findings = diff(before, after)
    assert kinds(findings) == ["gsi-changed", "gsi-operations"]
    operations = next(f for f in findings if f.kind == "gsi-operations")
    assert operations.message.startswith("3 index operations")


@pytest.mark.parametrize(
    "after, expect",
    [
        (table("dephealth-api-keys-v2"), "TableName `dephealth-api-keys` -> `dephealth-api-keys-v2`"),
        (table(sk=None), "KeySchema pk(S) + sk(S) -> pk(S)"),
        (table(sk=("created", "N")), "KeySchema pk(S) + sk(S) -> pk(S) + created(N)"),
        (table(pk=("pk", "N")), "key attribute type pk(S) + sk(S) -> pk(N) + sk(S)"),
    ],
)
def test_replacement_needs_an_acknowledgement(after, expect):
    findings = diff(table(), after)
    assert kinds(findings) == ["replacement"]
    assert expect in findings[0].message
    assert "backfill" in findings[0].message
    assert findings[0].severity == "risk"
    assert not judge(findings, []).ok


def test_a_renamed_table_says_a_new_empty_one_is_created():
    (finding,) = diff(table(), table("dephealth-api-keys-v2"))
    assert "creates a new, empty table" in finding.message
    assert "orphans the old one" in finding.message


def test_a_key_change_under_a_fixed_name_says_cloudformation_refuses_it():
    (finding,) = diff(table(), table(sk=None))
    assert "refuses to replace a resource with a fixed name" in finding.message


def test_a_local_secondary_index_change_is_a_replacement():
    after = table()
    after["Properties"]["LocalSecondaryIndexes"] = [gsi("by-date", "pk", "created")]
    assert kinds(diff(table(), after)) == ["replacement"]


@pytest.mark.parametrize(
    "change, kind",
    [
        (lambda t: t.update(DeletionPolicy="Delete"), "retain-dropped"),
        (lambda t: t.pop("UpdateReplacePolicy"), "retain-dropped"),
        (lambda t: t["Properties"].update(DeletionProtectionEnabled=False), "deletion-protection-dropped"),
        (lambda t: t["Properties"].pop("DeletionProtectionEnabled"), "deletion-protection-dropped"),
        (lambda t: t["Properties"].update(
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}), "pitr-dropped"),
        (lambda t: t["Properties"].pop("PointInTimeRecoverySpecification"), "pitr-dropped"),
    ],
)
def test_dropping_protection_on_a_prod_table_needs_an_acknowledgement(change, kind):
    after = copy.deepcopy(table())
    change(after)
    findings = diff(table(), after, prod=True)
    assert kinds(findings) == [kind]
    assert not judge(findings, []).ok
    assert diff(table(), after, prod=False) == []  # dev tables may be disposable


def test_a_table_removed_from_the_app_needs_an_acknowledgement():
    findings = compare_stage(app({LID: table()}), app({}), prod=True)
    assert kinds(findings) == ["removed"]
    assert "orphaned" in findings[0].message
    findings = compare_stage(app({LID: table(prod=False)}), app({}), prod=False)
    assert kinds(findings) == ["removed"]
    assert "deleted with its data" in findings[0].message


def test_a_table_that_moves_to_another_logical_id_is_a_replacement():
    findings = compare_stage(app({LID: table()}), app({"NewId": table()}), prod=True)
    assert kinds(findings) == ["replacement"]
    assert f"moved to {STACK}/NewId" in findings[0].message


def test_a_whole_stack_removed_reports_each_table():
    base = {STACK: {"Resources": {LID: table(), "Other": table("dephealth-packages")}}}
    findings = compare_stage(base, {}, prod=True)
    assert kinds(findings) == ["removed", "removed"]


def test_a_stream_view_type_change_is_refused():
    findings = diff(table(stream="NEW_IMAGE"), table(stream="NEW_AND_OLD_IMAGES"))
    assert kinds(findings) == ["stream-view-type"]
    assert "deploy 1 removes the stream" in findings[0].message
    assert not judge(findings, []).ok


def test_a_stream_added_or_removed_passes():
    assert kinds(diff(table(), table(stream="NEW_IMAGE"))) == ["stream-added"]
    assert kinds(diff(table(stream="NEW_IMAGE"), table())) == ["stream-removed"]


def test_a_ttl_attribute_change_in_one_step_is_refused():
    findings = diff(table(ttl="ttl"), table(ttl="expires_at"))
    assert kinds(findings) == ["ttl-attribute"]
    assert "deploy 1 disables TTL" in findings[0].message
    assert not judge(findings, []).ok


def test_ttl_switched_on_or_off_passes():
    assert kinds(diff(table(), table(ttl="ttl"))) == ["ttl-enabled"]
    assert kinds(diff(table(ttl="ttl"), table())) == ["ttl-disabled"]
    assert judge(diff(table(), table(ttl="ttl")), []).ok


def queue(**props):
    return {"Type": "AWS::SQS::Queue", "Properties": props, "DeletionPolicy": "Delete"}


def test_queues_secrets_and_log_groups():
    assert kinds(compare_stage(app({"Q": queue()}), app({"Q": queue(FifoQueue=True)}),
                               prod=False)) == ["replacement"]
    secret = {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": "a"}}
    renamed = {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": "b"}}
    assert kinds(compare_stage(app({"S": secret}), app({"S": renamed}), prod=False)) == [
        "replacement"
    ]
    # A prod queue removed with its messages needs an acknowledgement; in dev it is a note.
    assert kinds(compare_stage(app({"Q": queue()}), app({}), prod=True)) == ["removed"]
    assert kinds(compare_stage(app({"Q": queue()}), app({}), prod=False)) == [
        "removed-unprotected"
    ]
    logs = {"Type": "AWS::Logs::LogGroup", "Properties": {}, "DeletionPolicy": "Retain"}
    assert kinds(compare_stage(app({"L": logs}), app({}), prod=True)) == ["removed-unprotected"]


def test_stateless_resources_are_ignored():
    fn = {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"S3Key": "a.zip"}}}
    changed = {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"S3Key": "b.zip"}}}
    assert compare_stage(app({"F": fn}), app({"F": changed}), prod=True) == []
    assert compare_stage(app({"F": fn}), app({}), prod=True) == []


def test_every_kind_has_a_severity():
    assert set(KINDS.values()) == {"refused", "risk", "note"}


# -- the source design's change, on the app's own templates -----------------------


def _without_magic_link(templates):
    """The api-keys table as it was before magic-link login: no magic-token-index, TTL off."""
    base = copy.deepcopy(templates)
    for template in base.values():
        for resource in template["Resources"].values():
            props = resource.get("Properties", {})
            if props.get("TableName") == "dephealth-api-keys":
                props["GlobalSecondaryIndexes"] = [
                    i for i in props["GlobalSecondaryIndexes"]
                    if i["IndexName"] != "magic-token-index"
                ]
                props["AttributeDefinitions"] = [
                    a for a in props["AttributeDefinitions"] if a["AttributeName"] != "magic_token"
                ]
                props.pop("TimeToLiveSpecification")
    return base


def test_the_magic_link_change_adds_one_index_and_enables_ttl_and_passes(
    dev_templates, prod_templates
):
    head = {"dev": dev_templates, "prod": prod_templates}
    base = {stage: _without_magic_link(t) for stage, t in head.items()}
    findings = compare_app(base, head)
    assert [(f.stack, f.kind) for f in findings] == [
        ("DepHealthData", "gsi-added"),
        ("DepHealthData", "ttl-enabled"),
        ("DepHealthData", "gsi-added"),
        ("DepHealthData", "ttl-enabled"),
    ]
    assert all("`magic-token-index`" in f.message for f in findings if f.kind == "gsi-added")
    assert judge(findings, []).ok


def test_the_magic_link_change_with_email_index_in_the_same_update_is_refused(
    dev_templates, prod_templates
):
    head = {"dev": dev_templates, "prod": prod_templates}
    base = {stage: _without_magic_link(t) for stage, t in head.items()}
    for template in base["prod"].values():
        for resource in template["Resources"].values():
            props = resource.get("Properties", {})
            if props.get("TableName") == "dephealth-api-keys":
                props["GlobalSecondaryIndexes"] = [
                    i for i in props["GlobalSecondaryIndexes"] if i["IndexName"] != "email-index"
                ]
    findings = compare_stage(base["prod"], head["prod"], prod=True)
    assert kinds(findings) == ["gsi-operations", "ttl-enabled"]
    refused = findings[0]
    assert "split into two deploys: add `email-index` first, then `magic-token-index`" in (
        refused.message
    )
    assert not judge(findings, []).ok
