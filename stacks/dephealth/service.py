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

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from constructs_lib import queues
from constructs_lib.access import TableByName, grant
from constructs_lib.python_function import PythonFunction
from constructs_lib.rest_api import JsonRestApi
from lambda_src.dephealth import declarations, schema

from .data import DepHealthDataStack

# Per function: (table alias, actions on the table, {index: actions}).
# TransactWriteItems is authorized per element (PutItem / DeleteItem).
PERMISSIONS: dict[str, list[tuple[str, tuple[str, ...], dict[str, tuple[str, ...]]]]] = {
    "AuthApi": [
        (schema.API_KEYS.alias,
         ("dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"),
         {schema.MAGIC_TOKEN_INDEX.name: ("dynamodb:Query",),
          schema.VERIFICATION_TOKEN_INDEX.name: ("dynamodb:Query",)}),
    ],
    "Mailer": [
        (schema.API_KEYS.alias, ("dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"), {}),
    ],
    "PackagesApi": [
        (schema.API_KEYS.alias, ("dynamodb:UpdateItem",), {schema.KEY_HASH_INDEX.name: ("dynamodb:Query",)}),
        (schema.PACKAGES.alias, ("dynamodb:BatchGetItem", "dynamodb:GetItem"),
         {schema.RISK_LEVEL_INDEX.name: ("dynamodb:Query",)}),
    ],
    "CollectorDlqProcessor": [
        (schema.API_KEYS.alias, ("dynamodb:PutItem",), {}),
        (schema.PACKAGES.alias, ("dynamodb:UpdateItem",), {}),
    ],
    "MonthlyReset": [
        (schema.API_KEYS.alias, ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:UpdateItem"), {}),
    ],
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
        self.add_stack_dependency(data)
        self.mail_from = self.node.try_get_context("mailFrom") or declarations.DEFAULT_MAIL_FROM
        self.tables = {
            spec.alias: TableByName(self, spec=spec, table_name=data.tables[spec.alias].table_name) for spec in schema.TABLES
        }
        env = {
            "PACKAGES_TABLE": self.tables[schema.PACKAGES.alias].table_name,
            "API_KEYS_TABLE": self.tables[schema.API_KEYS.alias].table_name,
        }
        self.functions = {
            "AuthApi": self._function("AuthApi", "auth_api.handler", "DepHealth signup, verification and login", env),
            "Mailer": self._function("Mailer", "mail_worker.handler",
                                     "DepHealth mail queue: signup and login links, sent with SES",
                                     {**env, "MAIL_FROM": self.mail_from}, timeout=30),
            "PackagesApi": self._function("PackagesApi", "packages_api.handler",
                                          "DepHealth package reads (API key or demo)", env, memory=512),
            "CollectorDlqProcessor": self._function(
                "CollectorDlqProcessor", "dlq.handler", "DepHealth collector queue: bounded retries, FAILED records",
                {**env, "DLQ_MAX_ATTEMPTS": str(declarations.DLQ_MAX_ATTEMPTS)}, timeout=30),
            "MonthlyReset": self._function("MonthlyReset", "monthly_reset.handler",
                                           "DepHealth monthly usage reset (checkpointed Scan)", env, timeout=900),
        }
        for fn_id, grants in PERMISSIONS.items():
            for alias, table_actions, index_actions in grants:
                table = self.tables[alias]
                grant(self.functions[fn_id], table, actions=table_actions)
                for index, actions in index_actions.items():
                    grant(self.functions[fn_id], table, actions=actions, indexes=[index], include_table=False)

        self._queue()
        self._mail()
        self._schedule()
        self._api(stage)
        # Links in mail point at this API (after _api: the Mailer is not behind it, so no cycle).
        self.functions["Mailer"].function.add_environment("PUBLIC_BASE_URL", self.api.url)
        for fn_id, fn in self.functions.items():
            CfnOutput(self, f"{fn_id}FunctionName", value=fn.function.function_name)

    def _function(self, fn_id: str, handler: str, description: str, env: dict, *, memory: int = 256,
                  timeout: int = 10) -> PythonFunction:
        fn = PythonFunction(self, fn_id, product="dephealth", handler=handler, description=description,
                            environment=env, memory_size=memory, timeout=Duration.seconds(timeout))
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
        self.functions["CollectorDlqProcessor"].function.add_event_source(
            sources.SqsEventSource(self.queue, batch_size=10, report_batch_item_failures=True,
                                   max_batching_window=Duration.seconds(5))
        )
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
        auth.add_environment("MAIL_QUEUE_URL", self.mail_queue.queue_url)
        auth.add_to_role_policy(iam.PolicyStatement(actions=["sqs:SendMessage"],
                                                    resources=[self.mail_queue.queue_arn]))
        mailer.add_event_source(sources.SqsEventSource(self.mail_queue, batch_size=10,
                                                       report_batch_item_failures=True))
        mailer.add_to_role_policy(iam.PolicyStatement(
            actions=["ses:SendEmail"],
            resources=[self.format_arn(service="ses", resource="identity", resource_name=self.mail_from)],
        ))
        CfnOutput(self, "MailQueueUrl", value=self.mail_queue.queue_url)
        CfnOutput(self, "MailFrom", value=self.mail_from, description="SES identity DepHealth mail is sent from")

    def _schedule(self) -> None:
        # Hourly through the first hours of the 1st: a run resumes from the
        # checkpoint, and one after completion is a no-op.
        rule = events.Rule(self, "MonthlyResetSchedule",
                           schedule=events.Schedule.cron(minute="5", hour="0-5", day="1", month="*", year="*"))
        rule.add_target(targets.LambdaFunction(self.functions["MonthlyReset"].function, retry_attempts=2))

    def _api(self, stage: str) -> None:
        # No query strings in the access log (JsonRestApi's format): they carry login and verification tokens.
        self.rest = JsonRestApi(
            self, "Api", name=f"dephealth-{stage}", stage=stage,
            description="DepHealth dependency health API (x-api-key, or the demo allowance)",
            rate_limit=50, burst_limit=100,
            auth_reason="Callers authenticate with their API key, checked by the handler against "
            "its SHA-256 in key-hash-index; signup, login and the demo are public by design.",
            waf_reason="Stage throttling, per-tier quotas and the demo limit bound abuse; a WAF "
            "web ACL is attached per account, not created per product.",
        )
        self.api = self.rest.api
        self._routes()
        CfnOutput(self, "ApiUrl", value=self.api.url)

    def _routes(self) -> None:
        model = self.rest.model

        def method(resource, verb, fn_id, *, params=None, body=None):
            self.rest.method(resource, verb, apigw.LambdaIntegration(self.functions[fn_id].function, proxy=True),
                             params=params, body=body)

        email = model("EmailModel", _EMAIL_MODEL)
        token = {"method.request.querystring.token": True}
        root = self.api.root
        method(root.add_resource("signup"), "POST", "AuthApi", body=email)
        method(root.add_resource("verify"), "GET", "AuthApi", params=token)
        auth = root.add_resource("auth")
        method(auth.add_resource("magic-link"), "POST", "AuthApi", body=email)
        method(auth.add_resource("callback"), "GET", "AuthApi", params=token)

        key = {"method.request.header.x-api-key": False}
        packages = root.add_resource("packages")
        method(packages, "GET", "PackagesApi", params={**key, "method.request.querystring.risk_level": True,
                                                        "method.request.querystring.limit": False,
                                                        "method.request.querystring.cursor": False})
        method(packages.add_resource("batch"), "POST", "PackagesApi", params=key,
               body=model("BatchModel", _BATCH_MODEL))
        # {name+}: npm scoped names (@types/node) span two path segments.
        method(packages.add_resource("{ecosystem}").add_resource("{name+}"), "GET", "PackagesApi", params=key)
