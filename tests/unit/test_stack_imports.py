"""The infrastructure packages import one way, at module level, without cycles.

``app -> stacks/<product>/ -> constructs_lib/ -> lambda_src/*/schema``: every
product package holds its data stack, its service stacks and its ``build()``,
so nothing needs an import inside a function to dodge a cycle. A fresh
interpreter imports each module on its own (a cycle shows as an ImportError
on a partially initialised module, whichever module is imported first).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = [ROOT / "app.py", *sorted((ROOT / "stacks").rglob("*.py")), *sorted((ROOT / "constructs_lib").rglob("*.py"))]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("path", INFRA, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_function_level_imports(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    nested = [
        f"{path.name}:{node.lineno}"
        for fn in ast.walk(tree)
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(fn)
        if isinstance(node, (ast.Import, ast.ImportFrom))
    ]
    assert nested == [], f"imports inside functions: {nested}"


def test_every_infrastructure_module_imports_first_without_a_cycle() -> None:
    modules = [_module_name(p) for p in INFRA if p.name != "app.py"]
    # In file order and in reverse: a cycle fails in one of the two orders,
    # whichever module of the cycle comes first.
    script = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    for order in (modules, list(reversed(modules))):
        done = subprocess.run([sys.executable, "-c", script, *order], cwd=ROOT, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
