"""The local Lambda bundle, its bytecode, the hash that lets CDK reuse it, and the bundle cache."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from constructs_lib import python_function
from constructs_lib.python_function import LAMBDA_SRC, build_bundle, build_bundle_archive, bundle_into


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
    major, minor = python_function.RUNTIME_PYTHON
    assert python_function.RUNTIME.name == f"python{major}.{minor}"


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


def _synth_archives(outdir: Path, cache: Path) -> dict[str, bytes]:
    """Synthesize the dev app (bundling on, the bundle cache at ``cache``); each Lambda archive's bytes
    by asset path."""
    from app import build_app

    previous = os.environ.get(python_function.BUNDLE_CACHE_ENV)
    os.environ[python_function.BUNDLE_CACHE_ENV] = str(cache)
    try:
        assembly = build_app({"stage": "dev"}, outdir=str(outdir), validation=False).synth()
    finally:
        if previous is None:
            del os.environ[python_function.BUNDLE_CACHE_ENV]
        else:
            os.environ[python_function.BUNDLE_CACHE_ENV] = previous
    archives = {}
    for manifest in Path(assembly.directory).glob("*.assets.json"):
        for asset in json.loads(manifest.read_text()).get("files", {}).values():
            source = asset["source"]
            if source.get("packaging") == "file" and source["path"].endswith(".zip"):
                archives[source["path"]] = (outdir / source["path"]).read_bytes()
    return archives


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The Lambda archives of two real synths of the dev app into fresh folders: the first with an
    empty bundle cache, the second with the cache the first one filled."""
    cache = tmp_path_factory.mktemp("bundle-cache")
    first = _synth_archives(tmp_path_factory.mktemp("cdk-cold"), cache)
    second = _synth_archives(tmp_path_factory.mktemp("cdk-warm"), cache)
    return first, second


@pytest.fixture(scope="module")
def asset_folders(synthesized, tmp_path_factory) -> list[Path]:
    """The Lambda archives of a real synth, each extracted as Lambda extracts it into /var/task."""
    folders = []
    for path, data in synthesized[0].items():
        folder = tmp_path_factory.mktemp(Path(path).stem)
        archive = folder.with_suffix(".zip")
        archive.write_bytes(data)
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(folder)
        if (folder / "lambda_src").is_dir():
            folders.append(folder)
    assert len(folders) >= 3  # one per product with functions
    return sorted(folders)


def test_a_synth_with_a_warm_cache_ships_the_same_archives(synthesized):
    cold, warm = synthesized
    assert len(cold) >= 3
    assert warm == cold


@pytest.fixture(scope="module")
def runtime_dir(tmp_path_factory) -> Path:
    """A folder holding only what the runtime provides: boto3 and its dependencies."""
    out = tmp_path_factory.mktemp("runtime")
    for name in RUNTIME_PROVIDED:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        origin = Path(spec.origin)
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


# --- the archive CDK stages, and the bundle cache ---------------------------------------------------


def test_the_archive_holds_exactly_the_folder_bundle(tmp_path):
    folder = build_bundle("kv", tmp_path / "folder")
    archive = build_bundle_archive("kv", tmp_path / "kv.zip")
    on_disk = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        assert sorted(names) == names == sorted(on_disk)  # path order: the bytes depend on content only
        for name in names:
            info = zipped.getinfo(name)
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert (info.external_attr >> 16) & 0o777 == on_disk[name].stat().st_mode & 0o777
            if not name.endswith(".pyc"):
                assert zipped.read(name) == on_disk[name].read_bytes(), name
    # the .pyc files carry the source hash of the module beside them (unchecked-hash, PEP 552)
    assert sum(n.endswith(".pyc") for n in names) == sum(n.endswith(".py") for n in names) > 50


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty bundle cache, and a count of the archives actually built."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(python_function.BUNDLE_CACHE_ENV, str(folder))
    built: list[str] = []
    real = python_function.build_bundle_archive

    def counting(product, archive):
        built.append(product)
        return real(product, archive)

    monkeypatch.setattr(python_function, "build_bundle_archive", counting)
    python_function.bundle_hash.cache_clear()
    yield folder, built
    python_function.bundle_hash.cache_clear()


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def test_a_second_bundle_comes_from_the_cache_byte_for_byte(cache, tmp_path):
    folder, built = cache
    first = bundle_into("kv", tmp_path / "out1")
    second = bundle_into("kv", tmp_path / "out2")
    assert built == ["kv"]
    assert first.read_bytes() == second.read_bytes()
    assert len(_entries(folder)) == 1


def test_a_changed_source_makes_a_new_bundle(cache, source_copy, tmp_path):
    folder, built = cache
    bundle_into("kv", tmp_path / "out1")
    with (source_copy / "common" / "api.py").open("a", encoding="utf-8") as f:
        f.write("\nCHANGED_FOR_THE_CACHE_TEST = 1\n")
    python_function.bundle_hash.cache_clear()  # a new synth process computes the hash anew
    archive = bundle_into("kv", tmp_path / "out2")
    assert built == ["kv", "kv"]
    with zipfile.ZipFile(archive) as zipped:
        assert b"CHANGED_FOR_THE_CACHE_TEST" in zipped.read("lambda_src/common/api.py")
    assert len(_entries(folder)) == 2


class _OtherInstall:
    """An installed distribution as metadata sees it, with another version or other files."""

    def __init__(self, real, version=None, record=None):
        self._real, self._version, self._record = real, version, record

    @property
    def version(self):
        return self._version or self._real.version

    def read_text(self, name):
        if name == "RECORD" and self._record is not None:
            return self._record
        return self._real.read_text(name)

    def __getattr__(self, name):
        return getattr(self._real, name)


def _with_dependency(monkeypatch, **changes):
    dependency = python_function.runtime_distributions()[0]
    real = python_function.metadata.distribution

    def distribution(name):
        dist = real(name)
        return _OtherInstall(dist, **changes) if name.lower().replace("_", "-") == dependency else dist

    monkeypatch.setattr(python_function.metadata, "distribution", distribution)
    return dependency


def test_a_dependency_of_another_version_or_other_files_makes_a_new_key(cache, monkeypatch):
    before = python_function.bundle_cache_key("iops")
    _with_dependency(monkeypatch, version="999.0")
    assert python_function.bundle_cache_key("iops") != before
    monkeypatch.undo()
    python_function.bundle_hash.cache_clear()
    assert python_function.bundle_cache_key("iops") == before
    _with_dependency(monkeypatch, record="other/file.py,sha256=abc,1\n")  # same version, other content
    assert python_function.bundle_cache_key("iops") != before


def test_another_compiling_interpreter_or_bundler_makes_a_new_key(cache, monkeypatch, tmp_path):
    before = python_function.bundle_cache_key("iops")
    monkeypatch.setattr(python_function, "_compiler_identity", lambda: "3.11.99 (other build) a70d0d0a")
    assert python_function.bundle_cache_key("iops") != before
    monkeypatch.undo()
    python_function.bundle_hash.cache_clear()
    changed = tmp_path / "python_function.py"
    changed.write_text(Path(python_function.__file__).read_text() + "\n# the bundler changed\n")
    monkeypatch.setattr(python_function, "__file__", str(changed))
    assert python_function.bundle_cache_key("iops") != before


def test_a_damaged_or_unfinished_entry_is_rebuilt_never_used(cache, tmp_path):
    folder, built = cache
    good = bundle_into("kv", tmp_path / "out1").read_bytes()
    (entry,) = _entries(folder)
    with (entry / "bundle.zip").open("r+b") as f:  # same size, other bytes
        f.seek(100)
        f.write(b"\0" * 16)
    assert bundle_into("kv", tmp_path / "out2").read_bytes() == good
    assert built == ["kv", "kv"]
    (entry / "manifest.json").unlink()  # as if the writer had stopped before its manifest
    assert bundle_into("kv", tmp_path / "out3").read_bytes() == good
    assert built == ["kv", "kv", "kv"]
    # an unfinished entry under its temporary name is never looked at
    unfinished = folder / f".{entry.name[:16]}-stopped"
    unfinished.mkdir()
    (unfinished / "bundle.zip").write_bytes(b"not a bundle")
    assert bundle_into("kv", tmp_path / "out4").read_bytes() == good


def test_the_cache_can_be_switched_off(cache, monkeypatch, tmp_path):
    folder, built = cache
    monkeypatch.setenv(python_function.BUNDLE_CACHE_ENV, "off")
    archive = bundle_into("kv", tmp_path / "out")
    assert built == ["kv"] and zipfile.is_zipfile(archive)
    assert not folder.exists()


def test_pruning_keeps_the_latest_entries_of_a_product_and_nothing_else_is_touched(tmp_path):
    folder = tmp_path / "cache"
    folder.mkdir()
    now = time.time()
    for i in range(5):
        entry = folder / f"{i:064x}"
        entry.mkdir()
        (entry / "manifest.json").write_text(json.dumps({"product": "kv"}))
        os.utime(entry / "manifest.json", (now - 100 * i, now - 100 * i))
    other = folder / f"{9:064x}"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({"product": "iops"}))
    foreign = folder / "notes.txt"
    foreign.write_text("not the cache's")
    stale, fresh = folder / f".{'a' * 16}-old", folder / f".{'b' * 16}-running"
    stale.mkdir()
    fresh.mkdir()
    os.utime(stale, (now - 7200, now - 7200))
    python_function._prune(folder, "kv")
    kept = sorted(p.name for p in folder.iterdir())
    assert kept == sorted([f"{i:064x}" for i in range(python_function.BUNDLE_CACHE_KEEP)]
                          + [other.name, foreign.name, fresh.name])
