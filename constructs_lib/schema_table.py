"""A DynamoDB table built from a ``TableSpec``: the one place table defaults live.

Defaults: on-demand billing (or provisioned with target-tracking auto scaling
when asked), SSE with the AWS-managed KMS key, a resource policy that refuses
non-TLS requests, and stage-aware protection (prod: RETAIN, deletion
protection and PITR; dev: what the spec declares).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Acknowledgment, RemovalPolicy, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from lambda_src.common.schema_types import Attr, TableSpec

_ATTR_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_PROJECTIONS = {
    "ALL": dynamodb.ProjectionType.ALL,
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
    "INCLUDE": dynamodb.ProjectionType.INCLUDE,
}
_ENCRYPTION = {
    "AWS_MANAGED": dynamodb.TableEncryption.AWS_MANAGED,
    "AWS_OWNED": dynamodb.TableEncryption.DEFAULT,
}


@dataclass(frozen=True)
class ProvisionedCapacity:
    """Provisioned mode with target-tracking auto scaling, for table and GSIs."""

    min_capacity: int = 5
    max_capacity: int = 100
    target_utilization_percent: int = 70


def _attribute(attr: Attr) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=attr.name, type=_ATTR_TYPES[attr.type])


class SchemaTable(Construct):
    """An ``aws_dynamodb.Table`` that says exactly what its ``TableSpec`` says."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: TableSpec,
        stage: str,
        table_name: str | None = None,
        provisioned: ProvisionedCapacity | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        self.table_name = table_name or spec.table_name(stage)
        protection = spec.protection(stage)

        billing_mode = dynamodb.BillingMode.PROVISIONED if provisioned else dynamodb.BillingMode.PAY_PER_REQUEST
        start_capacity = provisioned.min_capacity if provisioned else None

        self.table = dynamodb.Table(
            self,
            "Table",
            table_name=self.table_name,
            partition_key=_attribute(spec.partition),
            sort_key=_attribute(spec.sort) if spec.sort else None,
            encryption=_ENCRYPTION[spec.encryption],
            time_to_live_attribute=spec.ttl_attribute,
            stream=dynamodb.StreamViewType[spec.stream] if spec.stream else None,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=protection.pitr
            ),
            deletion_protection=protection.deletion_protection,
            removal_policy=RemovalPolicy.RETAIN if protection.retain else RemovalPolicy.DESTROY,
            billing_mode=billing_mode,
            read_capacity=start_capacity,
            write_capacity=start_capacity,
        )
        for index in spec.indexes:
            self.table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_attribute(index.partition),
                sort_key=_attribute(index.sort) if index.sort else None,
                projection_type=_PROJECTIONS[index.projection],
                non_key_attributes=list(index.non_key_attributes) or None,
                read_capacity=provisioned.min_capacity if provisioned else None,
                write_capacity=provisioned.min_capacity if provisioned else None,
            )
        if provisioned:
            self._auto_scale(provisioned)
        self._require_tls()
        if not protection.pitr:
            reason = (f"{spec.alias} in stage {stage}: the schema declares PITR off "
                      "(disposable dev data, or short-lived records that expire through TTL).")
            Validations.of(self.cfn_table).acknowledge(
                Acknowledgment(id="AwsSolutions-DDB3", reason=reason),
                Acknowledgment(id="NIST.800.53.R5-DynamoDBPITREnabled", reason=reason),
            )

    @property
    def cfn_table(self) -> dynamodb.CfnTable:
        """The ``AWS::DynamoDB::Table`` resource, where table-level findings are acknowledged."""
        cfn = self.table.node.default_child
        assert isinstance(cfn, dynamodb.CfnTable)
        return cfn

    @property
    def table_arn(self) -> str:
        return self.table.table_arn

    def index_arn(self, index_name: str) -> str:
        self.spec.index(index_name)  # fails loudly on a name the spec does not declare
        return f"{self.table.table_arn}/index/{index_name}"

    def _auto_scale(self, capacity: ProvisionedCapacity) -> None:
        bounds = {"min_capacity": capacity.min_capacity, "max_capacity": capacity.max_capacity}
        target = capacity.target_utilization_percent
        self.table.auto_scale_read_capacity(**bounds).scale_on_utilization(
            target_utilization_percent=target
        )
        self.table.auto_scale_write_capacity(**bounds).scale_on_utilization(
            target_utilization_percent=target
        )
        for index in self.spec.indexes:
            self.table.auto_scale_global_secondary_index_read_capacity(
                index.name, **bounds
            ).scale_on_utilization(target_utilization_percent=target)
            self.table.auto_scale_global_secondary_index_write_capacity(
                index.name, **bounds
            ).scale_on_utilization(target_utilization_percent=target)

    def _require_tls(self) -> None:
        """Refuse any request to the table or its indexes that is not over TLS."""
        arn = Stack.of(self).format_arn(
            service="dynamodb", resource="table", resource_name=self.table_name
        )
        self.table.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyInsecureTransport",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["dynamodb:*"],
                resources=[arn, f"{arn}/index/*"],
                conditions={"Bool": {"aws:SecureTransport": "false"}},
            )
        )
