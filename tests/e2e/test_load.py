"""`make load`, short: Locust against the deployed APIs, then every counter checked exactly."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tools.local.env import ROOT

pytestmark = pytest.mark.e2e


def test_load_has_no_server_errors_and_no_counter_drift(deployment):
    proc = subprocess.run(
        [sys.executable, "-m", "tools.load", "--port", str(deployment.port), "--users", "6", "--seconds", "15"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert "| route | requests |" in proc.stdout, proc.stderr[-2000:]
    assert "Responses >= 500: 0. Counter drift: 0." in proc.stdout, proc.stdout[-3000:]
    assert proc.returncode == 0, proc.stderr[-2000:]
    for route in ("GET /namespaces/{ns}/keys/{key}", "GET /packages/{ecosystem}/{name}", "GET floor"):
        assert route in proc.stdout
