"""The local AWS target, MiniStack: start, stop, find.

MiniStack (PyPI ``ministack``, pinned in ``requirements-ministack.txt``) runs
in its own virtual environment, ``.venv-ministack``: it pins its own botocore,
and its Lambda workers import ``boto3`` from that environment as the Lambda
runtime provides it. It is started bound to 127.0.0.1 with the project's
account id, in a session of its own so that it and its Lambda workers stop
together.

State lives under ``.local/`` (git-ignored): ``endpoint-<port>.json`` records
the pid of the server this tool started on that port, ``ministack-<port>.log``
its output. Only a process recorded there is ever stopped, and only by its
pid; endpoints on other ports are left alone.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tools.local.env import ACCOUNT, DEFAULT_PORT, REGION, ROOT, STATE_DIR, LocalError, endpoint_url

MINISTACK_VENV = ROOT / ".venv-ministack"
MINISTACK = MINISTACK_VENV / "bin" / "ministack"


@dataclass
class Endpoint:
    pid: int
    port: int
    log: Path
    started: float

    @property
    def url(self) -> str:
        return endpoint_url(self.port)


def pid_alive(pid: int) -> bool:
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


def _is_ministack(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return pid_alive(pid)  # no /proc (macOS): trust the state file
    return "ministack" in cmdline


def state_file(state_dir: Path, port: int) -> Path:
    return state_dir / f"endpoint-{port}.json"


def recorded(state_dir: Path = STATE_DIR, port: int | None = None) -> Endpoint | None:
    """The endpoint this tool started on ``port`` (any port: the default first), if it still runs."""
    if port is None:
        files = sorted(state_dir.glob("endpoint-*.json"), key=lambda f: f.name != f"endpoint-{DEFAULT_PORT}.json")
        for file in files:
            ep = recorded(state_dir, int(file.stem.split("-")[1]))
            if ep is not None:
                return ep
        return None
    try:
        data = json.loads(state_file(state_dir, port).read_text())
        ep = Endpoint(int(data["pid"]), int(data["port"]), Path(data["log"]), float(data["started"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pid_alive(ep.pid) and _is_ministack(ep.pid):
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
        with urllib.request.urlopen(f"{endpoint_url(port)}/_ministack/health", timeout=timeout) as r:
            return r.status == 200 and b"dynamodb" in r.read()
    except Exception:
        return False


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(state_dir: Path = STATE_DIR, port: int | None = None, timeout: float = 10.0) -> Endpoint | None:
    """Stop the endpoint this tool started on ``port``, with its Lambda workers (its process group)."""
    ep = recorded(state_dir, port)
    if ep is None:
        if port is not None:
            state_file(state_dir, port).unlink(missing_ok=True)
        return None
    state_file(state_dir, ep.port).unlink(missing_ok=True)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(ep.pid, sig)  # started with its own session: pgid == pid
        except ProcessLookupError:
            break
        except PermissionError:
            os.kill(ep.pid, sig)
        deadline = time.monotonic() + (timeout if sig == signal.SIGTERM else 3)
        while time.monotonic() < deadline and (pid_alive(ep.pid) or _group_alive(ep.pid)):
            _reap(ep.pid)
            time.sleep(0.05)
        if not pid_alive(ep.pid) and not _group_alive(ep.pid):
            break
    _reap(ep.pid)
    return ep


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def start(port: int, state_dir: Path = STATE_DIR, timeout: float = 60.0) -> Endpoint:
    """Start a fresh MiniStack on ``port``; replace the one this tool started before.

    Nothing half-started stays: on any failure the process group is stopped.
    """
    stop(state_dir, port)
    if port_in_use(port):
        raise LocalError(
            f"port {port} is already in use by a process this tool did not start; "
            f"stop it or choose another port (LOCAL_PORT=... / --port)"
        )
    if not MINISTACK.exists():
        raise LocalError(f"{MINISTACK.relative_to(ROOT)} not found: run `make install` (requirements-ministack.txt)")
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / f"ministack-{port}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "BIND_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
        "MINISTACK_ACCOUNT_ID": ACCOUNT,
        "MINISTACK_REGION": REGION,
        "PATH": f"{MINISTACK_VENV / 'bin'}:{env.get('PATH', '')}",
        "TMPDIR": str(_tmpdir(state_dir)),
    })
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(MINISTACK)], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=state_dir, env=env,
        )
    ep = Endpoint(proc.pid, port, log, time.time())
    state_file(state_dir, port).write_text(
        json.dumps({"pid": ep.pid, "port": port, "log": str(log), "started": ep.started})
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            stop(state_dir, port)
            first = _first_error(log) or f"exit code {proc.returncode}"
            raise LocalError(f"MiniStack did not start on port {port}: {first} (log {log})")
        if is_ready(port):
            return ep
        time.sleep(0.1)
    stop(state_dir, port)
    raise LocalError(f"MiniStack not ready on port {port} after {timeout:.0f}s (log {log})")


def _tmpdir(state_dir: Path) -> Path:
    path = state_dir / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _first_error(log: Path) -> str | None:
    for line in reversed(log_tail(log, 40).splitlines()):
        if "Error" in line or "error" in line:
            return line.strip()[:300]
    return None


def require_running(port: int | None, state_dir: Path = STATE_DIR) -> int:
    """The port of a reachable endpoint, or LocalError saying how to start one."""
    ep = recorded(state_dir)
    if port is None:
        port = ep.port if ep else DEFAULT_PORT
    if not is_ready(port):
        raise LocalError(f"no local endpoint answers on {endpoint_url(port)}: run `make deploy` first")
    return port
