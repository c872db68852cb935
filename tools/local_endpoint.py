"""The embedded local AWS endpoint (``moto_server``): start, stop, find.

State lives under ``.local/`` (git-ignored): ``endpoint.json`` records the
pid and port of the server this tool started, ``moto_server.log`` its output.
Only a process recorded there is ever stopped, and only by its pid.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = ROOT / ".local"
STATE_FILE = STATE_DIR / "endpoint.json"
LOG_FILE = STATE_DIR / "moto_server.log"

ACCOUNT = "123456789012"
REGION = "us-east-1"
DEFAULT_PORT = 4566


class LocalError(RuntimeError):
    """An expected failure, reported as one line without a traceback."""


def endpoint_url(port: int) -> str:
    # "localhost", not 127.0.0.1: moto's CloudFormation reads the bucket of a
    # template URL out of its host name.
    return f"http://localhost:{port}"


def local_env(port: int, base: dict | None = None) -> dict[str, str]:
    """Environment that points the CDK CLI, boto3 and the aws CLI at the endpoint."""
    env = dict(os.environ if base is None else base)
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_DEFAULT_PROFILE"):
        env.pop(var, None)
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url(port),
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "CDK_DEFAULT_ACCOUNT": ACCOUNT,
            "CDK_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return env


def export_line(port: int) -> str:
    return (
        f"export AWS_ENDPOINT_URL={endpoint_url(port)} AWS_ACCESS_KEY_ID=test "
        f"AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION={REGION}"
    )


@dataclass
class Endpoint:
    pid: int
    port: int
    log: Path
    started: float

    @property
    def url(self) -> str:
        return endpoint_url(self.port)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers signal 0; /proc tells the truth on Linux.
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        return status != "Z"
    except OSError:
        return True


def _reap(pid: int) -> None:
    """Collect the exit status if the server is our own child (no zombie stays)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except (ChildProcessError, OSError):
        pass


def _is_moto(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return _pid_alive(pid)  # no /proc (macOS): trust the state file
    return "moto_server" in cmdline


def recorded(state_dir: Path = STATE_DIR) -> Endpoint | None:
    """The endpoint this tool started, if it is still running."""
    state_file = state_dir / "endpoint.json"
    try:
        data = json.loads(state_file.read_text())
        ep = Endpoint(int(data["pid"]), int(data["port"]), Path(data["log"]), float(data["started"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if _pid_alive(ep.pid) and _is_moto(ep.pid):
        return ep
    return None


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def is_ready(port: int, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint_url(port)}/moto-api/", timeout=timeout) as r:
            return r.status == 200
    except Exception:
        return False


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(state_dir: Path = STATE_DIR, timeout: float = 10.0) -> Endpoint | None:
    """Stop the endpoint this tool started (its process group, by pid)."""
    ep = recorded(state_dir)
    (state_dir / "endpoint.json").unlink(missing_ok=True)
    if ep is None:
        return None
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(ep.pid, sig)  # started with its own session: pgid == pid
        except ProcessLookupError:
            break
        except PermissionError:
            os.kill(ep.pid, sig)
        deadline = time.monotonic() + (timeout if sig == signal.SIGTERM else 3)
        while time.monotonic() < deadline and _pid_alive(ep.pid):
            _reap(ep.pid)
            time.sleep(0.05)
        if not _pid_alive(ep.pid):
            break
    _reap(ep.pid)
    return ep


def start(port: int, state_dir: Path = STATE_DIR, timeout: float = 30.0) -> Endpoint:
    """Start a fresh moto_server on ``port``; replace the one we started before."""
    stop(state_dir)
    if port_in_use(port):
        raise LocalError(
            f"port {port} is already in use by a process this tool did not start; "
            f"stop it or choose another port (LOCAL_PORT=... / --port)"
        )
    server = Path(sys.executable).parent / "moto_server"
    if not server.exists():
        raise LocalError(f"{server} not found: run `make install` (moto[server] is in requirements-dev.txt)")
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / "moto_server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(server), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=state_dir,
        )
    ep = Endpoint(proc.pid, port, log, time.time())
    (state_dir / "endpoint.json").write_text(
        json.dumps({"pid": ep.pid, "port": port, "log": str(log), "started": ep.started})
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            (state_dir / "endpoint.json").unlink(missing_ok=True)
            raise LocalError(f"moto_server exited with code {proc.returncode}:\n{log_tail(log)}")
        if is_ready(port):
            return ep
        time.sleep(0.1)
    stop(state_dir)
    raise LocalError(f"moto_server not ready on port {port} after {timeout:.0f}s:\n{log_tail(log)}")


def require_running(port: int | None, state_dir: Path = STATE_DIR) -> int:
    """The port of a reachable endpoint, or LocalError saying how to start one."""
    ep = recorded(state_dir)
    if port is None:
        port = ep.port if ep else DEFAULT_PORT
    if not is_ready(port):
        raise LocalError(
            f"no local endpoint answers on {endpoint_url(port)}: run `make deploy` first"
        )
    return port
