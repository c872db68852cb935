"""Handler cold imports measured on the bundles, as Lambda loads them.

Each product's bundle is built by the same code the CDK asset uses
(``constructs_lib.python_function.build_bundle``: sources, dependencies and
the shipped bytecode). Every figure is a fresh interpreter whose ``sys.path``
starts with the bundle alone (then the venv's boto3, which the runtime
provides), in an empty working directory, with ``PYTHONDONTWRITEBYTECODE``
set: like the read-only ``/var/task``, nothing compiled at import is kept for
the next start. The floor is ``import boto3; boto3.client("dynamodb")`` in
the same conditions.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FLOOR = "import boto3; boto3.client('dynamodb')"
_TIMER = "import time; t=time.process_time(); {body}; print(time.process_time()-t)"
_FIRST_CLIENT = "from lambda_src.common.aws_clients import dynamodb; dynamodb()"


def handler_modules(product_dir: Path) -> list[str]:
    """``lambda_src.<product>.<module>`` for each module of the product that defines a handler."""
    out = []
    for path in sorted(product_dir.glob("*.py")):
        text = path.read_text()
        if not path.name.startswith("_") and ("def handler(" in text or "handler = " in text):
            out.append(f"lambda_src.{product_dir.name}.{path.stem}")
    return out


def _env(bundle: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return {**env, "PYTHONPATH": str(bundle), "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_SERVICE_NAME": "bench"}


def _once(bundle: Path, body: str, cwd: str) -> float:
    out = subprocess.run([sys.executable, "-c", _TIMER.format(body=body)], cwd=cwd, env=_env(bundle),
                         capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def time_imports(bundle: Path, bodies: dict[str, str], runs: int) -> dict[str, float]:
    """Seconds per body: the fastest of ``runs`` fresh interpreters, the bodies interleaved.

    On a shared machine the other work only ever adds time, so the fastest
    run is the least disturbed one; interleaving exposes every body to the
    same disturbances.
    """
    samples: dict[str, list[float]] = {name: [] for name in bodies}
    with tempfile.TemporaryDirectory() as cwd:
        for _ in range(runs):
            for name, body in bodies.items():
                samples[name].append(_once(bundle, body, cwd))
    return {name: min(values) for name, values in samples.items()}


def import_profile(bundle: Path, module: str, top: int = 12) -> list[tuple[str, int]]:
    """The ``top`` modules by self time (µs) from ``python -X importtime``, first client included."""
    with tempfile.TemporaryDirectory() as cwd:
        err = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}; {_FIRST_CLIENT}"],
                             cwd=cwd, env=_env(bundle), capture_output=True, text=True, check=True).stderr
    rows = []
    for line in err.splitlines():
        if line.startswith("import time:") and "|" in line and "self [us]" not in line:
            self_us, _cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
            rows.append((name, int(self_us)))
    return sorted(rows, key=lambda r: -r[1])[:top]


def bundles(products: list[str] | None = None) -> dict[str, Path]:
    from constructs_lib.python_function import LAMBDA_SRC, build_bundle

    root = Path(tempfile.mkdtemp(prefix="bench-bundles-"))
    products = products or [p.name for p in sorted(LAMBDA_SRC.iterdir())
                            if p.is_dir() and p.name not in ("common", "__pycache__") and handler_modules(p)]
    return {p: build_bundle(p, root / p) for p in products}


def strip_bytecode(bundle: Path) -> Path:
    """A copy of ``bundle`` without its ``__pycache__`` folders: what the bundles were before."""
    import shutil

    copy = Path(tempfile.mkdtemp(prefix="bench-nopyc-")) / bundle.name
    shutil.copytree(bundle, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def measure(runs: int = 5, products: list[str] | None = None) -> dict:
    """Per handler: cold import + first client from the bundle (with and without its bytecode),
    against the floor measured alongside it in the same bundle's conditions."""
    built = bundles(products)
    rows = []
    floors = []
    for product, bundle in built.items():
        bare = strip_bytecode(bundle)
        for module in handler_modules(bundle / "lambda_src" / product):
            body = f"import {module}; {_FIRST_CLIENT}"
            shipped = time_imports(bundle, {"floor": FLOOR, "module": body}, runs)
            without = time_imports(bare, {"module": body}, runs)["module"]
            floors.append(shipped["floor"])
            rows.append({"module": module, "ms": shipped["module"] * 1000, "floor_ms": shipped["floor"] * 1000,
                         "ratio": shipped["module"] / shipped["floor"], "no_pyc_ms": without * 1000,
                         "no_pyc_ratio": without / shipped["floor"]})
    return {"floor_ms": statistics.median(floors) * 1000, "rows": rows, "bundles": built}


if __name__ == "__main__":
    result = measure(runs=int(sys.argv[1]) if len(sys.argv) > 1 else 5)
    print(f"floor {result['floor_ms']:.0f} ms")
    for row in result["rows"]:
        print(f"{row['module']:40s} {row['ms']:6.0f} ms {row['ratio']:.2f}  floor {row['floor_ms']:.0f}  "
              f"no pyc {row['no_pyc_ms']:.0f} ms {row['no_pyc_ratio']:.2f}")
