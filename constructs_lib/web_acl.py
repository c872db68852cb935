"""``ApiWebAcl``: a regional WAFv2 web ACL in front of one REST API stage.

API Gateway's stage throttling caps the whole API; it cannot tell one
abusive client from many good ones, and it sees no request content. The web
ACL does both, before a request reaches API Gateway's quota or a function:

1. ``IpReputation``: AWS's list of addresses known for bots and attacks (blocked).
2. ``RateLimitPerIp``: at most ``rate_limit`` requests per source IP per
   five minutes, on every route.
3. ``TightRateLimitPerIp``: at most ``tight_rate_limit`` per IP per five
   minutes on the routes that create work without an API key (signup,
   magic-link mail, the demo allowance), matched by ``tight_routes``.
4. ``CommonRuleSet``: the core rule set (XSS, LFI, RFI, bad bots, size
   limits), except that ``SizeRestrictions_BODY`` only counts: it blocks
   bodies over 8 KB, which KV values (up to 390 KB) and DepHealth batch
   reads (1000 names) legitimately exceed. It labels such a request instead,
5. ``LargeBodyOnlyWhereAllowed``: and this rule blocks a labelled request
   unless it targets one of ``large_body_routes``, where the handler's own
   limits apply (``decoding.MAX_BODY_BYTES``, 512 KB; KV's value limit).
6. ``KnownBadInputs``: request patterns of known exploits (Log4j, ...).

Routes are given as API Gateway resource paths (``/packages/{ecosystem}/{name+}``)
and turned into anchored regular expressions on the URI path, with or without
the stage prefix (the execute-api URL carries ``/{stage}``, a custom domain
mapped at its root does not). ``{name}`` matches one segment, ``{name+}``
one or more. Every rule and the ACL itself publish CloudWatch metrics and
sampled requests, named ``{metric_prefix}-{rule}``.

The ACL logs every request it evaluates to the log group
``aws-waf-logs-{name}`` (WAF requires that prefix), with the ``x-api-key``
header and the query string redacted: they carry API keys and the one-time
login and verification tokens.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import ArnFormat, IResolvable, RemovalPolicy, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

ACL = wafv2.CfnWebACL
LOGGING_FIELD = wafv2.CfnLoggingConfiguration.FieldToMatchProperty
RATE_WINDOW_S = 300  # the evaluation window of both rate rules
LOG_GROUP_PREFIX = "aws-waf-logs-"
REDACTED_HEADERS = ("x-api-key",)  # and the query string (tokens)
SIZE_RULE = "SizeRestrictions_BODY"
SIZE_LABEL = "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body"
# Rule name -> AWS managed rule group (their order in the ACL: see the module docstring).
MANAGED_GROUPS = {
    "IpReputation": "AWSManagedRulesAmazonIpReputationList",
    "CommonRuleSet": "AWSManagedRulesCommonRuleSet",
    "KnownBadInputs": "AWSManagedRulesKnownBadInputsRuleSet",
}


@dataclass(frozen=True)
class RouteMatch:
    """Requests to one route: ``method`` on the resource ``path``.

    ``unless_header`` excludes requests that carry that header (the demo
    allowance applies only to package reads without ``x-api-key``).
    """

    method: str
    path: str
    unless_header: str | None = None


def path_regex(paths: Sequence[str], stage: str) -> str:
    """An anchored regex on the URI path for API Gateway resource ``paths``, with or without ``/{stage}``."""
    alternatives = []
    for path in sorted(set(paths)):
        parts = []
        for segment in path.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("+}"):
                parts.append(".+")
            elif segment.startswith("{") and segment.endswith("}"):
                parts.append("[^/]+")
            else:
                parts.append(re.escape(segment.lower()))
        alternatives.append("/".join(parts))
    return f"^(/{re.escape(stage.lower())})?/({'|'.join(alternatives)})/?$"


def _visibility(metric: str) -> ACL.VisibilityConfigProperty:
    return ACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, sampled_requests_enabled=True, metric_name=metric)


def _path_statement(paths: Sequence[str], stage: str) -> ACL.StatementProperty:
    # Lower-cased after URL decoding, so /SignUp or /%73ignup count like /signup.
    return ACL.StatementProperty(regex_match_statement=ACL.RegexMatchStatementProperty(
        field_to_match=ACL.FieldToMatchProperty(uri_path={}),
        regex_string=path_regex(paths, stage),
        text_transformations=[ACL.TextTransformationProperty(priority=0, type="URL_DECODE"),
                              ACL.TextTransformationProperty(priority=1, type="LOWERCASE")],
    ))


def _method_statement(method: str) -> ACL.StatementProperty:
    return ACL.StatementProperty(byte_match_statement=ACL.ByteMatchStatementProperty(
        field_to_match=ACL.FieldToMatchProperty(method={}),
        positional_constraint="EXACTLY",
        search_string=method.upper(),
        text_transformations=[ACL.TextTransformationProperty(priority=0, type="NONE")],
    ))


def _has_header(name: str) -> ACL.StatementProperty:
    return ACL.StatementProperty(size_constraint_statement=ACL.SizeConstraintStatementProperty(
        field_to_match=ACL.FieldToMatchProperty(single_header={"Name": name.lower()}),
        comparison_operator="GT",
        size=0,
        text_transformations=[ACL.TextTransformationProperty(priority=0, type="NONE")],
    ))


def _all(statements: list[ACL.StatementProperty]) -> ACL.StatementProperty:
    if len(statements) == 1:
        return statements[0]
    return ACL.StatementProperty(and_statement=ACL.AndStatementProperty(statements=statements))


def _any(statements: list[ACL.StatementProperty]) -> ACL.StatementProperty:
    if len(statements) == 1:
        return statements[0]
    return ACL.StatementProperty(or_statement=ACL.OrStatementProperty(statements=statements))


def routes_statement(routes: Sequence[RouteMatch], stage: str) -> ACL.StatementProperty:
    """A statement that matches a request to any of ``routes``.

    Routes sharing a method and header exception share one regex, which
    keeps the ACL's capacity (WCU) low.
    """
    if not routes:
        raise ValueError("routes_statement needs at least one route")
    groups: dict[tuple[str, str | None], list[str]] = {}
    for route in routes:
        groups.setdefault((route.method.upper(), route.unless_header), []).append(route.path)
    statements = []
    for (method, unless_header), paths in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1] or "")):
        parts = [_method_statement(method), _path_statement(paths, stage)]
        if unless_header:
            parts.append(ACL.StatementProperty(not_statement=ACL.NotStatementProperty(
                statement=_has_header(unless_header))))
        statements.append(_all(parts))
    return _any(statements)


class ApiWebAcl(Construct):
    """A regional web ACL associated with one REST API stage (``stage_arn``).

    Routes join with ``add_tight_route`` / ``add_large_body_route`` as the
    API declares its methods; the rules are rendered again after each one.
    Without a tight route there is no tight rule (a rate rule without a
    scope-down would apply the tight limit to every route).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        stage_name: str,
        stage_arn: str,
        rate_limit: int,
        tight_rate_limit: int,
        log_retention: logs.RetentionDays,
        log_removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        if not 10 <= tight_rate_limit <= rate_limit:
            raise ValueError(f"need 10 <= tight rate limit ({tight_rate_limit}) <= rate limit ({rate_limit})")
        self.metric_prefix = name
        self.stage_name = stage_name
        self.rate_limit = rate_limit
        self.tight_rate_limit = tight_rate_limit
        self.tight_routes: list[RouteMatch] = []
        self.large_body_routes: list[RouteMatch] = []
        self.acl = ACL(
            self, "Acl",
            name=name,
            description=f"Web ACL of the {name} REST API stage: managed rules and per-IP rate limits",
            scope="REGIONAL",
            default_action=ACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(name),
            rules=self._rules(),
        )
        self.association = wafv2.CfnWebACLAssociation(
            self, "Association", resource_arn=stage_arn, web_acl_arn=self.acl.attr_arn)
        log_group_name = f"{LOG_GROUP_PREFIX}{name}"
        self.log_group = logs.LogGroup(self, "Logs", log_group_name=log_group_name, retention=log_retention,
                                       removal_policy=log_removal_policy)
        # WAF takes the log group ARN without the ":*" that LogGroup.log_group_arn ends with.
        destination = Stack.of(self).format_arn(service="logs", resource="log-group", resource_name=log_group_name,
                                                arn_format=ArnFormat.COLON_RESOURCE_NAME)
        self.logging = wafv2.CfnLoggingConfiguration(
            self, "Logging",
            resource_arn=self.acl.attr_arn,
            log_destination_configs=[destination],
            redacted_fields=[LOGGING_FIELD(single_header={"Name": h}) for h in REDACTED_HEADERS]
            + [LOGGING_FIELD(query_string={})],
        )
        self.logging.node.add_dependency(self.log_group)

    def add_tight_route(self, route: RouteMatch) -> None:
        self.tight_routes.append(route)
        self.acl.rules = self._rules()

    def add_large_body_route(self, route: RouteMatch) -> None:
        self.large_body_routes.append(route)
        self.acl.rules = self._rules()

    def _rules(self) -> list[IResolvable | ACL.RuleProperty]:
        rules = [self._managed("IpReputation"), self._rate("RateLimitPerIp", self.rate_limit, None)]
        if self.tight_routes:
            rules.append(self._rate("TightRateLimitPerIp", self.tight_rate_limit,
                                    routes_statement(self.tight_routes, self.stage_name)))
        rules += [
            self._managed("CommonRuleSet", count_only=(SIZE_RULE,)),
            self._large_body_rule(self.large_body_routes, self.stage_name),
            self._managed("KnownBadInputs"),
        ]
        rendered: list[IResolvable | ACL.RuleProperty] = [
            ACL.RuleProperty(priority=priority, **rule) for priority, rule in enumerate(rules)]
        return rendered

    def _managed(self, rule: str, *, count_only: Sequence[str] = ()) -> dict:
        overrides = [ACL.RuleActionOverrideProperty(name=r, action_to_use=ACL.RuleActionProperty(count={}))
                     for r in count_only]
        return {
            "name": rule,
            "statement": ACL.StatementProperty(managed_rule_group_statement=ACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS", name=MANAGED_GROUPS[rule], rule_action_overrides=overrides or None)),
            "override_action": ACL.OverrideActionProperty(none={}),
            "visibility_config": _visibility(f"{self.metric_prefix}-{rule}"),
        }

    def _rate(self, rule: str, limit: int, scope_down: ACL.StatementProperty | None) -> dict:
        return {
            "name": rule,
            "statement": ACL.StatementProperty(rate_based_statement=ACL.RateBasedStatementProperty(
                aggregate_key_type="IP", limit=limit, evaluation_window_sec=RATE_WINDOW_S,
                scope_down_statement=scope_down)),
            "action": ACL.RuleActionProperty(block={}),
            "visibility_config": _visibility(f"{self.metric_prefix}-{rule}"),
        }

    def _large_body_rule(self, routes: Sequence[RouteMatch], stage: str) -> dict:
        labelled = ACL.StatementProperty(label_match_statement=ACL.LabelMatchStatementProperty(
            scope="LABEL", key=SIZE_LABEL))
        parts = [labelled]
        if routes:
            parts.append(ACL.StatementProperty(not_statement=ACL.NotStatementProperty(
                statement=routes_statement(routes, stage))))
        rule = "LargeBodyOnlyWhereAllowed"
        return {
            "name": rule,
            "statement": _all(parts),
            "action": ACL.RuleActionProperty(block={}),
            "visibility_config": _visibility(f"{self.metric_prefix}-{rule}"),
        }
