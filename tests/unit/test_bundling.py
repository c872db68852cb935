"""The local Lambda bundle, its bytecode, and the hash that lets CDK reuse it."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from constructs_lib import python_function
from constructs_lib.python_function import LAMBDA_SRC, build_bundle


@pytest.fixture
def source_copy(tmp_path, monkeypatch):
    copy = tmp_path / "lambda_src"
    shutil.copytree(LAMBDA_SRC, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(python_function, "LAMBDA_SRC", copy)
    return copy


def fresh_hash(product: str) -> str:
    return python_function.bundle_hash.__wrapped__(product)


def test_hash_follows_the_product_and_common_code_only(source_copy):
    kv = fresh_hash("kv")
    assert kv == fresh_hash("kv")
    (source_copy / "dephealth" / "auth_api.py").write_text("# another product changed\n", "utf-8")
    assert fresh_hash("kv") == kv
    with (source_copy / "common" / "api.py").open("a", encoding="utf-8") as f:
        f.write("\n# a shared module changed\n")
    assert fresh_hash("kv") != kv
    changed = fresh_hash("kv")
    (source_copy / "kv" / "new_module.py").write_text("VALUE = 1\n", "utf-8")
    assert fresh_hash("kv") != changed


def test_hash_follows_the_runtime_requirements(source_copy):
    before = fresh_hash("iops")
    with (source_copy / "requirements.txt").open("a", encoding="utf-8") as f:
        f.write("\n# pinned set changed\n")
    assert fresh_hash("iops") != before


def test_bundle_holds_the_product_common_and_runtime_dependencies_but_not_boto3(tmp_path):
    out = build_bundle("kv", tmp_path / "bundle")
    assert (out / "lambda_src" / "kv" / "api.py").is_file()
    assert (out / "lambda_src" / "common" / "aws_clients.py").is_file()
    assert not (out / "lambda_src" / "dephealth").exists()
    assert (out / "aws_lambda_powertools" / "__init__.py").is_file()
    assert not (out / "boto3").exists() and not (out / "botocore").exists()


def _pyc_flags(pyc: Path) -> int:
    return int.from_bytes(pyc.read_bytes()[4:8], "little")


def test_bundle_ships_unchecked_hash_bytecode_for_the_runtime_python(tmp_path):
    out = build_bundle("kv", tmp_path / "bundle")
    tag = f"cpython-{python_function.RUNTIME_PYTHON[0]}{python_function.RUNTIME_PYTHON[1]}"
    sources = sorted(out.rglob("*.py"))
    assert len(sources) > 50
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        assert pyc.is_file(), source
    pycs = list(out.rglob("*.pyc"))
    assert len(pycs) == len(sources)  # one per module: no optimized (.opt-1/.opt-2) copies, no other tag
    assert all(p.name.endswith(f".{tag}.pyc") for p in pycs)
    # PEP 552 flags: bit 0 = hash-based, bit 1 = check_source; unchecked-hash is 0b01.
    assert {_pyc_flags(p) for p in pycs} == {0b01}
    assert python_function.RUNTIME.name == f"python{python_function.RUNTIME_PYTHON[0]}.{python_function.RUNTIME_PYTHON[1]}"


def test_shipped_bytecode_is_what_the_interpreter_loads(tmp_path):
    """A .pyc from the bundle is used even when the source beside it changes: nothing is recompiled."""
    out = build_bundle("kv", tmp_path / "bundle")
    plans = out / "lambda_src" / "kv" / "plans.py"
    plans.write_text(plans.read_text() + "\nraise RuntimeError('source read instead of bytecode')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    run = subprocess.run([sys.executable, "-c", "import lambda_src.kv.plans"], cwd=tmp_path, capture_output=True,
                         text=True, env={**env, "PYTHONPATH": str(out), "PYTHONDONTWRITEBYTECODE": "1"})
    assert run.returncode == 0, run.stderr


def test_the_bundle_hash_follows_the_bytecode_settings(source_copy, monkeypatch):
    before = fresh_hash("kv")
    monkeypatch.setattr(python_function, "PYC_INVALIDATION", "checked-hash")
    assert fresh_hash("kv") != before


# --- every module of every synthesized asset folder imports with only that folder ---------------

# What the Lambda Python runtime provides besides the standard library.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
# lambda_src/common/catalog.py gathers every product's schema for the tools; no product bundle
# holds the other products, so it cannot import there. It belongs with the tools.
KNOWN_UNIMPORTABLE = {"tools.catalog"}


@pytest.fixture(scope="module")
def asset_folders() -> list[Path]:
    """The Lambda asset folders of a real synth of the dev app, bundling on."""
    from app import build_app

    outdir = Path(tempfile.mkdtemp(prefix="cdk-bundles-"))
    assembly = build_app({"stage": "dev"}, outdir=str(outdir), validation=False).synth()
    folders = set()
    for manifest in Path(assembly.directory).glob("*.assets.json"):
        for asset in json.loads(manifest.read_text()).get("files", {}).values():
            source = asset["source"]
            if source.get("packaging") == "zip" and (outdir / source["path"] / "lambda_src").is_dir():
                folders.add(outdir / source["path"])
    assert len(folders) >= 3  # one per product with functions
    return sorted(folders)


@pytest.fixture(scope="module")
def runtime_dir(tmp_path_factory) -> Path:
    """A folder holding only what the runtime provides: boto3 and its dependencies."""
    out = tmp_path_factory.mktemp("runtime")
    for name in RUNTIME_PROVIDED:
        origin = Path(importlib.util.find_spec(name).origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (out / source.name).symlink_to(source, target_is_directory=source.is_dir())
    return out


_IMPORT_ALL = """
import importlib, json, sys
failed = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps(failed))
"""


def test_every_module_of_every_asset_folder_imports_with_only_that_folder(asset_folders, runtime_dir, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_"))}
    env.update({"AWS_DEFAULT_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "1"})
    failures = {}
    for folder in asset_folders:
        modules = sorted(".".join(p.relative_to(folder).with_suffix("").parts).removesuffix(".__init__")
                         for p in (folder / "lambda_src").rglob("*.py"))
        # -S: no site-packages; -I: no user site, no PYTHON* variables, no working directory on sys.path.
        code = f"import sys; sys.path[:0] = {[str(folder), str(runtime_dir)]!r}\n" + _IMPORT_ALL
        run = subprocess.run([sys.executable, "-I", "-S", "-c", code, *modules], cwd=tmp_path,
                             capture_output=True, text=True, env=env, check=True)
        for module, error in json.loads(run.stdout.strip().splitlines()[-1]).items():
            failures[f"{folder.name}: {module}"] = error
    assert not failures


def test_unknown_product_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no runtime package"):
        build_bundle("nope", tmp_path)
