"""The local Lambda bundle, and the hash that lets CDK reuse it."""

from __future__ import annotations

import shutil

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
    assert not list(out.rglob("__pycache__"))


def test_unknown_product_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no runtime package"):
        build_bundle("nope", tmp_path)
