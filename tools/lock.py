"""Locked dependency trees: one constraints file per venv, generated from the top-level pins.

The requirements files pin what the project asks for; pip resolves the rest
(botocore, jsii, typing-extensions, ...) at install time, so two fresh clones
could install two different trees. ``constraints/<venv>.txt`` records the whole
tree that the top-level pins resolved to; every install passes it with ``-c``,
and the check after each install refuses a venv holding a distribution or a
version the lock does not list, so a pin changed without re-locking fails at
once instead of drifting.

    python -m tools.lock                 # regenerate every lock in fresh venvs
    python -m tools.lock --install VENV  # create VENV if needed, install its pins with its lock, check
    python -m tools.lock --check VENV    # the installed tree equals its lock
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "constraints"


@dataclass(frozen=True)
class Venv:
    """A venv of the project: its directory, its top-level requirements and its lock."""

    directory: str
    requirements: str
    lock: str


VENVS = (
    Venv(".venv", "requirements-dev.txt", "dev.txt"),
    Venv(".venv-lint", "requirements-lint.txt", "lint.txt"),
    Venv(".venv-ministack", "requirements-ministack.txt", "ministack.txt"),
    Venv(".venv-load", "requirements-load.txt", "load.txt"),
)


class LockError(Exception):
    """A lock that does not match what is installed or requested."""


def venv_named(directory: str) -> Venv:
    for venv in VENVS:
        if venv.directory == directory:
            return venv
    raise LockError(f"unknown venv {directory!r}: one of {', '.join(v.directory for v in VENVS)}")


def parse(lines: list[str]) -> dict[str, str]:
    """``name==version`` lines (comments and blanks skipped) -> {normalized name: version}."""
    pins: dict[str, str] = {}
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name, sep, version = line.partition("==")
        if not sep:
            raise LockError(f"not an exact pin: {raw.strip()!r}")
        pins[normalize(name.split("[", 1)[0])] = version.strip()
    return pins


def normalize(name: str) -> str:
    """PEP 503 normalization, so ``Jinja2`` and ``jinja2``, ``a_b`` and ``a-b`` compare equal."""
    return "-".join(part for part in name.strip().lower().replace("_", "-").replace(".", "-").split("-") if part)


def top_level_pins(requirements: Path) -> dict[str, str]:
    """The pins of a requirements file, following its ``-r`` includes."""
    pins: dict[str, str] = {}
    for raw in requirements.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            pins.update(top_level_pins(requirements.parent / line[3:].strip()))
        elif line and not line.startswith("-"):
            pins.update(parse([line]))
    return pins


def freeze(python: Path) -> dict[str, str]:
    out = subprocess.run([str(python), "-m", "pip", "freeze", "--disable-pip-version-check"],
                         capture_output=True, text=True, check=True).stdout
    return parse([line for line in out.splitlines() if "==" in line])


def check(venv: Venv) -> None:
    """Installed tree == lock, and the lock agrees with the top-level pins."""
    lock = parse((LOCKS / venv.lock).read_text().splitlines())
    wanted = top_level_pins(ROOT / venv.requirements)
    stale = sorted(f"{name}=={version} (lock: {lock.get(name, 'absent')})"
                   for name, version in wanted.items() if lock.get(name) != version)
    if stale:
        raise LockError(f"constraints/{venv.lock} disagrees with {venv.requirements}: {', '.join(stale)}; "
                        "run `make lock`")
    installed = freeze(ROOT / venv.directory / "bin" / "python")
    extra = sorted(f"{name}=={version}" for name, version in installed.items() if lock.get(name) != version)
    if extra:
        raise LockError(f"{venv.directory} holds what constraints/{venv.lock} does not: {', '.join(extra)}; "
                        "run `make lock`")


def install(venv: Venv) -> None:
    """Create the venv if it is missing, install its top-level pins under its lock, then ``check``."""
    python = ROOT / venv.directory / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(ROOT / venv.directory)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-r", str(ROOT / venv.requirements), "-c", str(LOCKS / venv.lock)], check=True, cwd=ROOT)
    check(venv)


def generate(venv: Venv) -> str:
    """Resolve the top-level pins in a fresh venv and freeze the result."""
    with tempfile.TemporaryDirectory(prefix="lock-") as tmp:
        subprocess.run([sys.executable, "-m", "venv", tmp], check=True)
        python = Path(tmp) / "bin" / "python"
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "-r", str(ROOT / venv.requirements)], check=True, cwd=ROOT)
        pins = freeze(python)
    header = (f"# The whole tree that {venv.requirements} resolves to, installed into {venv.directory}\n"
              "# with -c. Generated by `make lock` (python -m tools.lock); do not edit by hand.\n")
    return header + "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.lock", description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--check", metavar="VENV", help="check one installed venv against its lock")
    action.add_argument("--install", metavar="VENV", help="create and install one venv under its lock, then check")
    args = parser.parse_args(argv)
    try:
        if args.install:
            install(venv_named(args.install))
            return 0
        if args.check:
            check(venv_named(args.check))
            return 0
        LOCKS.mkdir(exist_ok=True)
        for venv in VENVS:
            (LOCKS / venv.lock).write_text(generate(venv))
            print(f"constraints/{venv.lock}")
    except LockError as exc:
        print(f"lock: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(f"lock: {' '.join(map(str, exc.cmd[:4]))} ... failed with exit {exc.returncode}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
