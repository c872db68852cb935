"""The pinned CDK CLI (``npx --no-install cdk``), run as a user runs it.

Output goes to a log file; a failure raises ``LocalError`` with the log's
tail, and a run that outlives its timeout is stopped with its children.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from tools.local.endpoint import log_tail
from tools.local.env import ROOT, LocalError

CDK = ["npx", "--no-install", "cdk"]


def cdk_env(base: dict[str, str]) -> dict[str, str]:
    env = dict(base)
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    env.setdefault("CDK_DISABLE_VERSION_CHECK", "1")
    env.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")
    return env


def start_cdk(args: list[str], env: dict[str, str], log: Path, *, cwd: Path = ROOT) -> subprocess.Popen:
    """Start the CDK CLI in the background, output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(CDK + args)}\n".encode())
        out.flush()
        try:
            return subprocess.Popen(
                CDK + args, cwd=cwd, env=cdk_env(env), stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise LocalError("npx not found: install Node.js, then `make install`") from exc


def kill_tree(proc: subprocess.Popen) -> None:
    """Stop a CLI run and the processes it started (its own session, by pid)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
    proc.wait()


def wait_cdk(proc: subprocess.Popen, args: list[str], log: Path, *, timeout: float = 600) -> None:
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        kill_tree(proc)
        raise LocalError(f"cdk {args[0]} timed out after {timeout:.0f}s:\n{log_tail(log, 30)}") from exc
    if code != 0:
        raise LocalError(f"cdk {args[0]} failed (exit {code}); tail of {log}:\n{log_tail(log, 30)}")


def run_cdk(args: list[str], env: dict[str, str], log: Path, *, timeout: float = 600, cwd: Path = ROOT) -> None:
    wait_cdk(start_cdk(args, env, log, cwd=cwd), args, log, timeout=timeout)


def exec_cdk(args: list[str], env: dict[str, str], *, cwd: Path = ROOT) -> int:
    """Run the CLI in the foreground, its output to the terminal; its exit code."""
    try:
        return subprocess.call(CDK + args, cwd=cwd, env=cdk_env(env))
    except FileNotFoundError as exc:
        raise LocalError("npx not found: install Node.js, then `make install`") from exc


def context_args(context: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for key, value in context.items():
        args += ["-c", f"{key}={value}"]
    return args
