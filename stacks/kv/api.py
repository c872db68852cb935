"""KV storage's stateless service: REST API -> one Lambda function -> the KV table.

Kept apart from ``KvDataStack`` so the API can be rebuilt or removed without
touching data. The function gets exactly the DynamoDB actions its code sends,
on the table ARN and the GSI1 ARN only.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnOutput, Duration, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from constructs_lib.access import TableByName, grant
from constructs_lib.python_function import PythonFunction
from constructs_lib.rest_api import JsonRestApi

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
        # The HMAC key of paging cursors: generated at deploy time, never in the template.
        self.cursor_secret = secretsmanager.Secret(
            self, "CursorSecret",
            description="KV storage: HMAC key that makes paging cursors tamper-evident",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, password_length=64),
        )
        Validations.of(self.cursor_secret).acknowledge(
            Acknowledgment(id="AwsSolutions-SMG4",
                           reason="The cursor HMAC key only signs paging positions; rotating it would "
                           "invalidate open cursors for no gain (a leak reveals no data, ownership "
                           "is still checked on every page)."),
        )
        self.function = PythonFunction(
            self,
            "ApiHandler",
            product="kv",
            handler="api.handler",
            description="KV storage HTTP API: users, namespaces and keys",
            environment={
                "TABLE_NAME": data.schema_table.table_name,
                "GSI_NAME": data.gsi_name,
                "KV_READ_FLUSH_EVERY": str(read_flush_every),
                "KV_CURSOR_HMAC_ARN": self.cursor_secret.secret_arn,
            },
            memory_size=512,
            timeout=Duration.seconds(10),
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
            waf_reason="Stage throttling and per-plan caps bound abuse; a WAF web ACL is "
            "attached per account where one exists, not created per product.",
            auth_reason="Callers authenticate with their own API key, checked by the handler "
            "against its SHA-256 in GSI1 (one Query); signup is public by design.",
        )
        self.api = self.rest_api.api
        self._routes()
        CfnOutput(self, "ApiUrl", value=self.api.url)
        CfnOutput(self, "FunctionName", value=self.function.function.function_name)

    def _routes(self) -> None:
        api = self.rest_api
        integration = apigw.LambdaIntegration(self.function.function, proxy=True)
        key_header = {"method.request.header.x-api-key": True}

        def method(resource, verb, *, params=None, body=None):
            api.method(resource, verb, integration, params={**key_header, **(params or {})}, body=body)

        api.method(api.root.add_resource("users"), "POST", integration, body=api.model("SignupModel", _USER_MODEL))
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
        method(key, "PUT", params={"method.request.header.If-Match": False},
               body=api.model("PutKeyModel", _PUT_KEY_MODEL))
        method(key, "DELETE", params={"method.request.header.If-Match": False})
