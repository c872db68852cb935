"""The lint gate: ruff and mypy on the Python, cfn-lint and checkov on every synthesized template.

ruff (pyflakes, pycodestyle, isort, bugbear, pyupgrade) runs over ``app.py``,
``stacks/``, ``constructs_lib/``, ``lambda_src/``, ``tools/`` and ``tests/``, and
mypy over all but the tests, with the settings in ``pyproject.toml``, both clean; mypy resolves imports
through the app's venv (``--python-executable``). They run alongside the
template synth, so the gate costs little more than its slowest part.

cfn-lint must report nothing (errors and warnings alike). checkov findings
must be fixed or match an entry of ``security/checkov-skips.json``, which
names the check, the resource pattern, optionally the template pattern
(``"templates"``, default every template), the stages and the reason. A skip
entry that no longer matches anything is reported too, so the list stays
honest. The linters live in their own venv (``--lint-venv``).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIPS = ROOT / "security" / "checkov-skips.json"
PYTHON_PATHS = ("app.py", "stacks", "constructs_lib", "lambda_src", "tools")  # mypy's files (pyproject.toml)
RUFF_PATHS = (*PYTHON_PATHS, "tests")
STAGES = ("dev", "prod")


def synth_templates(stages: list[str], root: Path) -> dict[str, list[Path]]:
    """Synthesize each stage in its own subprocess, in parallel; stage -> templates."""
    code = (
        "import sys; from app import build_app; "
        "build_app({'stage': sys.argv[1], 'aws:cdk:bundling-stacks': []}, outdir=sys.argv[2]).synth()"
    )
    procs = {
        stage: subprocess.Popen(
            [sys.executable, "-c", code, stage, str(root / stage)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        for stage in stages
    }
    templates = {}
    for stage, proc in procs.items():
        _, stderr = proc.communicate()
        if proc.returncode != 0:
            tail = [line for line in stderr.splitlines() if line.strip() and "!!" not in line][-15:]
            raise SystemExit(f"lint: synth of {stage} failed:\n" + "\n".join(tail))
        templates[stage] = sorted((root / stage).glob("*.template.json"))
    return templates


def run_cfn_lint(venv: Path, templates: list[Path]) -> list[str]:
    result = subprocess.run(
        [str(venv / "bin" / "cfn-lint"), "--format", "parseable", *map(str, templates)],
        capture_output=True, text=True,
    )
    return [line for line in result.stdout.splitlines() if line.strip()]


def run_checkov(venv: Path, directory: Path) -> list[dict]:
    """checkov on one directory (its multi-directory mode mislabels files)."""
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    result = subprocess.run(
        [str(venv / "bin" / "checkov"), "-d", str(directory), "--framework", "cloudformation",
         "-o", "json", "--quiet", "--compact", "--skip-download"],
        capture_output=True, text=True, env=env,
    )
    if not result.stdout.strip():
        return []  # nothing failed: checkov prints no report in --quiet mode
    reports, text, decoder = [], result.stdout.strip(), json.JSONDecoder()
    while text:  # one JSON document per scanned directory, concatenated
        try:
            report, end = decoder.raw_decode(text)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"lint: checkov output unreadable: {result.stderr.strip()[-300:]}") from exc
        reports += report if isinstance(report, list) else [report]
        text = text[end:].strip()
    failed = []
    for entry in reports:
        for check in entry.get("results", {}).get("failed_checks", []):
            failed.append({
                "check": check["check_id"],
                "name": check.get("check_name", ""),
                "resource": check["resource"],
                "file": Path(check.get("file_path", "")).name,
                "stage": directory.name,
            })
    return failed


def start_python_gate(venv: Path) -> dict[str, subprocess.Popen]:
    """ruff and mypy, started in the background; ``finish_python_gate`` collects them."""
    def start(*command: str) -> subprocess.Popen:
        return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    return {
        "ruff": start(str(venv / "bin" / "ruff"), "check", "--output-format", "concise", "--quiet", *RUFF_PATHS),
        # files come from pyproject.toml; imports resolve in the app's venv
        "mypy": start(str(venv / "bin" / "mypy"), "--python-executable", sys.executable, "--no-error-summary"),
    }


def finish_python_gate(procs: dict[str, subprocess.Popen]) -> list[str]:
    problems = []
    for name, proc in procs.items():
        output, _ = proc.communicate()
        if proc.returncode != 0:
            lines = [line for line in output.splitlines() if line.strip()]
            problems += [f"{name}: {line}" for line in lines] or [f"{name}: exit {proc.returncode}"]
    return problems


def skipped_by(finding: dict, stage: str, skips: list[dict]) -> dict | None:
    for skip in skips:
        if (
            skip["check"] == finding["check"]
            and stage in skip["stages"]
            and fnmatch.fnmatchcase(finding["resource"], skip["resource"])
            and fnmatch.fnmatchcase(finding["file"], skip.get("templates", "*"))
        ):
            return skip
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ruff and mypy, then cfn-lint and checkov on every template")
    parser.add_argument("--lint-venv", default=str(ROOT / ".venv-lint"),
                        help="venv with ruff, mypy, cfn-lint and checkov")
    parser.add_argument("--no-python", action="store_true", help="templates only: skip ruff and mypy")
    parser.add_argument("--stage", choices=STAGES, action="append", help="lint only this stage (repeatable)")
    args = parser.parse_args(argv)
    venv = Path(args.lint_venv)
    if not (venv / "bin" / "checkov").exists():
        print(f"lint: no checkov in {venv}: run make lint", file=sys.stderr)
        return 2
    skips = json.loads(SKIPS.read_text())
    used: set[int] = set()
    problems: list[str] = []
    stages = args.stage or list(STAGES)
    python_gate = {} if args.no_python else start_python_gate(venv)
    with tempfile.TemporaryDirectory(prefix="lint-") as tmp:
        templates = synth_templates(stages, Path(tmp))
        every = [t for paths in templates.values() for t in paths]
        problems += [f"cfn-lint: {line}" for line in run_cfn_lint(venv, every)]
        with ThreadPoolExecutor(max_workers=len(stages)) as pool:
            runs = pool.map(lambda stage: run_checkov(venv, Path(tmp) / stage), stages)
            findings = [finding for run in runs for finding in run]
    python_problems = finish_python_gate(python_gate)
    problems += python_problems
    if python_gate:
        print(f"lint: ruff on {', '.join(RUFF_PATHS)}, mypy on {', '.join(PYTHON_PATHS)}: "
              f"{len(python_problems)} finding(s)")
    accepted = 0
    for finding in findings:
        skip = skipped_by(finding, finding["stage"], skips)
        if skip is None:
            problems.append(
                f"[{finding['stage']}] checkov {finding['check']} ({finding['name']}) on "
                f"{finding['resource']} in {finding['file']}"
            )
        else:
            used.add(skips.index(skip))
            accepted += 1
    print(f"lint: {len(every)} templates ({', '.join(stages)}); cfn-lint findings "
          f"{sum(p.startswith('cfn-lint') for p in problems)}; checkov findings {len(findings)}, "
          f"{accepted} acknowledged in {SKIPS.relative_to(ROOT)}")
    for index, skip in enumerate(skips):
        if index not in used and not args.stage:
            problems.append(f"stale skip entry: {skip['check']} on {skip['resource']} matches nothing")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"lint: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("lint: clean")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
