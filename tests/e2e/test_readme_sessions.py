"""The README's sessions, run as written against the deployment.

A session is a ``console`` block after a ``<!-- session: NAME -->`` comment:
lines starting with ``$ `` are commands (a trailing ``\\`` continues one), the
lines after a command are its expected output, and ``...`` in an expected
line matches anything. All commands of a session run in one bash, from the
repository root, with ``LOCAL_PORT`` pointing at the test's endpoint, so
``eval "$(make -s urls)"`` finds it.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field

import pytest

from tools.local.env import ROOT

pytestmark = pytest.mark.e2e

SESSION = re.compile(r"<!-- session: (?P<name>[\w-]+) -->\s*```console\n(?P<body>.*?)```", re.S)
MARK = "__readme_session_step__"


@dataclass
class Step:
    command: str
    expected: list[str] = field(default_factory=list)


def parse(body: str) -> list[Step]:
    steps: list[Step] = []
    lines = iter(body.splitlines())
    for line in lines:
        if line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\"):
                command = command[:-1] + "\n" + next(lines)
            steps.append(Step(command))
        elif steps:
            steps[-1].expected.append(line)
    return steps


def sessions() -> dict[str, list[Step]]:
    text = (ROOT / "README.md").read_text()
    return {m["name"]: parse(m["body"]) for m in SESSION.finditer(text)}


def matches(expected: str, actual: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, actual) is not None


def test_the_readme_has_the_sessions():
    assert {"kv", "dephealth", "iops"} <= set(sessions())


@pytest.mark.parametrize("name", sorted(sessions()))
def test_readme_session(deployment, name):
    steps = sessions()[name]
    script = "set -euo pipefail\n" + "".join(f"{s.command}\necho {MARK}\n" for s in steps)
    env = {**os.environ, "LOCAL_PORT": str(deployment.port)}
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(var, None)
    proc = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    outputs = proc.stdout.split(f"{MARK}\n")
    assert proc.returncode == 0 and len(outputs) == len(steps) + 1, (
        f"session {name} stopped at step {len(outputs)}: "
        f"{steps[min(len(outputs), len(steps)) - 1].command!r}\n{proc.stderr[-2000:]}")
    for step, output in zip(steps, outputs, strict=False):  # a short run is reported above
        actual = output.splitlines()
        assert len(actual) == len(step.expected) and all(map(matches, step.expected, actual)), (
            f"session {name}, `{step.command}`:\nexpected:\n" + "\n".join(step.expected)
            + "\nactual:\n" + "\n".join(actual))
