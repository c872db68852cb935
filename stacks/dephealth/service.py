"""DepHealth's stateless service: REST API, mail and collector queues, scheduled reset.

Five functions, each with its own role and exactly the DynamoDB actions its
code sends, on the table and index ARNs it touches (template tests pin them):

- ``AuthApi``      signup, verification and magic-link login; the two mail
  routes only count the request and queue it (``sqs:SendMessage``)
- ``Mailer``       the mail queue: signup and login work, then the mail, sent
  with SES (``ses:SendEmail`` on the sender identity only)
- ``PackagesApi``  package reads behind API-key quotas or the demo allowance
- ``CollectorDlqProcessor``  the collector queue, with bounded retries into
  ``FAILED#`` records
- ``MonthlyReset`` the usage reset, the only function allowed to Scan

The sender address comes from the ``mailFrom`` context key (default
``declarations.DEFAULT_MAIL_FROM``); that SES identity must be verified in the
account (or in the local emulator) before mail can go out.
"""

from __future__ import annotations

from typing import NamedTuple

from aws_cdk import Acknowledgment, CfnOutput, Duration, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from constructs_lib import queues
from constructs_lib.access import TableByName, grant
from constructs_lib.python_function import Invocation, PythonFunction
from constructs_lib.rest_api import ApiProtection, JsonRestApi
from constructs_lib.scheduled_target import ScheduledInvocation
from lambda_src.common.schema_types import KeyFormat
from lambda_src.dephealth import declarations, schema

from .data import DepHealthDataStack


class TableGrant(NamedTuple):
    """One statement of a function's policy: ``actions`` on a table, or on one of its indexes.

    ``keys``: the partition-key formats (record kinds) the actions are limited
    to, through ``dynamodb:LeadingKeys`` (see ``constructs_lib.access``);
    empty for the packages table, which holds one kind, and for index queries,
    whose leading key is the index's own partition key.
    """

    table: str
    actions: tuple[str, ...]
    keys: tuple[KeyFormat, ...] = ()
    index_name: str | None = None


_KEYS = schema.API_KEYS.alias
_PACKAGES = schema.PACKAGES.alias
# Per function, what its code sends (module: call). TransactWriteItems is
# authorized per element (PutItem / DeleteItem), each with its own key.
PERMISSIONS: dict[str, list[TableGrant]] = {
    "AuthApi": [
        # signup.verify: one transaction deletes the PENDING record and puts the key record.
        TableGrant(_KEYS, ("dynamodb:DeleteItem", "dynamodb:PutItem"), (schema.USER_PK,)),
        # magic_link.redeem: the key record; mail_requests -> rate_limits.mail_hit: the mail counter.
        TableGrant(_KEYS, ("dynamodb:UpdateItem",), (schema.USER_PK, schema.MAIL_PK)),
        # signup.verify reads the PENDING record; magic_link reads a user's records (user-records).
        TableGrant(_KEYS, ("dynamodb:GetItem", "dynamodb:Query"), (schema.USER_PK,)),
        TableGrant(_KEYS, ("dynamodb:Query",), index_name=schema.MAGIC_TOKEN_INDEX.name),
        TableGrant(_KEYS, ("dynamodb:Query",), index_name=schema.VERIFICATION_TOKEN_INDEX.name),
    ],
    "Mailer": [
        # signup.start: PENDING record; magic_link.request_link: token on the key record; both read user-records.
        TableGrant(_KEYS, ("dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"), (schema.USER_PK,)),
    ],
    "PackagesApi": [
        # quotas.consume: the key record's counter; rate_limits.demo_hit: the demo counter.
        TableGrant(_KEYS, ("dynamodb:UpdateItem",), (schema.USER_PK, schema.DEMO_PK)),
        TableGrant(_KEYS, ("dynamodb:Query",), index_name=schema.KEY_HASH_INDEX.name),
        TableGrant(_PACKAGES, ("dynamodb:BatchGetItem", "dynamodb:GetItem")),
        TableGrant(_PACKAGES, ("dynamodb:Query",), index_name=schema.RISK_LEVEL_INDEX.name),
    ],
    "CollectorDlqProcessor": [
        # dlq.store_failed: one transaction puts the FAILED record and its FAILED_MESSAGE marker.
        TableGrant(_KEYS, ("dynamodb:PutItem",), (schema.FAILED_PK, schema.FAILED_MESSAGE_PK)),
        # collector.apply: the package record.
        TableGrant(_PACKAGES, ("dynamodb:UpdateItem",)),
    ],
    "MonthlyReset": [
        # The checkpoint: read, started (PutItem) and advanced (UpdateItem).
        TableGrant(_KEYS, ("dynamodb:GetItem", "dynamodb:PutItem"), (schema.RESET_PK,)),
        # _checkpoint on the checkpoint, _reset_user on each key record.
        TableGrant(_KEYS, ("dynamodb:UpdateItem",), (schema.RESET_PK, schema.USER_PK)),
        # A Scan carries no leading key, so no key condition can bound it: read-only, in its own statement.
        TableGrant(_KEYS, ("dynamodb:Scan",)),
    ],
}
# The functions behind the public API: they get reserved concurrency (ApiProtection).
PUBLIC_API_FUNCTIONS = ("AuthApi", "PackagesApi")
# The queue consumers are bounded by their mappings' MaximumConcurrency (queues.consume acknowledges
# NIST LambdaConcurrency with it); the others by what invokes them, not by a reservation (checkov CKV_AWS_115).
QUEUE_MAX_CONCURRENCY = 5
CONCURRENCY_BOUNDED_BY = {
    "MonthlyReset": "Runs from an EventBridge schedule, hourly from 00:05 to 05:05 on the 1st, and checkpoints "
    "in SYSTEM#RESET_STATE; an overlapping run stops at the first page another run recorded.",
}

_EMAIL_MODEL = {
    "type": apigw.JsonSchemaType.OBJECT,
    "required": ["email"],
    "properties": {"email": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=3, max_length=254)},
}
_BATCH_MODEL = {
    "type": apigw.JsonSchemaType.OBJECT,
    "required": ["packages"],
    "properties": {"packages": apigw.JsonSchema(type=apigw.JsonSchemaType.ARRAY, min_items=1, max_items=1000)},
}
class DepHealthServiceStack(Stack):
    """Exposes ``functions`` (by id), ``api``, ``queue`` and ``dead_letter_queue``."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: str, data: DepHealthDataStack, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.stage = stage
        self.add_stack_dependency(data)
        self.protection = ApiProtection.from_context(self, stage=stage, product="dephealth")
        self.mail_from = self.node.try_get_context("mailFrom") or declarations.DEFAULT_MAIL_FROM
        self.tables = {
            spec.alias: TableByName(self, spec=spec, table_name=data.tables[spec.alias].table_name)
            for spec in schema.TABLES
        }
        env = {
            declarations.PACKAGES_TABLE_VAR: self.tables[schema.PACKAGES.alias].table_name,
            declarations.API_KEYS_TABLE_VAR: self.tables[schema.API_KEYS.alias].table_name,
        }
        self.functions = {
            "AuthApi": self._function("AuthApi", "auth_api.handler", "DepHealth signup, verification and login", env,
                                      invoked_by=Invocation.API),
            "Mailer": self._function("Mailer", "mail_worker.handler",
                                     "DepHealth mail queue: signup and login links, sent with SES",
                                     {**env, declarations.MAIL_FROM_VAR: self.mail_from}, timeout=30,
                                     invoked_by=Invocation.QUEUE),
            "PackagesApi": self._function("PackagesApi", "packages_api.handler",
                                          "DepHealth package reads (API key or demo)", env, memory=512,
                                          invoked_by=Invocation.API),
            "CollectorDlqProcessor": self._function(
                "CollectorDlqProcessor", "dlq.handler", "DepHealth collector queue: bounded retries, FAILED records",
                {**env, declarations.DLQ_MAX_ATTEMPTS_VAR: str(declarations.DLQ_MAX_ATTEMPTS)}, timeout=30,
                invoked_by=Invocation.QUEUE),
            "MonthlyReset": self._function("MonthlyReset", "monthly_reset.handler",
                                           "DepHealth monthly usage reset (checkpointed Scan)", env, timeout=900),
        }
        for fn_id, grants in PERMISSIONS.items():
            for g in grants:
                table = self.tables[g.table]
                if g.index_name:
                    grant(self.functions[fn_id], table, actions=g.actions, indexes=[g.index_name],
                          include_table=False)
                else:
                    grant(self.functions[fn_id], table, actions=g.actions, leading_keys=g.keys)

        for fn_id, reason in CONCURRENCY_BOUNDED_BY.items():
            Validations.of(self.functions[fn_id].function).acknowledge(
                Acknowledgment(id="NIST.800.53.R5-LambdaConcurrency", reason=reason))

        self._queue()
        self._mail()
        self._schedule(stage)
        self._api(stage)
        # Links in mail point at this API (after _api: the Mailer is not behind it, so no cycle).
        self.functions["Mailer"].function.add_environment(declarations.PUBLIC_BASE_URL_VAR, self.rest.url)
        for fn_id, fn in self.functions.items():
            CfnOutput(self, f"{fn_id}FunctionName", value=fn.function.function_name)

    def _function(self, fn_id: str, handler: str, description: str, env: dict, *, memory: int = 256,
                  timeout: int = 10, invoked_by: Invocation | None = None) -> PythonFunction:
        reserved = self.protection.reserved_concurrency if fn_id in PUBLIC_API_FUNCTIONS else None
        fn = PythonFunction(self, fn_id, product="dephealth", handler=handler, description=description,
                            stage=self.stage, invoked_by=invoked_by,
                            environment=env, memory_size=memory, timeout=Duration.seconds(timeout),
                            reserved_concurrent_executions=reserved)
        return fn

    def _queue(self) -> None:
        self.dead_letter_queue = queues.dead_letter_queue(
            self, "CollectorDeadLetterQueue", receives_from="collector queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
        )
        # The processor stores a FAILED record after DLQ_MAX_ATTEMPTS; the DLQ
        # only catches messages the processor itself could not handle.
        self.queue = queues.work_queue(
            self, "CollectorQueue", dead_letters=self.dead_letter_queue,
            max_receive_count=declarations.DLQ_MAX_ATTEMPTS + 2, visibility_timeout=Duration.seconds(180),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
        )
        queues.consume(self.functions["CollectorDlqProcessor"], self.queue, batch_size=10,
                       max_concurrency=QUEUE_MAX_CONCURRENCY, max_batching_window=Duration.seconds(5))
        CfnOutput(self, "CollectorQueueUrl", value=self.queue.queue_url)

    def _mail(self) -> None:
        self.mail_dead_letter_queue = queues.dead_letter_queue(
            self, "MailDeadLetterQueue", receives_from="mail queue", encryption=sqs.QueueEncryption.SQS_MANAGED,
        )
        self.mail_queue = queues.work_queue(
            self, "MailQueue", dead_letters=self.mail_dead_letter_queue, max_receive_count=5,
            visibility_timeout=Duration.seconds(180), encryption=sqs.QueueEncryption.SQS_MANAGED,
        )
        auth, mailer = self.functions["AuthApi"].function, self.functions["Mailer"].function
        auth.add_environment(declarations.MAIL_QUEUE_URL_VAR, self.mail_queue.queue_url)
        auth.add_to_role_policy(iam.PolicyStatement(actions=["sqs:SendMessage"],
                                                    resources=[self.mail_queue.queue_arn]))
        queues.consume(self.functions["Mailer"], self.mail_queue, batch_size=10, max_concurrency=QUEUE_MAX_CONCURRENCY)
        mailer.add_to_role_policy(iam.PolicyStatement(
            actions=["ses:SendEmail"],
            resources=[self.format_arn(service="ses", resource="identity", resource_name=self.mail_from)],
        ))
        CfnOutput(self, "MailQueueUrl", value=self.mail_queue.queue_url)
        CfnOutput(self, "MailFrom", value=self.mail_from, description="SES identity DepHealth mail is sent from")

    def _schedule(self, stage: str) -> None:
        # Hourly through the first hours of the 1st: a run resumes from the
        # checkpoint, and one after completion is a no-op. Failed runs land in
        # the schedule's dead-letter queue, which raises an alarm.
        self.reset_schedule = ScheduledInvocation(
            self, "MonthlyResetSchedule", stage=stage, function=self.functions["MonthlyReset"],
            description="DepHealth monthly usage reset, hourly through the first hours of the 1st",
            schedule=events.Schedule.cron(minute="5", hour="0-5", day="1", month="*", year="*"))

    def _api(self, stage: str) -> None:
        # No query strings in the access log (JsonRestApi's format): they carry login and verification tokens.
        self.rest = JsonRestApi(
            self, "Api", name=f"dephealth-{stage}", stage=stage, protection=self.protection,
            description="DepHealth dependency health API (x-api-key, or the demo allowance)",
            rate_limit=50, burst_limit=100,
            waf_off_reason="The web ACL is switched off for this stage (context waf=false; the dev default): "
            "stage throttling, per-tier quotas, the per-IP demo limit and the per-address mail limit "
            "bound abuse.",
        )
        self.api = self.rest.api
        self._routes()
        CfnOutput(self, "ApiUrl", value=self.rest.url)
        if self.rest.domain:
            CfnOutput(self, "ApiDomainTarget", value=self.rest.domain.domain_name_alias_domain_name,
                      description="Point the custom domain's DNS record (CNAME or alias) here")

    def _routes(self) -> None:
        model = self.rest.model

        def method(resource, verb, fn_id, *, no_authorizer, params=None, body=None, **waf):
            self.rest.method(resource, verb, apigw.LambdaIntegration(self.functions[fn_id].function, proxy=True),
                             no_authorizer=no_authorizer, params=params, body=body, **waf)

        public = ("Public by design: {what}. Abuse is bounded by the web ACL's tight per-IP rate rule, the "
                  "per-address mail limit and stage throttling.")
        token = ("Public by design: the caller proves itself with the one-time {what} token from its mail "
                 "(stored as SHA-256, single use, expiring); an unknown token gets 400.")
        api_key = ("The handler authenticates the x-api-key header against its SHA-256 in key-hash-index "
                   "(one Query, monthly quota per tier); without a key the request counts against the "
                   "per-IP demo allowance, under the web ACL's tight per-IP rate rule.")
        email = model("EmailModel", _EMAIL_MODEL)
        token_param = {"method.request.querystring.token": True}
        root = self.api.root
        method(root.add_resource("signup"), "POST", "AuthApi", body=email, tight_rate_limit=True,
               no_authorizer=public.format(what="signup asks for a verification mail"))
        method(root.add_resource("verify"), "GET", "AuthApi", params=token_param,
               no_authorizer=token.format(what="verification"))
        auth = root.add_resource("auth")
        method(auth.add_resource("magic-link"), "POST", "AuthApi", body=email, tight_rate_limit=True,
               no_authorizer=public.format(what="a login link is asked for by mail"))
        method(auth.add_resource("callback"), "GET", "AuthApi", params=token_param,
               no_authorizer=token.format(what="login"))

        key = {"method.request.header.x-api-key": False}
        demo = {"tight_rate_limit": True, "tight_unless_header": "x-api-key", "no_authorizer": api_key}
        packages = root.add_resource("packages")
        method(packages, "GET", "PackagesApi", params={**key, "method.request.querystring.risk_level": True,
                                                        "method.request.querystring.limit": False,
                                                        "method.request.querystring.cursor": False}, **demo)
        # A batch of up to 1000 names passes the web ACL's 8 KB body rule; the handler caps the body.
        method(packages.add_resource("batch"), "POST", "PackagesApi", params=key,
               body=model("BatchModel", _BATCH_MODEL), large_body=True, **demo)
        # {name+}: npm scoped names (@types/node) span two path segments.
        method(packages.add_resource("{ecosystem}").add_resource("{name+}"), "GET", "PackagesApi", params=key,
               **demo)
