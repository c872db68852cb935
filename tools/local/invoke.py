"""``make invoke``: a deployed function, run with its deployed code and environment.

By default through the emulator's Lambda Invoke API, exactly as AWS runs it.
``--in-process`` imports the handler into this process instead (with the
environment read back from the deployed configuration), for a debugger.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from tools.local import env as local
from tools.local.env import ROOT, LocalError


def read_event(path: str | None) -> dict:
    """The event as a JSON object; one-line LocalError for anything else."""
    if not path:
        raise LocalError("--event FILE is required (a JSON event; '-' reads stdin)")
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        raise LocalError(f"cannot read event file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        raise LocalError(f"event file {path} is not UTF-8 text") from None
    try:
        event = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LocalError(f"event file {path} is not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(event, dict):
        raise LocalError(f"event file {path} holds a JSON {type(event).__name__}; a Lambda event is a JSON object")
    return event


def find_function(functions: list[dict], name: str, logical_ids: dict[str, str] | None = None) -> dict:
    """Exact name, else a unique substring of a function name or logical id."""
    for fn in functions:
        if fn["FunctionName"] == name:
            return fn
    logical_ids = logical_ids or {}
    needle = name.lower()
    hits = [
        fn for fn in functions
        if needle in fn["FunctionName"].lower() or needle in logical_ids.get(fn["FunctionName"], "").lower()
    ]
    if len(hits) == 1:
        return hits[0]
    names = sorted(fn["FunctionName"] for fn in (hits or functions))
    listing = "; ".join(names) or "none deployed"
    if hits:
        raise LocalError(f"function {name!r} is ambiguous: matches {listing}")
    raise LocalError(f"no function matches {name!r}; available: {listing}")


def _function_logical_ids(port: int) -> dict[str, str]:
    """Function name -> CloudFormation logical id, across every deployed stack."""
    cfn = local.client("cloudformation", port)
    out: dict[str, str] = {}
    for stack in cfn.describe_stacks().get("Stacks", []):
        for r in cfn.list_stack_resources(StackName=stack["StackName"]).get("StackResourceSummaries", []):
            if r.get("ResourceType") == "AWS::Lambda::Function" and r.get("PhysicalResourceId"):
                out[r["PhysicalResourceId"]] = r["LogicalResourceId"]
    return out


def resolve(port: int, name: str) -> dict:
    lam = local.client("lambda", port)
    functions: list[dict] = []
    for page in lam.get_paginator("list_functions").paginate():
        functions += page.get("Functions", [])
    return find_function(functions, name, _function_logical_ids(port))


def invoke(port: int, name: str, event: dict) -> tuple[Any, str]:
    """Invoke through the Lambda API: (the response payload, the log tail)."""
    fn = resolve(port, name)
    response = local.client("lambda", port).invoke(
        FunctionName=fn["FunctionName"], Payload=json.dumps(event).encode(), LogType="Tail"
    )
    raw = response["Payload"].read()
    logs = base64.b64decode(response.get("LogResult") or b"").decode(errors="replace")
    try:
        payload = json.loads(raw) if raw else None
    except ValueError:
        payload = raw.decode(errors="replace")
    if response.get("FunctionError"):
        detail = payload if isinstance(payload, dict) else {"errorMessage": str(payload)}
        kind = detail.get("errorType", response["FunctionError"])
        raise LocalError(f"{fn['FunctionName']} failed: {kind}: {detail.get('errorMessage', '')}".rstrip(": "))
    return payload, logs


class LambdaContext:
    """The attributes handlers commonly read from the Lambda context object."""

    def __init__(self, function: dict) -> None:
        self.function_name = function["FunctionName"]
        self.function_version = function.get("Version", "$LATEST")
        self.invoked_function_arn = function.get("FunctionArn", "")
        self.memory_limit_in_mb = int(function.get("MemorySize", 128))
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + int(function.get("Timeout", 3))

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def invoke_in_process(port: int, name: str, event: dict) -> Any:
    """Import the deployed function's handler here, with its deployed environment."""
    fn = resolve(port, name)
    config = local.client("lambda", port).get_function_configuration(FunctionName=fn["FunctionName"])
    handler = config.get("Handler") or ""
    module_name, _, attr = handler.rpartition(".")
    if not module_name:
        raise LocalError(f"{fn['FunctionName']} has handler {handler!r}, not module.function")
    env = {k: str(v) for k, v in (config.get("Environment") or {}).get("Variables", {}).items()}
    env.update(local.local_env(port, base={}))
    env.setdefault("AWS_LAMBDA_FUNCTION_NAME", fn["FunctionName"])
    os.environ.update(env)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    with contextlib.redirect_stdout(sys.stderr):  # handler logs to stderr; stdout is the response
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise LocalError(f"cannot import {module_name} (handler of {fn['FunctionName']}): {exc}") from exc
        func = getattr(module, attr, None)
        if not callable(func):
            raise LocalError(f"{module_name} has no callable {attr!r}")
        return func(event, LambdaContext(config))
