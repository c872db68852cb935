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

The bundling output is one zip per function, which CDK stages as it is (a
folder of a few thousand small files costs more to write, walk and zip again
at deploy than the zip costs to make). Finished zips are kept in
``.cache/bundles/<key>/`` (``$LAMBDA_BUNDLE_CACHE`` moves the cache, ``off``
disables it), so a synth into a fresh output folder copies one file per
product instead of copying and compiling everything again. The key covers
every input of a bundle: the product's and ``common``'s sources, the exact
files of each runtime dependency (their ``RECORD``), the exact interpreter
that compiles the bytecode, and this module's own code. An entry is used only
while its zip still has the SHA-256 recorded when it was written; otherwise
it is rebuilt.

Each function gets its own role with only what it needs: its own log group,
X-Ray, and whatever the stack grants through ``constructs_lib.access``.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
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
BUNDLE_CACHE_ENV = "LAMBDA_BUNDLE_CACHE"
DEFAULT_BUNDLE_CACHE = LAMBDA_SRC.parent / ".cache" / "bundles"
BUNDLE_CACHE_KEEP = 3  # entries kept per product: the current one and a few to switch branches back to
_MANIFEST = "manifest.json"
_ARCHIVE = "bundle.zip"


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
    atexit.register(shutil.rmtree, staging, True)
    for dist in runtime_distributions():
        copy_distribution(dist, staging)
    compile_bytecode(staging)
    return staging


def _write_product_part(product: str, output_dir: Path) -> None:
    """``lambda_src/__init__.py``, ``common`` and the product package, compiled, under ``output_dir``."""
    if not (LAMBDA_SRC / product).is_dir():
        raise ValueError(f"no runtime package lambda_src/{product}")
    package_dir = output_dir / "lambda_src"
    package_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(LAMBDA_SRC / "__init__.py", package_dir / "__init__.py")
    for part in ("common", product):
        shutil.copytree(LAMBDA_SRC / part, package_dir / part, ignore=_IGNORE, dirs_exist_ok=True)
    compile_bytecode(output_dir, package_dir)


def build_bundle(product: str, output_dir: Path) -> Path:
    """Write the bundle of ``product`` into ``output_dir`` as a folder and return it."""
    _write_product_part(product, output_dir)
    shutil.copytree(_compiled_dependencies(), output_dir, dirs_exist_ok=True)
    return output_dir


_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can hold: the archive depends on content alone


def _zip_folders(folders: list[Path], archive: Path) -> None:
    """One zip of the files under ``folders`` (merged; a path in two of them is an error), in path
    order, with fixed timestamps and each file's permission bits, so equal content gives equal bytes."""
    files: dict[str, Path] = {}
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                name = path.relative_to(folder).as_posix()
                if name in files:
                    raise ValueError(f"{name} is in two parts of the bundle")
                files[name] = path
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | stat.S_IMODE(files[name].stat().st_mode)) << 16
            out.writestr(info, files[name].read_bytes())


def build_bundle_archive(product: str, archive: Path) -> Path:
    """Write the bundle of ``product`` as one zip (what Lambda receives) and return its path.

    The zip is written straight from the shared compiled dependencies and the
    product's own compiled code, without assembling a folder of a few thousand
    files first; CDK stages a bundling output that is a single archive as is,
    and nothing zips it again at deploy.
    """
    with tempfile.TemporaryDirectory(prefix="lambda-product-") as tmp:
        _write_product_part(product, Path(tmp))
        _zip_folders([Path(tmp), _compiled_dependencies()], archive)
    return archive


def bundle_cache_dir() -> Path | None:
    """Where finished bundles are kept between synths, or None when ``$LAMBDA_BUNDLE_CACHE`` is ``off``."""
    value = os.environ.get(BUNDLE_CACHE_ENV)
    if value is None:
        return DEFAULT_BUNDLE_CACHE
    if value.strip().lower() in ("", "off", "0", "false", "no"):
        return None
    return Path(value)


@cache
def _compiler_identity() -> str:
    """The exact interpreter that compiles the bytecode: its version and its bytecode magic number."""
    interpreter = runtime_interpreter()
    if interpreter == sys.executable:
        return f"{sys.version} {importlib.util.MAGIC_NUMBER.hex()}"
    return subprocess.run(
        [interpreter, "-c", "import sys, importlib.util; print(sys.version, importlib.util.MAGIC_NUMBER.hex())"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()


def _distribution_fingerprint(name: str) -> str:
    """A distribution's version and a digest of its installed files (pip's ``RECORD`` lists each
    file's hash), so that other content under the same version number is told apart."""
    dist = metadata.distribution(name)
    digest = hashlib.sha256()
    record = dist.read_text("RECORD")
    if record is not None:
        digest.update(record.encode())
    else:  # installed without a RECORD: hash the files themselves
        for file in sorted(dist.files or [], key=str):
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                digest.update(str(file).encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{name}=={dist.version} {digest.hexdigest()}"


def bundle_cache_key(product: str) -> str:
    """Everything that decides the bytes of ``product``'s bundle.

    ``bundle_hash`` (the asset hash) covers the sources, the dependency
    versions and the bytecode settings; the key adds what may differ between
    machines without changing what is deployed: the dependencies' exact files,
    the exact compiling interpreter, and this module (the code that builds
    bundles).
    """
    digest = hashlib.sha256()
    digest.update(f"{product}\0{bundle_hash(product)}\0{_compiler_identity()}\0".encode())
    for dist in runtime_distributions():
        digest.update(_distribution_fingerprint(dist).encode() + b"\0")
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()


def _file_digest(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _verified_entry(entry: Path) -> Path | None:
    """The entry's archive if its bytes are exactly those recorded when it was written, else None."""
    archive = entry / _ARCHIVE
    try:
        recorded = json.loads((entry / _MANIFEST).read_text())["sha256"]
        if _file_digest(archive) != recorded:
            return None
        os.utime(entry / _MANIFEST)  # last use, for pruning
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return archive


_ENTRY_NAME = re.compile(r"[0-9a-f]{64}")
_UNFINISHED_NAME = re.compile(r"\.[0-9a-f]{16}-")


def _prune(cache_dir: Path, product: str) -> None:
    """Keep the ``BUNDLE_CACHE_KEEP`` most recently used entries of ``product``, and remove what
    a synth that stopped midway left (unfinished entries older than an hour). Only names the
    cache itself writes are touched, wherever ``$LAMBDA_BUNDLE_CACHE`` points."""
    entries: list[tuple[float, Path]] = []
    for entry in cache_dir.iterdir():
        try:
            if _UNFINISHED_NAME.match(entry.name):
                if entry.stat().st_mtime < time.time() - 3600:
                    shutil.rmtree(entry, ignore_errors=True)
            elif _ENTRY_NAME.fullmatch(entry.name):
                manifest = json.loads((entry / _MANIFEST).read_text())
                if manifest.get("product") == product:
                    entries.append(((entry / _MANIFEST).stat().st_mtime, entry))
        except (OSError, ValueError):  # removed meanwhile, or damaged: cached_bundle never uses it
            continue
    for _, entry in sorted(entries, reverse=True)[BUNDLE_CACHE_KEEP:]:
        shutil.rmtree(entry, ignore_errors=True)


def cached_bundle(product: str, cache_dir: Path) -> Path:
    """``product``'s bundle archive from the cache, built into it first when missing or damaged.

    An entry is written under a temporary name and renamed into place once
    complete, so a synth that stops midway leaves nothing that looks finished;
    an entry whose archive no longer matches its recorded digest is deleted
    and rebuilt, never used.
    """
    key = bundle_cache_key(product)
    entry = cache_dir / key
    for _ in range(2):
        found = _verified_entry(entry)
        if found is not None:
            return found
        shutil.rmtree(entry, ignore_errors=True)
        cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key[:16]}-", dir=cache_dir))
        try:
            build_bundle_archive(product, staging / _ARCHIVE)
            manifest = {"product": product, "asset_hash": bundle_hash(product), "compiler": _compiler_identity(),
                        "sha256": _file_digest(staging / _ARCHIVE)}
            (staging / _MANIFEST).write_text(json.dumps(manifest, indent=1))
            os.rename(staging, entry)
            _prune(cache_dir, product)
            return entry / _ARCHIVE
        except OSError:
            if not entry.is_dir():  # not a concurrent synth that finished the same entry first
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    raise RuntimeError(f"bundle cache entry {entry} could not be written and verified")


def bundle_into(product: str, output_dir: Path) -> Path:
    """Put ``product``'s bundle archive into ``output_dir`` (CDK's bundling output), through the
    cache unless it is off; return the archive's path."""
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / _ARCHIVE
    cache_dir = bundle_cache_dir()
    if cache_dir is None:
        return build_bundle_archive(product, target)
    shutil.copyfile(cached_bundle(product, cache_dir), target)
    return target


@jsii.implements(ILocalBundling)
class LocalBundler:
    """CDK local bundling hook: build the bundle in-process, never in Docker."""

    def __init__(self, product: str) -> None:
        self.product = product

    def try_bundle(self, output_dir: str, *, image, **_options) -> bool:  # noqa: D401
        bundle_into(self.product, Path(output_dir))
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
