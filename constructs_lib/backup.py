"""AWS Backup for a stack's tables: daily, kept 35 days, in a vault of the stack's own.

PITR restores a table to any second of the last 35 days, but only while the
table exists and only inside the same account; a backup in a vault outlives a
deleted table and is managed apart from it (its own retention, its own
deletion guard). Prod data stacks use both.

The selection sits in the same stack as the tables it names (cdk-nag's
NIST.800.53.R5-DynamoDBInBackupPlan looks for it there, and a data stack stays
deployable on its own). The vault is encrypted with the AWS-managed
``aws/backup`` key (SPEC: AWS-managed keys), is retained when the stack goes,
and refuses manual deletion of recovery points, so only the 35-day lifecycle
removes them.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from constructs import Construct

KEEP = Duration.days(35)
# 03:00 UTC, after the scheduled jobs of the night (IOps recompute 00:15, DepHealth reset 00:05-05:05 on the 1st).
DAILY = events.Schedule.cron(minute="0", hour="3")
# AWS Backup's own service-role policy, attached to the role the selection assumes.
SERVICE_ROLE_POLICY = "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/" \
    "AWSBackupServiceRolePolicyForBackup]"


class TableBackups(Construct):
    """A vault, a daily plan kept ``KEEP`` and a selection of exactly ``tables``."""

    def __init__(self, scope: Construct, construct_id: str, *, tables: Sequence[dynamodb.ITable]) -> None:
        super().__init__(scope, construct_id)
        if not tables:
            raise ValueError("a backup plan needs at least one table")
        name = f"{Stack.of(self).stack_name}-tables"
        self.vault = backup.BackupVault(
            self, "Vault", backup_vault_name=name, removal_policy=RemovalPolicy.RETAIN,
            block_recovery_point_deletion=True,
        )
        self.plan = backup.BackupPlan(
            self, "Plan", backup_plan_name=name, backup_vault=self.vault,
            backup_plan_rules=[backup.BackupPlanRule(rule_name="Daily", schedule_expression=DAILY, delete_after=KEEP)],
        )
        self.selection = self.plan.add_selection(
            "Tables", resources=[backup.BackupResource.from_dynamo_db_table(table) for table in tables],
        )
        Validations.of(self.selection.node.find_child("Role")).acknowledge(
            Acknowledgment(id=SERVICE_ROLE_POLICY,
                           reason="AWS Backup's own service-role policy for taking backups, maintained by AWS "
                           "as the service changes; the role is assumable by backup.amazonaws.com only."),
        )
