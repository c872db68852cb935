"""Runtime code reads through keys and indexes: a Scan is a bug.

The one exception is DepHealth's monthly usage reset, a full-table sweep by
nature (SPEC §2), which lives alone in ``lambda_src/dephealth/monthly_reset.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

LAMBDA_SRC = Path(__file__).resolve().parents[2] / "lambda_src"
ALLOWED = {LAMBDA_SRC / "dephealth" / "monthly_reset.py"}


def scan_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("scan", "parallel_scan"):
                lines.append(node.lineno)
        if isinstance(node, ast.Constant) and node.value in ("Scan", "scan"):
            lines.append(node.lineno)
    return lines


def test_no_scan_in_runtime_code():
    offenders = {
        str(path.relative_to(LAMBDA_SRC)): lines
        for path in LAMBDA_SRC.rglob("*.py")
        if path not in ALLOWED and (lines := scan_calls(path))
    }
    assert offenders == {}


def test_detector_finds_a_scan(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f(c):\n    return c.scan(TableName='t')\n")
    assert scan_calls(sample) == [2]
