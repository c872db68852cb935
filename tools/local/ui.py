"""``make ui``: dynamodb-admin (npm, pinned in package.json) against the local endpoint.

A person browses and edits the local tables at http://127.0.0.1:8001.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request

from tools.local.endpoint import port_in_use
from tools.local.env import REGION, ROOT, LocalError, endpoint_url

UI_PORT = 8001
BIN = ROOT / "node_modules" / ".bin" / "dynamodb-admin"


def command(ui_port: int) -> list[str]:
    return [str(BIN), "--host", "127.0.0.1", "--port", str(ui_port)]


def ui_env(port: int) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "DYNAMO_ENDPOINT": endpoint_url(port),
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    })
    return env


def start(port: int, ui_port: int = UI_PORT, timeout: float = 30.0) -> subprocess.Popen:
    """Start dynamodb-admin in the background and wait until it answers."""
    if not BIN.exists():
        raise LocalError("dynamodb-admin not installed: run `make install`")
    if port_in_use(ui_port):
        raise LocalError(f"port {ui_port} is already in use; choose another (UI_PORT=...)")
    proc = subprocess.Popen(command(ui_port), env=ui_env(port), cwd=ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = (proc.stderr.read() if proc.stderr else b"").decode(errors="replace").strip().splitlines()
            raise LocalError(f"dynamodb-admin exited: {err[-1] if err else proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/api/tables", timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    proc.wait()
    raise LocalError(f"dynamodb-admin did not answer on port {ui_port} within {timeout:.0f}s")
