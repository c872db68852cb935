"""Where a whole-app synth spends its time, phase by phase, next to an empty app.

``python -m tools.bench.synth_phases [--runs N]`` builds the app the way
``app.build_app`` does (validation, bundling and cdk-nag on, a fresh output
folder) in a fresh interpreter, with a clock around each phase: importing
``aws_cdk``, importing cdk-nag and our stacks, each product's constructs (and,
inside them, the bundle hash and the bundling itself), the cdk-nag plugin and
``app.synth()``. An empty app (one empty stack) runs the same way. The
variants with validation, bundling or cdk-nag switched off split
``app.synth()`` into its parts by difference.

Every phase reports wall seconds, CPU seconds of the whole process tree (this
interpreter, the jsii node processes and the compilers bundling starts) and
the number of jsii requests sent to node. On a shared machine other work only
adds wall time; CPU time is what the synth itself costs.

The bundle cache is measured both ways: ``cold`` points it at a new, empty
folder (the first synth on a fresh clone), ``warm`` at a folder a previous
synth filled (every synth after that).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
_TICKS = os.sysconf("SC_CLK_TCK")


def _tree_cpu_seconds() -> float:
    """CPU seconds of this process, its reaped children, and every live descendant (jsii's node)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        # fields[1] is the parent pid; fields[11:15] utime, stime, cutime, cstime (stat fields 14-17)
        stats[int(entry)] = (int(fields[1]), sum(int(f) for f in fields[11:15]) / _TICKS)
    me = os.getpid()
    total, stack = stats.get(me, (0, 0.0))[1], [me]
    while stack:
        parent = stack.pop()
        for pid, (ppid, cpu) in stats.items():
            if ppid == parent:
                total += cpu
                stack.append(pid)
    return total


@dataclass
class Recorder:
    """Wall seconds, tree CPU seconds and jsii requests per named phase, in order."""

    phases: dict[str, dict[str, float]] = field(default_factory=dict)
    jsii_requests: int = 0

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        wall, cpu, calls = time.perf_counter(), _tree_cpu_seconds(), self.jsii_requests
        try:
            yield
        finally:
            row = self.phases.setdefault(name, {"wall": 0.0, "cpu": 0.0, "jsii": 0})
            row["wall"] += time.perf_counter() - wall
            row["cpu"] += _tree_cpu_seconds() - cpu
            row["jsii"] += self.jsii_requests - calls

    def count_jsii_requests(self) -> None:
        """Count every request the Python side sends to the jsii kernel process."""
        from jsii._kernel.providers import process

        send = process._NodeProcess.send
        recorder = self

        def counted(node: Any, request: Any, response_type: Any) -> Any:
            recorder.jsii_requests += 1
            return send(node, request, response_type)

        setattr(process._NodeProcess, "send", counted)  # noqa: B010 (instrumentation: replaces a method)

    def timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` with a clock around each call (``wraps`` keeps the signature jsii inspects)."""

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.phase(name):
                return fn(*args, **kwargs)
        return wrapper


def _child_app(outdir: str, validation: bool, bundling: bool, nag: bool) -> dict[str, dict[str, float]]:
    rec = Recorder()
    with rec.phase("import aws_cdk (jsii kernel, aws-cdk-lib assembly)"):
        import aws_cdk as cdk
    rec.count_jsii_requests()
    with rec.phase("import cdk-nag, app, stacks"):
        from cdk_nag import AwsSolutionsChecks

        import app as app_module
        from constructs_lib import python_function
        from stacks import dephealth, iops, kv, mfh
        from stacks.settings import AppSettings
    # Inside the constructs: the asset hash and the bundling callback, reported apart.
    for owner, name, label in ((python_function, "bundle_hash", "  of which bundle_hash"),
                               (python_function.LocalBundler, "try_bundle", "  of which bundling (try_bundle)")):
        setattr(owner, name, rec.timed(label, getattr(owner, name)))
    with rec.phase("App()"):
        merged = {**app_module.cdk_json_context(), "stage": "dev",
                  **({} if bundling else {"aws:cdk:bundling-stacks": []})}
        app = cdk.App(context=merged, outdir=outdir, builtin_cloud_formation_validation=validation)
        env = cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=app_module.DEFAULT_REGION)
        settings = AppSettings(stage="dev", env=env, context={
            k: app.node.try_get_context(k) for k in ("tableName", "gsiName", "iopsProvisioned", "kvReadFlushEvery")})
    for product in (dephealth, mfh, kv, iops):
        with rec.phase(f"constructs {product.__name__.rsplit('.', 1)[-1]}"):
            product.build(app, settings)
    if nag:
        with rec.phase("cdk-nag plugin"):
            cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with rec.phase("app.synth()"):
        app.synth()
    return rec.phases


def _child_empty(outdir: str, validation: bool) -> dict[str, dict[str, float]]:
    rec = Recorder()
    with rec.phase("import aws_cdk (jsii kernel, aws-cdk-lib assembly)"):
        import aws_cdk as cdk
    rec.count_jsii_requests()
    with rec.phase("App()"):
        app = cdk.App(outdir=outdir, builtin_cloud_formation_validation=validation)
        cdk.Stack(app, "Empty")
    with rec.phase("app.synth()"):
        app.synth()
    return rec.phases


@dataclass(frozen=True)
class Variant:
    name: str
    app: bool
    validation: bool
    bundling: bool = False
    nag: bool = False
    cache: str = "off"  # "cold": a new empty bundle cache, "warm": one a previous synth filled, "off"


VARIANTS = (
    Variant("empty app, validation on", app=False, validation=True),
    Variant("empty app, validation off", app=False, validation=False),
    Variant("whole app, all on, bundle cache cold", app=True, validation=True, bundling=True, nag=True, cache="cold"),
    Variant("whole app, all on, bundle cache warm", app=True, validation=True, bundling=True, nag=True, cache="warm"),
    Variant("whole app, validation off, cache warm", app=True, validation=False, bundling=True, nag=True,
            cache="warm"),
    Variant("whole app, validation off, no bundling", app=True, validation=False, nag=True),
    Variant("whole app, validation, bundling, cdk-nag off", app=True, validation=False),
)


def _env(cache_dir: str | None) -> dict[str, str]:
    from tools.bench.__main__ import ENV

    return {**ENV, "LAMBDA_BUNDLE_CACHE": cache_dir or "off"}


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a synth; on failure, raise with the end of its output (the synth's own error)."""
    run = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        tail = "\n".join((run.stdout + run.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"{' '.join(args[:6])} ... exited {run.returncode}:\n{tail}")
    return run


def run_variant(variant: Variant, warm_cache: str) -> dict[str, dict[str, float]]:
    """One fresh interpreter, one fresh output folder; the phases it measured."""
    with tempfile.TemporaryDirectory() as out, tempfile.TemporaryDirectory() as cold_cache:
        cache = {"cold": cold_cache, "warm": warm_cache}.get(variant.cache)
        flags = [str(int(f)) for f in (variant.app, variant.validation, variant.bundling, variant.nag)]
        started = time.perf_counter()
        run = _run([sys.executable, "-m", "tools.bench.synth_phases", "--child", out, *flags], _env(cache))
        phases = json.loads(run.stdout.strip().splitlines()[-1])
        phases["process (start to exit)"] = {"wall": time.perf_counter() - started, "cpu": float("nan"), "jsii": 0}
        return phases


def fill_cache(cache_dir: str) -> None:
    """Synth the whole app once into a throwaway folder so that ``cache_dir`` holds every bundle."""
    with tempfile.TemporaryDirectory() as out:
        _run([sys.executable, "-m", "tools.bench.synth_phases", "--child", out, "1", "0", "1", "0"], _env(cache_dir))


def measure(runs: int = 3) -> dict[str, dict[str, dict[str, float]]]:
    """Median per phase of ``runs`` rounds; the variants are interleaved within each round."""
    samples: dict[str, list[dict[str, dict[str, float]]]] = {v.name: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory() as warm_cache:
        fill_cache(warm_cache)
        for _ in range(runs):
            for variant in VARIANTS:
                samples[variant.name].append(run_variant(variant, warm_cache))
    result: dict[str, dict[str, dict[str, float]]] = {}
    for name, rounds in samples.items():
        result[name] = {
            phase: {k: statistics.median(r[phase][k] for r in rounds) for k in ("wall", "cpu", "jsii")}
            for phase in rounds[0]
        }
    return result


def total(phases: dict[str, dict[str, float]], key: str) -> float:
    """The sum of the top-level phases (the ``of which`` rows are inside others)."""
    return sum(v[key] for name, v in phases.items() if not name.startswith(" ") and not name.startswith("process"))


def report(result: dict[str, dict[str, dict[str, float]]], runs: int) -> list[str]:
    """Markdown: one table of phases (rows) by variant (columns), then the ratios to the empty app."""
    names = list(result)
    phases: list[str] = []
    for name in sorted(names, key=lambda n: -len(result[n])):  # the whole app's order of phases first
        phases += [p for p in result[name] if p not in phases and not p.startswith("process")]
    lines = [f"Median of {runs} interleaved rounds; each cell is wall s / CPU s of the process tree "
             "/ jsii requests.", ""]
    lines.append("| phase | " + " | ".join(names) + " |")
    lines.append("|---|" + "---|" * len(names))

    def cell(name: str, phase: str) -> str:
        row = result[name].get(phase)
        return "" if row is None else f"{row['wall']:.2f} / {row['cpu']:.2f} / {int(row['jsii'])}"

    for phase in phases:
        lines.append(f"| {phase.replace('  ', '&nbsp;&nbsp;')} | " + " | ".join(cell(n, phase) for n in names) + " |")
    lines.append("| **sum of phases** | " + " | ".join(
        f"**{total(result[n], 'wall'):.2f} / {total(result[n], 'cpu'):.2f}**" for n in names) + " |")
    lines.append("| process, start to exit (wall) | " + " | ".join(
        f"{result[n]['process (start to exit)']['wall']:.2f}" for n in names) + " |")
    lines.append("")
    empty_on, empty_off = result[VARIANTS[0].name], result[VARIANTS[1].name]
    for variant in VARIANTS[2:5]:
        base = empty_on if variant.validation else empty_off
        whole = result[variant.name]
        lines.append(
            f"- {variant.name} / empty app (validation {'on' if variant.validation else 'off'}): "
            f"process wall {whole['process (start to exit)']['wall'] / base['process (start to exit)']['wall']:.2f}x, "
            f"CPU {total(whole, 'cpu') / total(base, 'cpu'):.2f}x")
    return lines + [""]


_EMPTY_APP = "import aws_cdk as cdk; app = cdk.App(); cdk.Stack(app, 'Empty'); app.synth()"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli_synth(runs: int = 3) -> dict[str, dict[str, float]]:
    """``cdk synth --quiet`` through the pinned CLI, as ``make synth`` runs it, into a fresh folder:
    the whole app (bundle cache cold, then warm) and an empty app (``-a``: one empty stack).
    Validation and cdk-nag on. Median wall and CPU seconds (the CLI, the app and jsii's node)."""
    cdk = [shutil.which("npx") or "npx", "--no-install", "cdk", "synth", "--quiet"]
    empty = ["-a", f"{shlex.quote(sys.executable)} -c {shlex.quote(_EMPTY_APP)}"]
    samples: dict[str, list[tuple[float, float]]] = {"empty app": [], "whole app, bundle cache cold": [],
                                                      "whole app, bundle cache warm": []}
    with tempfile.TemporaryDirectory() as warm:
        for _ in range(runs):
            for name in samples:
                with tempfile.TemporaryDirectory() as out, tempfile.TemporaryDirectory() as cold:
                    cache = cold if "cold" in name else warm
                    args = [*cdk, "-o", out, *(empty if name == "empty app" else ["-c", "stage=dev"])]
                    wall, cpu = time.perf_counter(), _children_cpu()
                    _run(args, _env(cache))
                    samples[name].append((time.perf_counter() - wall, _children_cpu() - cpu))
    return {name: {"wall": statistics.median(s[0] for s in runs_), "cpu": statistics.median(s[1] for s in runs_)}
            for name, runs_ in samples.items()}


def cli_report(result: dict[str, dict[str, float]], runs: int) -> list[str]:
    base = result["empty app"]
    lines = ["| `cdk synth --quiet` (pinned CLI, validation and cdk-nag on) | wall s | CPU s | wall vs empty "
             "| CPU vs empty |", "|---|---|---|---|---|"]
    for name, row in result.items():
        lines.append(f"| {name} | {row['wall']:.2f} | {row['cpu']:.2f} | {row['wall'] / base['wall']:.2f}x "
                     f"| {row['cpu'] / base['cpu']:.2f}x |")
    return lines + ["", f"Median of {runs} runs, interleaved, each into a fresh output folder.", ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cli", action="store_true", help="only `cdk synth` through the CLI, whole vs empty app")
    parser.add_argument("--child", nargs=5, metavar=("OUTDIR", "APP", "VALIDATION", "BUNDLING", "NAG"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        outdir, is_app, validation, bundling, nag = args.child[0], *(f == "1" for f in args.child[1:])
        phases = _child_app(outdir, validation, bundling, nag) if is_app else _child_empty(outdir, validation)
        print(json.dumps(phases))
        return 0
    started = time.perf_counter()
    load = os.getloadavg()[0]
    if args.cli:
        print("\n".join(cli_report(cli_synth(args.runs), args.runs)))
    else:
        print("\n".join(report(measure(args.runs), args.runs)))
    print(f"(measured in {time.perf_counter() - started:.0f} s; load average {load:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end, on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
