"""Every venv's lock agrees with its top-level pins, and the check refuses drift."""

from __future__ import annotations

import pytest

from tools import lock


@pytest.mark.parametrize("venv", lock.VENVS, ids=lambda v: v.directory)
def test_each_lock_pins_every_top_level_requirement_at_its_version(venv: lock.Venv) -> None:
    locked = lock.parse((lock.LOCKS / venv.lock).read_text().splitlines())
    wanted = lock.top_level_pins(lock.ROOT / venv.requirements)
    assert wanted, venv.requirements
    assert {name: locked.get(name) for name in wanted} == wanted
    # a lock holds the resolved tree, not only the top level
    assert len(locked) > len(wanted)


def test_names_compare_after_normalization() -> None:
    assert lock.parse(["Typing_Extensions==4.1  # comment", "", "moto[server]==5.2.5"]) == {
        "typing-extensions": "4.1", "moto": "5.2.5"}


def test_a_range_is_not_a_pin() -> None:
    with pytest.raises(lock.LockError, match="not an exact pin"):
        lock.parse(["boto3>=1.0"])


def test_the_check_names_a_pin_changed_without_relocking(tmp_path, monkeypatch) -> None:
    (tmp_path / "constraints").mkdir()
    (tmp_path / "constraints" / "dev.txt").write_text("boto3==1.0.0\nbotocore==1.0.0\n")
    (tmp_path / "requirements-dev.txt").write_text("boto3==2.0.0\n")
    monkeypatch.setattr(lock, "ROOT", tmp_path)
    monkeypatch.setattr(lock, "LOCKS", tmp_path / "constraints")
    with pytest.raises(lock.LockError, match=r"boto3==2\.0\.0 \(lock: 1\.0\.0\).*make lock"):
        lock.check(lock.venv_named(".venv"))


def test_the_check_refuses_a_venv_holding_what_the_lock_does_not(tmp_path, monkeypatch) -> None:
    (tmp_path / "constraints").mkdir()
    (tmp_path / "constraints" / "dev.txt").write_text("boto3==2.0.0\nbotocore==2.0.0\n")
    (tmp_path / "requirements-dev.txt").write_text("boto3==2.0.0\n")
    monkeypatch.setattr(lock, "ROOT", tmp_path)
    monkeypatch.setattr(lock, "LOCKS", tmp_path / "constraints")
    monkeypatch.setattr(lock, "freeze", lambda python: {"boto3": "2.0.0", "botocore": "2.0.0", "left-pad": "1.0"})
    with pytest.raises(lock.LockError, match=r"holds what constraints/dev.txt does not: left-pad==1\.0"):
        lock.check(lock.venv_named(".venv"))
