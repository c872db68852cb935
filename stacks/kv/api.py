"""KV storage's stateless service: REST API -> one Lambda function -> the KV table.

Kept apart from ``KvDataStack`` so the API can be rebuilt or removed without
touching data. The function gets exactly the DynamoDB actions its code sends,
on the table ARN and the GSI1 ARN only. Every item of the table has one of
four partition-key kinds (``USER#`` users and memberships, ``NS#``
namespaces and keys, ``EMAIL#`` email claims, ``SIGNUP#`` signup counters)
and this one function writes every one of them (``users``, ``namespaces``,
``keys``, ``usage``), so a ``dynamodb:LeadingKeys`` condition would list
them all and restrict nothing: there is none.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnOutput, Duration, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from constructs_lib.access import TableByName, grant
from constructs_lib.python_function import Invocation, PythonFunction
from constructs_lib.rest_api import ApiProtection, JsonRestApi
from lambda_src.kv import declarations

from .data import KvDataStack

# TransactWriteItems is authorized per element: Put/Update/Delete/ConditionCheck.
TABLE_ACTIONS = (
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
)
INDEX_ACTIONS = ("dynamodb:Query",)

_USER_MODEL = {
    "type": apigw.JsonSchemaType.OBJECT,
    "required": ["email"],
    "properties": {
        "email": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, max_length=320),
    },
    # Plans are set by the server (free at signup) and changed by an operator;
    # a "plan" field reaches the handler, which answers 400 plan_not_allowed.
}
_PUT_KEY_MODEL = {
    "type": apigw.JsonSchemaType.OBJECT,
    "required": ["value"],
    "properties": {
        "ttl": apigw.JsonSchema(type=apigw.JsonSchemaType.INTEGER, minimum=1),
    },
}


class KvApiStack(Stack):
    """Exposes ``function`` and ``api``."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: str, data: KvDataStack,
                 read_flush_every: int, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.protection = ApiProtection.from_context(self, stage=stage, product="kv")
        # The HMAC key of paging cursors: generated at deploy time, never in the template.
        self.cursor_secret = secretsmanager.Secret(
            self, "CursorSecret",
            description="KV storage: HMAC key that makes paging cursors tamper-evident",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, password_length=64),
        )
        no_rotation = ("The cursor HMAC key only signs paging positions; rotating it would invalidate open "
                       "cursors for no gain (a leak reveals no data, ownership is still checked on every page).")
        Validations.of(self.cursor_secret).acknowledge(
            Acknowledgment(id="AwsSolutions-SMG4", reason=no_rotation),
            Acknowledgment(id="NIST.800.53.R5-SecretsManagerRotationEnabled", reason=no_rotation),
            Acknowledgment(id="NIST.800.53.R5-SecretsManagerUsingKMSKey",
                           reason="Encrypted with the AWS-managed Secrets Manager key; only this function's role "
                           "may read it (resource-scoped GetSecretValue). A customer-managed key would add a key "
                           "policy and per-read KMS cost for a value that protects no stored data."),
        )
        self.function = PythonFunction(
            self,
            "ApiHandler",
            product="kv",
            handler="api.handler",
            description="KV storage HTTP API: users, namespaces and keys",
            stage=stage,
            invoked_by=Invocation.API,
            environment={
                declarations.TABLE_NAME_VAR: data.schema_table.table_name,
                declarations.GSI_NAME_VAR: data.gsi_name,
                declarations.READ_FLUSH_EVERY_VAR: str(read_flush_every),
                declarations.CURSOR_SECRET_ARN_VAR: self.cursor_secret.secret_arn,
            },
            memory_size=512,
            timeout=Duration.seconds(10),
            reserved_concurrent_executions=self.protection.reserved_concurrency,
        )
        self.add_stack_dependency(data)
        self.cursor_secret.grant_read(self.function.function)
        table = TableByName(self, spec=data.schema_table.spec, table_name=data.schema_table.table_name)
        grant(self.function, table, actions=TABLE_ACTIONS)
        grant(self.function, table, actions=INDEX_ACTIONS,
              indexes=[data.gsi_name], include_table=False)

        self.rest_api = JsonRestApi(
            self, "Api",
            name=f"kv-storage-{stage}",
            stage=stage,
            description="KV storage API (authenticated by the x-api-key header)",
            rate_limit=100,
            burst_limit=200,
            protection=self.protection,
            waf_off_reason="The web ACL is switched off for this stage (context waf=false; the dev default): "
            "stage throttling, the per-IP signup limit and per-plan request and storage caps bound abuse.",
        )
        self.api = self.rest_api.api
        self._routes()
        CfnOutput(self, "ApiUrl", value=self.rest_api.url)
        if self.rest_api.domain:
            CfnOutput(self, "ApiDomainTarget", value=self.rest_api.domain.domain_name_alias_domain_name,
                      description="Point the custom domain's DNS record (CNAME or alias) here")
        CfnOutput(self, "FunctionName", value=self.function.function.function_name)

    def _routes(self) -> None:
        api = self.rest_api
        integration = apigw.LambdaIntegration(self.function.function, proxy=True)
        key_header = {"method.request.header.x-api-key": True}
        keyed = ("The handler authenticates the required x-api-key header against its SHA-256 in GSI1 "
                 "(one Query) and checks that the caller owns the namespace, with per-plan request and "
                 "storage caps.")

        def method(resource, verb, *, params=None, body=None, large_body=False):
            api.method(resource, verb, integration, params={**key_header, **(params or {})}, body=body,
                       no_authorizer=keyed, large_body=large_body)

        api.method(api.root.add_resource("users"), "POST", integration, body=api.model("SignupModel", _USER_MODEL),
                   tight_rate_limit=True,
                   no_authorizer="Signup is public by design: it creates the caller's API key. The handler "
                   "limits signups per source IP, under the web ACL's tight per-IP rate rule.")
        method(api.root.add_resource("me"), "GET")
        namespaces = api.root.add_resource("namespaces")
        method(namespaces, "GET", params={"method.request.querystring.limit": False,
                                          "method.request.querystring.cursor": False})
        namespace = namespaces.add_resource("{ns}")
        method(namespace, "PUT")
        method(namespace, "DELETE", params={"method.request.querystring.force": False})
        keys = namespace.add_resource("keys")
        method(keys, "GET", params={"method.request.querystring.prefix": False,
                                    "method.request.querystring.limit": False,
                                    "method.request.querystring.cursor": False})
        key = keys.add_resource("{key+}")
        method(key, "GET")
        # Values reach 390 KB (validation.VALUE_MAX_BYTES): past the web ACL's 8 KB body rule; the handler caps it.
        method(key, "PUT", params={"method.request.header.If-Match": False},
               body=api.model("PutKeyModel", _PUT_KEY_MODEL), large_body=True)
        method(key, "DELETE", params={"method.request.header.If-Match": False})
