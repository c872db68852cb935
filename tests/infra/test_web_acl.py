"""The WAFv2 web ACL on each REST API stage: on in prod, off in dev, its rules and what they match.

Statements are checked twice: as template JSON (names, order, limits,
visibility) and by evaluating them on sample requests with a small evaluator
of the statement types the ACL uses, so a scope-down that matches the wrong
requests fails here, not in production.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest

from constructs_lib.rest_api import DEFAULT_WAF_RATE_LIMIT, DEFAULT_WAF_TIGHT_RATE_LIMIT
from constructs_lib.web_acl import SIZE_LABEL, path_regex
from tests.synth import synth

STACKS = ("DepHealthService", "KvStorageApi")
RULES = ["IpReputation", "RateLimitPerIp", "TightRateLimitPerIp", "CommonRuleSet", "LargeBodyOnlyWhereAllowed",
         "KnownBadInputs"]


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def web_acl(template: dict) -> dict:
    [acl] = resources(template, "AWS::WAFv2::WebACL").values()
    return acl["Properties"]


def rule(template: dict, name: str) -> dict:
    [found] = [r for r in web_acl(template)["Rules"] if r["Name"] == name]
    return found


# -- a small evaluator of the statement types the ACL uses --------------------------------------

def _field(request: dict, field: dict) -> str | None:
    if "Method" in field:
        return request["method"]
    if "UriPath" in field:
        return request["path"]
    if "SingleHeader" in field:
        return request.get("headers", {}).get(field["SingleHeader"]["Name"])
    raise AssertionError(f"field {field} not covered by the evaluator")


def _transform(value: str, transformations: list[dict]) -> str:
    for t in sorted(transformations, key=lambda t: t["Priority"]):
        value = {"NONE": value, "URL_DECODE": unquote(value), "LOWERCASE": value.lower()}[t["Type"]]
    return value


def matches(statement: dict, request: dict) -> bool:
    [(kind, body)] = statement.items()
    if kind == "AndStatement":
        return all(matches(s, request) for s in body["Statements"])
    if kind == "OrStatement":
        return any(matches(s, request) for s in body["Statements"])
    if kind == "NotStatement":
        return not matches(body["Statement"], request)
    if kind == "LabelMatchStatement":
        return body["Key"] in request.get("labels", ())
    value = _field(request, body["FieldToMatch"])
    if value is None:  # a missing header matches no statement on it
        return False
    value = _transform(value, body["TextTransformations"])
    if kind == "ByteMatchStatement":
        assert body["PositionalConstraint"] == "EXACTLY"
        return value == body["SearchString"]
    if kind == "RegexMatchStatement":
        return re.search(body["RegexString"], value) is not None
    if kind == "SizeConstraintStatement":
        assert body["ComparisonOperator"] == "GT"
        return len(value) > body["Size"]
    raise AssertionError(f"statement {kind} not covered by the evaluator")


def req(method: str, path: str, *, key: bool = False, large: bool = False) -> dict:
    return {"method": method, "path": path, "headers": {"x-api-key": "dh_k"} if key else {},
            "labels": (SIZE_LABEL,) if large else ()}


# -- template ------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", STACKS)
def test_prod_has_a_regional_acl_on_its_stage(stack, prod_templates):
    template = prod_templates[stack]
    acl = web_acl(template)
    assert acl["Scope"] == "REGIONAL" and acl["DefaultAction"] == {"Allow": {}}
    assert [r["Name"] for r in acl["Rules"]] == RULES
    assert [r["Priority"] for r in acl["Rules"]] == list(range(len(RULES)))
    [association] = resources(template, "AWS::WAFv2::WebACLAssociation").values()
    [acl_id] = resources(template, "AWS::WAFv2::WebACL")
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    [api_id] = resources(template, "AWS::ApiGateway::RestApi")
    [stage_id] = resources(template, "AWS::ApiGateway::Stage")
    parts = association["Properties"]["ResourceArn"]["Fn::Join"][1]
    assert {"Ref": api_id} in parts and parts[-1] == "/stages/prod"
    assert stage_id in association["DependsOn"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_rule_and_the_acl_publish_metrics_and_samples(stack, prod_templates):
    acl = web_acl(prod_templates[stack])
    configs = [acl["VisibilityConfig"]] + [r["VisibilityConfig"] for r in acl["Rules"]]
    for config in configs:
        assert config["CloudWatchMetricsEnabled"] is True and config["SampledRequestsEnabled"] is True
    names = [c["MetricName"] for c in configs]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("stack", STACKS)
def test_managed_groups_block_except_the_body_size_rule(stack, prod_templates):
    template = prod_templates[stack]
    groups = {r["Name"]: r for r in web_acl(template)["Rules"] if "ManagedRuleGroupStatement" in r["Statement"]}
    assert {n: r["Statement"]["ManagedRuleGroupStatement"]["Name"] for n, r in groups.items()} == {
        "IpReputation": "AWSManagedRulesAmazonIpReputationList",
        "CommonRuleSet": "AWSManagedRulesCommonRuleSet",
        "KnownBadInputs": "AWSManagedRulesKnownBadInputsRuleSet",
    }
    for name, r in groups.items():
        assert r["OverrideAction"] == {"None": {}}, name
        overrides = r["Statement"]["ManagedRuleGroupStatement"].get("RuleActionOverrides", [])
        expected = [{"ActionToUse": {"Count": {}}, "Name": "SizeRestrictions_BODY"}] if name == "CommonRuleSet" else []
        assert overrides == expected, name
    # The counted rule's label is acted on right after the group that sets it.
    large = rule(template, "LargeBodyOnlyWhereAllowed")
    assert large["Action"] == {"Block": {}}
    assert large["Priority"] == rule(template, "CommonRuleSet")["Priority"] + 1


@pytest.mark.parametrize("stack", STACKS)
def test_rate_rules_limit_per_ip_over_five_minutes(stack, prod_templates):
    template = prod_templates[stack]
    general = rule(template, "RateLimitPerIp")["Statement"]["RateBasedStatement"]
    tight = rule(template, "TightRateLimitPerIp")["Statement"]["RateBasedStatement"]
    assert general == {"AggregateKeyType": "IP", "EvaluationWindowSec": 300, "Limit": DEFAULT_WAF_RATE_LIMIT}
    assert {k: v for k, v in tight.items() if k != "ScopeDownStatement"} == {
        "AggregateKeyType": "IP", "EvaluationWindowSec": 300, "Limit": DEFAULT_WAF_TIGHT_RATE_LIMIT}
    assert rule(template, "RateLimitPerIp")["Action"] == {"Block": {}}
    assert rule(template, "TightRateLimitPerIp")["Action"] == {"Block": {}}


TIGHT = {
    "DepHealthService": {
        True: [req("POST", "/prod/signup"), req("POST", "/signup"), req("POST", "/prod/auth/magic-link"),
               req("POST", "/prod/SignUp"), req("POST", "/prod/%73ignup"), req("POST", "/prod/signup/"),
               req("GET", "/prod/packages"), req("GET", "/prod/packages/npm/express"),
               req("GET", "/prod/packages/npm/@types/node"), req("POST", "/prod/packages/batch")],
        False: [req("GET", "/prod/verify"), req("GET", "/prod/auth/callback"), req("GET", "/prod/signup"),
                req("GET", "/prod/packages", key=True), req("GET", "/prod/packages/npm/express", key=True),
                req("POST", "/prod/packages/batch", key=True), req("GET", "/prod/packagesx"),
                req("POST", "/dev/signup")],
    },
    "KvStorageApi": {
        True: [req("POST", "/prod/users"), req("POST", "/users")],
        False: [req("GET", "/prod/me", key=True), req("PUT", "/prod/namespaces/a", key=True),
                req("GET", "/prod/users"), req("POST", "/prod/users/x")],
    },
}


@pytest.mark.parametrize("stack", STACKS)
def test_the_tight_rule_covers_signup_magic_link_and_demo_only(stack, prod_templates):
    scope = rule(prod_templates[stack], "TightRateLimitPerIp")["Statement"]["RateBasedStatement"]
    for expected, requests in TIGHT[stack].items():
        for request in requests:
            assert matches(scope["ScopeDownStatement"], request) is expected, request


LARGE = {
    # (request, blocked by LargeBodyOnlyWhereAllowed when over 8 KB)
    "DepHealthService": [(req("POST", "/prod/packages/batch", key=True, large=True), False),
                         (req("POST", "/prod/packages/batch", large=True), False),
                         (req("POST", "/prod/signup", large=True), True),
                         (req("POST", "/prod/auth/magic-link", large=True), True),
                         (req("POST", "/prod/packages/batch", key=True), False)],
    "KvStorageApi": [(req("PUT", "/prod/namespaces/a/keys/b/c", key=True, large=True), False),
                     (req("PUT", "/namespaces/a/keys/b", key=True, large=True), False),
                     (req("PUT", "/prod/namespaces/a", key=True, large=True), True),
                     (req("POST", "/prod/users", large=True), True),
                     (req("PUT", "/prod/namespaces/a/keys/b", key=True), False)],
}


@pytest.mark.parametrize("stack", STACKS)
def test_bodies_over_8_kb_pass_only_on_routes_with_their_own_limit(stack, prod_templates):
    statement = rule(prod_templates[stack], "LargeBodyOnlyWhereAllowed")["Statement"]
    for request, blocked in LARGE[stack]:
        assert matches(statement, request) is blocked, request


@pytest.mark.parametrize("stack", STACKS)
def test_the_acl_logs_with_keys_and_tokens_redacted(stack, prod_templates, dev_templates):
    template = prod_templates[stack]
    [logging] = resources(template, "AWS::WAFv2::LoggingConfiguration").values()
    props = logging["Properties"]
    [acl_id] = resources(template, "AWS::WAFv2::WebACL")
    assert props["ResourceArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    assert props["RedactedFields"] == [{"SingleHeader": {"Name": "x-api-key"}}, {"QueryString": {}}]
    [destination] = props["LogDestinationConfigs"]
    group_name = destination["Fn::Join"][1][-1].split(":log-group:")[1]
    waf_groups = [r for r in resources(template, "AWS::Logs::LogGroup").values()
                  if r["Properties"].get("LogGroupName") == group_name]
    assert group_name.startswith("aws-waf-logs-") and len(waf_groups) == 1
    assert waf_groups[0]["Properties"]["RetentionInDays"] >= 365
    assert waf_groups[0]["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize("stack", STACKS)
def test_dev_has_no_acl_by_default(stack, dev_templates):
    for kind in ("AWS::WAFv2::WebACL", "AWS::WAFv2::WebACLAssociation", "AWS::WAFv2::LoggingConfiguration"):
        assert not resources(dev_templates[stack], kind)


def test_context_switches_the_acl_and_sets_its_limits():
    dev_on = synth("dev", (("waf", "true"), ("wafRateLimit", "5000"), ("wafTightRateLimit", "20")))
    for stack in STACKS:
        template = dev_on[stack]
        assert rule(template, "RateLimitPerIp")["Statement"]["RateBasedStatement"]["Limit"] == 5000
        tight = rule(template, "TightRateLimitPerIp")["Statement"]["RateBasedStatement"]
        assert tight["Limit"] == 20
        assert not matches(tight["ScopeDownStatement"], req("POST", "/prod/users"))
        assert matches(tight["ScopeDownStatement"], req("POST", "/dev/signup" if "Dep" in stack else "/dev/users"))
        [group] = [r for r in resources(template, "AWS::Logs::LogGroup").values()
                   if r["Properties"].get("LogGroupName", "").startswith("aws-waf-logs-")]
        assert group["DeletionPolicy"] == "Delete"
    prod_off = synth("prod", (("waf", False),))
    for stack in STACKS:
        assert not resources(prod_off[stack], "AWS::WAFv2::WebACL")


def test_path_regex_anchors_segments_and_the_optional_stage():
    pattern = re.compile(path_regex(["/packages/{ecosystem}/{name+}", "/auth/magic-link"], "prod"))
    assert pattern.pattern == r"^(/prod)?/(auth/magic\-link|packages/[^/]+/.+)/?$"
    assert pattern.search("/prod/packages/npm/@types/node") and pattern.search("/auth/magic-link")
    assert not pattern.search("/prod/packages/npm") and not pattern.search("/x/auth/magic-link")
