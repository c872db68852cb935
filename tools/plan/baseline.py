"""Both sides of a plan: the working tree's templates and a baseline's.

A baseline is a git ref's source tree, extracted with ``git archive`` into a
temporary directory and synthesized there with this checkout's venv, or the
templates of the stacks deployed on a target (CloudFormation GetTemplate).

For reuse (the rehearsal deploys the base version before the working tree)::

    with base_tree("v1.2.0") as base:      # Baseline
        base.commit                         # full sha
        base.tree                           # extracted tree, .venv and node_modules linked
        base.templates                      # {stage: {stack name: template}}

``synthesize(tree)`` synthesizes any tree (the working tree is ``ROOT``).
Every expected failure raises ``PlanError`` with a one-line reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("dev", "prod")
SYNTH_SCRIPT = Path(__file__).resolve().with_name("synth_tree.py")
# What synthesis reads: when none of it differs from the base, neither do the templates.
SYNTH_INPUTS = ("app.py", "cdk.json", "stacks", "constructs_lib", "lambda_src")
CACHE_DIR = ROOT / ".local" / "plan-cache"
CACHE_ENTRIES = 16
LINKED = (".venv", "node_modules")
SYNTH_TIMEOUT = 300


class PlanError(RuntimeError):
    """An expected failure, reported as one line on stderr."""


Templates = dict[str, dict[str, dict]]  # stage -> stack name -> template


@dataclass
class Baseline:
    ref: str
    commit: str
    tree: Path | None
    templates: Templates


# -- git -----------------------------------------------------------------------


def _git(*args: str, root: Path = ROOT, check: bool = True) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PlanError(f"git {args[0]} failed: {exc}") from exc
    if check and proc.returncode != 0:
        reason = proc.stderr.decode(errors="replace").strip().splitlines()
        raise PlanError(f"git {args[0]} failed: {reason[-1] if reason else proc.returncode}")
    return proc


def default_ref(root: Path = ROOT) -> str:
    """``main``; ``origin/main`` in a clone without a local main; ``HEAD`` in one without either."""
    for ref in ("main", "origin/main", "HEAD"):
        if _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", root=root, check=False).returncode == 0:
            return ref
    raise PlanError("no commit to compare with (not a git checkout?): give a base with BASE=<git ref>")


def resolve(ref: str, root: Path = ROOT) -> str:
    """A git ref -> its full commit sha; PlanError when there is no such commit."""
    if not ref or ref.startswith("-"):
        raise PlanError(f"base ref {ref!r} is not a git ref")
    proc = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", root=root, check=False)
    if proc.returncode != 0:
        raise PlanError(f"base ref {ref!r} does not name a commit in this repository")
    return proc.stdout.decode().strip()


def same_synth_inputs(commit: str, root: Path = ROOT) -> bool:
    """True when the working tree's synth inputs equal the commit's (tracked and untracked)."""
    diff = _git("diff", "--quiet", commit, "--", *SYNTH_INPUTS, root=root, check=False)
    if diff.returncode not in (0, 1):
        raise PlanError("git diff failed: " + diff.stderr.decode(errors="replace").strip())
    if diff.returncode == 1:
        return False
    untracked = _git("ls-files", "--others", "--exclude-standard", "--", *SYNTH_INPUTS, root=root)
    return not untracked.stdout.strip()


def extract(commit: str, dest: Path, root: Path = ROOT) -> Path:
    """The commit's tree under ``dest``, with this checkout's .venv and node_modules linked."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = _git("archive", "--format=tar", commit, root=root)
    with tempfile.TemporaryFile() as fh:
        fh.write(archive.stdout)
        fh.seek(0)
        with tarfile.open(fileobj=fh) as tar:
            tar.extractall(dest, filter="data")
    for name in LINKED:
        source = root / name
        if source.exists() and not (dest / name).exists():
            (dest / name).symlink_to(source.resolve())
    return dest


# -- synthesis -----------------------------------------------------------------


def synthesize(tree: Path, stages: Sequence[str] = STAGES) -> Templates:
    """Synthesize ``tree``'s app for ``stages`` in one subprocess."""
    return _finish(_start(tree, stages), tree)


@dataclass
class _Running:
    proc: subprocess.Popen
    out: Path
    workdir: str


def _start(tree: Path, stages: Sequence[str]) -> _Running:
    workdir = tempfile.mkdtemp(prefix="plan-")
    out = Path(workdir) / "templates.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update({"CDK_VALIDATION": "false", "TMPDIR": workdir})
    proc = subprocess.Popen(
        [sys.executable, str(SYNTH_SCRIPT), str(tree), str(out), *stages],
        cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    return _Running(proc, out, workdir)


def _finish(running: _Running, tree: Path) -> Templates:
    try:
        try:
            _, err = running.proc.communicate(timeout=SYNTH_TIMEOUT)
        except subprocess.TimeoutExpired:
            running.proc.kill()
            running.proc.communicate()
            raise PlanError(f"synthesis of {tree} took more than {SYNTH_TIMEOUT} s") from None
        if running.proc.returncode != 0 or not running.out.exists():
            lines = [line for line in err.decode(errors="replace").splitlines() if line.strip()]
            raise PlanError(lines[-1].strip() if lines else f"exit status {running.proc.returncode}")
        return json.loads(running.out.read_text())
    finally:
        shutil.rmtree(running.workdir, ignore_errors=True)


def _cache_key(commit: str, stages: Sequence[str]) -> str:
    versions = []
    for dist in ("aws-cdk-lib", "cdk-nag", "constructs"):
        try:
            versions.append(f"{dist}={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist}=none")
    # The app reads the target environment from these; both sides see the same values.
    env = [f"{var}={os.environ.get(var, '')}" for var in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION")]
    raw = "|".join([commit, sys.version, *versions, *env, *stages])
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def _cached(commit: str, stages: Sequence[str]) -> Templates | None:
    path = CACHE_DIR / f"{_cache_key(commit, stages)}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _store(commit: str, stages: Sequence[str], templates: Templates) -> None:
    path = CACHE_DIR / f"{_cache_key(commit, stages)}.json"
    with contextlib.suppress(OSError):
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(templates))
        tmp.replace(path)
        entries = sorted(CACHE_DIR.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[CACHE_ENTRIES:]:
            old.unlink(missing_ok=True)


@contextlib.contextmanager
def base_tree(
    ref: str | None = None,
    *,
    root: Path = ROOT,
    stages: Sequence[str] = STAGES,
    keep: Path | None = None,
) -> Iterator[Baseline]:
    """The base version: its extracted tree (removed on exit unless ``keep``) and templates."""
    ref = ref or default_ref(root)
    commit = resolve(ref, root)
    tree = keep or Path(tempfile.mkdtemp(prefix="plan-base-"))
    try:
        extract(commit, tree, root)
        templates = _cached(commit, stages)
        if templates is None:
            try:
                templates = synthesize(tree, stages)
            except PlanError as exc:
                raise PlanError(f"base {ref} ({commit[:12]}) cannot be synthesized: {exc}") from None
            _store(commit, stages, templates)
        yield Baseline(ref, commit, tree, templates)
    finally:
        if keep is None:
            shutil.rmtree(tree, ignore_errors=True)


def both_sides(
    ref: str,
    commit: str,
    *,
    root: Path = ROOT,
    stages: Sequence[str] = STAGES,
    use_cache: bool = True,
) -> tuple[Templates, Templates]:
    """(base, working tree) templates; the two syntheses run side by side.

    With ``use_cache``, a commit's templates are read from and kept in
    ``.local/plan-cache``, and so are the working tree's when its synth inputs
    equal HEAD's. Without it, both sides are synthesized afresh.
    """
    head_commit = None
    if use_cache:
        head_sha = _git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", root=root, check=False)
        sha = head_sha.stdout.decode().strip()
        if head_sha.returncode == 0 and same_synth_inputs(sha, root):
            head_commit = sha
    base = _cached(commit, stages) if use_cache else None
    head = _cached(head_commit, stages) if head_commit else None
    head_run = _start(root, stages) if head is None else None
    tree = None
    try:
        if base is None:
            tree = extract(commit, Path(tempfile.mkdtemp(prefix="plan-base-")), root)
            try:
                base = _finish(_start(tree, stages), tree)
            except PlanError as exc:
                raise PlanError(f"base {ref} ({commit[:12]}) cannot be synthesized: {exc}") from None
            if use_cache:
                _store(commit, stages, base)
        if head_run is not None:
            try:
                head = _finish(head_run, root)
            except PlanError as exc:
                raise PlanError(f"the working tree cannot be synthesized: {exc}") from None
            if head_commit:
                _store(head_commit, stages, head)
        assert head is not None, "the working tree's templates are cached or synthesized above"
        return base, head
    finally:
        if head_run is not None:
            if head_run.proc.poll() is None:
                head_run.proc.kill()
                head_run.proc.communicate()
            shutil.rmtree(head_run.workdir, ignore_errors=True)
        if tree is not None:
            shutil.rmtree(tree, ignore_errors=True)


# -- deployed stacks -----------------------------------------------------------

PROJECT_TAG = ("project", "dynamodb-data-layer")
REGION = "us-east-1"


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def cloudformation_client(target: str, port: int):
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"})
    if target == "local":
        if not _port_open(port):
            raise PlanError(
                f"the local target is not running on http://localhost:{port} "
                "(start it with make deploy, or give LOCAL_PORT)"
            )
        return boto3.client(
            "cloudformation",
            endpoint_url=f"http://localhost:{port}",
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=config,
        )
    return boto3.client("cloudformation", config=config)


def deployed(
    target: str, port: int, head: Templates, client=None
) -> Templates:
    """The deployed templates of this app's stacks, grouped by stage like ``head``.

    A stack is this app's when its name is one the working tree synthesizes,
    or when it carries the project tag (a stack the working tree no longer has).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    client = client or cloudformation_client(target, port)
    stage_of = {name: stage for stage, stacks in head.items() for name in stacks}
    where = f"http://localhost:{port}" if target == "local" else "the AWS account"
    out: Templates = {}
    try:
        for page in client.get_paginator("describe_stacks").paginate():
            for stack in page["Stacks"]:
                if stack.get("StackStatus") in ("DELETE_COMPLETE", "REVIEW_IN_PROGRESS"):
                    continue
                name = stack["StackName"]
                tags = {t["Key"]: t["Value"] for t in stack.get("Tags") or []}
                stage = stage_of.get(name)
                if stage is None and tags.get(PROJECT_TAG[0]) == PROJECT_TAG[1]:
                    stage = tags.get("stage")
                if stage is None:
                    continue
                body = client.get_template(StackName=name, TemplateStage="Original")["TemplateBody"]
                out.setdefault(stage, {})[name] = _template(body, name)
    except (BotoCoreError, ClientError) as exc:
        raise PlanError(f"cannot read the deployed stacks from {where}: {exc}") from None
    return out


def _template(body, name: str) -> dict:
    if isinstance(body, dict):
        return json.loads(json.dumps(body))
    try:
        return json.loads(body)
    except ValueError:
        raise PlanError(f"stack {name}: the deployed template is not JSON") from None
