"""A Python Lambda function bundled locally, without Docker.

The bundle holds ``lambda_src/common``, the one product package it serves and
the pure-Python runtime dependencies listed in ``lambda_src/requirements.txt``
(copied from the installed distributions, so synth needs no network). boto3
is not bundled: the Lambda runtime provides it.

The bundle ships bytecode for the runtime's Python. ``/var/task`` is
read-only, so without it every cold start compiles every module it imports
and throws the result away. The ``.pyc`` files are written for optimization
level 0 (Lambda runs ``python`` without ``-O``) and with unchecked-hash
invalidation: the interpreter loads them without comparing anything with the
source, so they stay valid whatever timestamps the asset zip gives the files.
The runtime is Python 3.11 because that is the Python the project bundles,
compiles and tests with: bytecode is version-specific, and a ``.pyc`` made by
another interpreter would be ignored by the runtime's.

Each function gets its own role with only what it needs: its own log group,
X-Ray, and whatever the stack grants through ``constructs_lib.access``.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from enum import Enum
from functools import cache
from importlib import metadata
from pathlib import Path

import jsii
from aws_cdk import (
    Acknowledgment,
    AssetHashType,
    BundlingOptions,
    DockerImage,
    Duration,
    ILocalBundling,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

LAMBDA_SRC = Path(__file__).resolve().parent.parent / "lambda_src"
RUNTIME = lambda_.Runtime.PYTHON_3_11
RUNTIME_PYTHON = (3, 11)  # the version RUNTIME runs; bytecode is compiled for it
PYC_OPTIMIZATION = 0  # Lambda starts the interpreter without -O
PYC_INVALIDATION = "unchecked-hash"
_PROVIDED_BY_RUNTIME = {"boto3", "botocore", "s3transfer", "urllib3", "python-dateutil", "six"}
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", "*.dist-info")


def _requirement_names(lines: list[str]) -> list[str]:
    names = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line and ";" not in line:
            names.append(re.split(r"[<>=!~\[ ]", line, maxsplit=1)[0])
    return names


def runtime_distributions() -> list[str]:
    """Distributions to bundle: lambda_src/requirements.txt and their dependencies."""
    wanted = _requirement_names((LAMBDA_SRC / "requirements.txt").read_text().splitlines())
    seen: list[str] = []
    while wanted:
        name = wanted.pop()
        key = name.lower().replace("_", "-")
        if key in seen or key in _PROVIDED_BY_RUNTIME:
            continue
        seen.append(key)
        for req in metadata.requires(name) or []:
            if "extra ==" not in req:
                wanted.append(_requirement_names([req.split(";")[0]])[0])
    return sorted(seen)


def copy_distribution(name: str, target: Path) -> None:
    """Copy an installed distribution's top-level packages/modules into ``target``."""
    dist = metadata.distribution(name)
    tops = set()
    for file in dist.files or []:
        first = file.parts[0]
        if first.endswith((".dist-info", ".egg-info")) or first in ("..", "bin", "__pycache__"):
            continue
        tops.add(first)
    base = Path(str(dist.locate_file("")))
    for top in sorted(tops):
        source = base / top
        if source.is_dir():
            shutil.copytree(source, target / top, ignore=_IGNORE, dirs_exist_ok=True)
        elif source.is_file() and source.suffix == ".py":
            shutil.copy2(source, target / top)


@cache
def bundle_hash(product: str) -> str:
    """A hash of everything ``build_bundle`` reads, known before bundling.

    With it as the asset hash, CDK skips bundling when ``cdk.out`` already
    holds this bundle (repeated ``make synth``), and any change to the
    product's code, ``common``, or a pinned runtime dependency changes it.
    """
    digest = hashlib.sha256()
    sources = [LAMBDA_SRC / "__init__.py", LAMBDA_SRC / "requirements.txt"]
    for part in ("common", product):
        sources += sorted(p for p in (LAMBDA_SRC / part).rglob("*")
                          if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    for path in sources:
        digest.update(path.relative_to(LAMBDA_SRC).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for dist in runtime_distributions():
        digest.update(f"{dist}=={metadata.version(dist)}\0".encode())
    digest.update(f"pyc cpython-{RUNTIME_PYTHON[0]}{RUNTIME_PYTHON[1]} opt{PYC_OPTIMIZATION} "
                  f"{PYC_INVALIDATION}\0".encode())
    return digest.hexdigest()


def runtime_interpreter() -> str:
    """A Python of the runtime's version to compile with: this one, or ``python3.X`` on PATH."""
    if sys.version_info[:2] == RUNTIME_PYTHON:
        return sys.executable
    name = f"python{RUNTIME_PYTHON[0]}.{RUNTIME_PYTHON[1]}"
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"bundling compiles bytecode for the Lambda runtime and needs {name} "
                           f"(this is Python {sys.version_info[0]}.{sys.version_info[1]})")
    return found


def compile_bytecode(bundle: Path, folder: Path | None = None) -> None:
    """Compile every module under ``folder`` (default: all of ``bundle``) as the runtime loads
    it from /var/task: code objects name ``/var/task/...`` paths."""
    subprocess.run(
        [runtime_interpreter(), "-m", "compileall", "-q", "-o", str(PYC_OPTIMIZATION),
         "--invalidation-mode", PYC_INVALIDATION, "-s", str(bundle), "-p", "/var/task", str(folder or bundle)],
        check=True, capture_output=True,
    )


@cache
def _compiled_dependencies() -> Path:
    """The runtime dependencies, copied and compiled once per process.

    Every product bundles the same dependencies at the same place under
    /var/task, so their bytecode is identical across bundles; a synth of the
    whole app compiles them once instead of once per product.
    """
    staging = Path(tempfile.mkdtemp(prefix="lambda-deps-"))
    for dist in runtime_distributions():
        copy_distribution(dist, staging)
    compile_bytecode(staging)
    return staging


def build_bundle(product: str, output_dir: Path) -> Path:
    """Write the bundle of ``product`` into ``output_dir`` and return it."""
    if not (LAMBDA_SRC / product).is_dir():
        raise ValueError(f"no runtime package lambda_src/{product}")
    package_dir = output_dir / "lambda_src"
    package_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(LAMBDA_SRC / "__init__.py", package_dir / "__init__.py")
    for part in ("common", product):
        shutil.copytree(LAMBDA_SRC / part, package_dir / part, ignore=_IGNORE, dirs_exist_ok=True)
    shutil.copytree(_compiled_dependencies(), output_dir, dirs_exist_ok=True)
    compile_bytecode(output_dir, package_dir)
    return output_dir


@jsii.implements(ILocalBundling)
class LocalBundler:
    """CDK local bundling hook: build the bundle in-process, never in Docker."""

    def __init__(self, product: str) -> None:
        self.product = product

    def try_bundle(self, output_dir: str, *, image, **_options) -> bool:  # noqa: D401
        build_bundle(self.product, Path(output_dir))
        return True


class Invocation(Enum):
    """Who invokes a function synchronously, and so where its failures go instead of a Lambda DLQ.

    Lambda's dead-letter queue (``DeadLetterConfig``) only receives failed
    *asynchronous* invocations; a function invoked only synchronously never
    sends anything there. Declaring the invoker acknowledges cdk-nag's DLQ
    rules on that one function with the reason below. Functions invoked
    asynchronously (the scheduled jobs) get a real DLQ from
    ``constructs_lib.scheduled_target`` instead.
    """

    API = "API Gateway invokes it synchronously; a failure is the caller's error response, and clients retry"
    QUEUE = ("only its SQS event source mapping invokes it (synchronously); a message that keeps failing is "
             "redriven to the queue's own dead-letter queue")
    STREAM = ("only its stream event source mapping invokes it (synchronously); a batch that keeps failing is "
              "described on the mapping's on-failure queue")


@dataclass(frozen=True)
class LogRetention:
    """How long a function's log group is kept, and whether it outlives its stack."""

    days: logs.RetentionDays
    removal: RemovalPolicy

    @classmethod
    def for_stage(cls, stage: str) -> LogRetention:
        """Prod keeps audit logs a year and past the stack; dev keeps a month and cleans up."""
        if stage == "prod":
            return cls(logs.RetentionDays.ONE_YEAR, RemovalPolicy.RETAIN)
        return cls(logs.RetentionDays.ONE_MONTH, RemovalPolicy.DESTROY)


DEFAULT_TIMEOUT_SECONDS = 10
LATEST_RUNTIME_REASON = (f"{RUNTIME.name} on purpose: the bundle ships bytecode compiled by, and is tested on, "
                         "the Python the project builds with (3.11); see docs/PERFORMANCE.md.")


class PythonFunction(Construct):
    """A product's Lambda function with secure, explicit defaults.

    ``stage`` decides how long its log group is kept (``LogRetention.for_stage``);
    ``invoked_by`` says who invokes it, when only something synchronous does.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        product: str,
        handler: str,
        description: str,
        stage: str,
        invoked_by: Invocation | None = None,
        environment: dict[str, str] | None = None,
        memory_size: int = 256,
        timeout: Duration | None = None,
        role: iam.Role | None = None,
        reserved_concurrent_executions: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_retention = LogRetention.for_stage(stage)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=self.log_retention.days,
            removal_policy=self.log_retention.removal,
        )
        self.role = role or iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {construct_id} ({product})",
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=f"lambda_src.{product}.{handler}",
            code=lambda_.Code.from_asset(
                str(LAMBDA_SRC / product),
                asset_hash_type=AssetHashType.CUSTOM,
                asset_hash=bundle_hash(product),
                bundling=BundlingOptions(
                    image=DockerImage.from_registry("local-bundling-only"),
                    local=LocalBundler(product),
                ),
            ),
            role=self.role,
            memory_size=memory_size,
            timeout=timeout or Duration.seconds(DEFAULT_TIMEOUT_SECONDS),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            reserved_concurrent_executions=reserved_concurrent_executions,
            environment={
                "POWERTOOLS_SERVICE_NAME": product,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **(environment or {}),
            },
        )
        self._depend_on_policy_only()
        self._acknowledge_xray()
        self._acknowledge_policy_choices()
        if invoked_by is not None:
            self._acknowledge_no_async_invocation(invoked_by)

    def _acknowledge_policy_choices(self) -> None:
        """The findings every function raises by design, each with its reason (docs/SECURITY.md)."""
        Validations.of(self.function).acknowledge(
            Acknowledgment(id="AwsSolutions-L1", reason=LATEST_RUNTIME_REASON),
            Acknowledgment(id="Serverless-LambdaLatestVersion", reason=LATEST_RUNTIME_REASON),
            Acknowledgment(
                id="NIST.800.53.R5-LambdaInsideVPC",
                reason="The function reaches only regional AWS APIs (DynamoDB, SQS, SES, SNS, Secrets Manager) "
                "over TLS with IAM; a VPC adds NAT or endpoints and ENI cold starts for no isolation gain.",
            ),
        )
        Validations.of(self.log_group).acknowledge(
            Acknowledgment(
                id="NIST.800.53.R5-CloudWatchLogGroupEncrypted",
                reason="CloudWatch Logs encrypts every log group at rest; the handlers log no secret "
                "(keys, tokens and addresses appear as hashes only), so a customer-managed key adds key "
                "policy and KMS cost without protecting a secret.",
            ),
        )

    def _acknowledge_no_async_invocation(self, invoked_by: Invocation) -> None:
        reason = f"{invoked_by.value}; Lambda's DLQ only receives failed asynchronous invocations."
        Validations.of(self.function).acknowledge(
            Acknowledgment(id="NIST.800.53.R5-LambdaDLQ", reason=reason),
            Acknowledgment(id="Serverless-LambdaDLQ", reason=reason),
        )

    def _depend_on_policy_only(self) -> None:
        """Keep the function's wait on its role policy, drop the redundant wait on the role.

        The function already references the role through ``Fn::GetAtt``, so an
        explicit ``DependsOn`` on the role is redundant (cfn-lint W3005); the one
        on the default policy is what makes the first invocation see its grants.
        """
        policy = self.role.node.try_find_child("DefaultPolicy")
        if policy is not None:
            cfn_policy = policy.node.default_child
            assert isinstance(cfn_policy, iam.CfnPolicy)
            self.cfn_function.add_override("DependsOn", [Stack.of(self).get_logical_id(cfn_policy)])

    def _acknowledge_xray(self) -> None:
        """X-Ray's PutTraceSegments / PutTelemetryRecords have no resource-level permissions.

        Tracing therefore needs Resource "*" on exactly those two actions; the
        acknowledgement names that one finding, and tests/infra/test_iam_wildcards.py
        fails if any DynamoDB action is granted on "*".
        """
        policy = self.role.node.try_find_child("DefaultPolicy")
        if policy is not None:
            Validations.of(policy).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-IAM5[Resource::*]",
                    reason="Only X-Ray PutTraceSegments/PutTelemetryRecords, which support only Resource '*'; "
                    "DynamoDB actions name table and index ARNs.",
                ),
                Acknowledgment(
                    id="NIST.800.53.R5-IAMNoInlinePolicy",
                    reason="The policy belongs to this function's own role and lives and dies with it: "
                    "exact actions on exact ARNs, pinned by the IAM template tests; a managed policy would "
                    "only be reusable by roles that must not have it.",
                ),
            )

    @property
    def cfn_function(self) -> lambda_.CfnFunction:
        """The ``AWS::Lambda::Function`` resource."""
        cfn = self.function.node.default_child
        assert isinstance(cfn, lambda_.CfnFunction)
        return cfn

    @property
    def grant_principal(self) -> iam.IPrincipal:
        return self.function.grant_principal

    @property
    def stack(self) -> Stack:
        return Stack.of(self)
