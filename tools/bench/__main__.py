"""``make bench``: measure the project against its floors and rewrite docs/PERFORMANCE.md.

Sections, each skipped with a note when its product module is absent:
- requests per operation (every product's ``tools/bench/<product>.py: run()``),
  compared with the floor its semantics allow; anything above is a gap;
- batch reads: ours, PynamoDB, the source loop and the floors on a transport stub (DepHealth);
- IOps ingest throughput;
- handler cold import + first client vs the ``boto3.client`` floor;
- synth wall time vs an empty CDK app, with and without built-in validation;
- the running system on a fresh MiniStack: deploy time, HTTP p50/p95 next to a constant-function
  floor, IOps pipeline time (tools/bench/local_target.py);
- test-suite wall time.
Benchmarks report; they never fail on a number.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "PERFORMANCE.md"
PRODUCTS = ("dephealth", "kv", "iops", "admin")
ENV = {
    **os.environ,
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "CDK_DISABLE_VERSION_CHECK": "1",  # as the Makefile exports it
}


def _table(headers: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def requests_section() -> tuple[list[str], list[str]]:
    rows, notes = [], []
    for product in PRODUCTS:
        try:
            module = importlib.import_module(f"tools.bench.{product}")
        except ModuleNotFoundError:
            notes.append(f"- {product}: no benchmark module")
            continue
        rows += module.run()
    table = [
        [r["product"], r["operation"], r["requests"], r["floor"], r.get("items_read", ""),
         r.get("items_returned", ""), "at floor" if r["requests"] <= r["floor"] else "**gap**",
         r.get("notes", "")]
        for r in rows
    ]
    lines = ["## DynamoDB requests per operation", "",
             "Counted by a botocore event hook (`tools/bench/counting.py`) around each handler "
             "operation, against moto tables built from the synthesized templates.", ""]
    lines += _table(["product", "operation", "requests", "floor", "items read", "items returned",
                     "vs floor", "notes"], table)
    gaps = [f"{r['product']} {r['operation']}" for r in rows if r["requests"] > r["floor"]]
    lines += ["", f"Gaps above the floor: {', '.join(gaps) if gaps else 'none'}.", *notes, ""]
    return lines, gaps


def batch_section(quick: bool = False) -> list[str]:
    """Five batch readers side by side on the transport stub (tools/bench/transport.py)."""
    try:
        module = importlib.import_module("tools.bench.dephealth")
    except ModuleNotFoundError:
        return []
    fn = getattr(module, "batch_read_benchmark", None)
    if fn is None:
        return []
    n, sample = (500, 1) if quick else (10_000, module.SOURCE_SAMPLE_CHUNKS)
    results = [fn(n=n, fraction=p, source_sample_chunks=sample) for p in (0.0, 0.1, 0.3)]
    r0 = results[0]
    rows = []
    for r in results:
        every = "yes" if r["ours_keys"] == r["pynamodb_keys"] == n and r["source_keys"] == r["source_sample_keys"] \
            else "**no**"
        rows.append([f"{round(r['fraction'] * 100)} %", f"{r['ours_s']:.2f} ({r['ours_requests']})",
                     f"{r['pynamodb_s']:.2f} ({r['pynamodb_requests']})",
                     f"{r['source_s']:.1f} ({r['source_requests']})",
                     f"{r['sequential_floor_s']:.2f} ({r['floor_requests']})",
                     f"{r['concurrent_floor_s']:.2f} ({r['floor_requests']})",
                     f"{r['vs_pynamodb']}x", f"{r['vs_source']}x", f"{r['vs_concurrent_floor']}x",
                     r["request_ratio"], every])
    worst = results[-1]
    met = (worst["vs_pynamodb"] >= 3 and worst["vs_source"] >= 10 and worst["vs_concurrent_floor"] <= 1.5
           and worst["ours_keys"] == n)
    lines = [f"## Batch reads: {n:,} keys, a fraction p held back in every answer", "",
             "`batch_get_packages` (ours, {c} requests in flight), PynamoDB's `Model.batch_get`, the source "
             "design's loop (one request at a time, held keys re-sent alone after `time.sleep(0.1)`) and two "
             "floors: ceil(ceil(n/100)/(1-p)) full requests of 100 keys, sent one at a time and {c} at a time. "
             "All five run in one process on one transport stub at the botocore level "
             "(`tools/bench/transport.py`: the client serializes, signs and parses as usual; only the network "
             "is replaced) that answers in {lat:g} ms per request + {key:g} ms per key ({full:g} ms for 100 "
             "keys) and holds back each key of each request with probability p, seeded by (key, attempt). "
             "Seconds, with the requests sent in brackets. The source loop runs over the first {ss:,} keys and "
             "is scaled to n (it finishes one chunk before it starts the next).".format(
                 c=r0["concurrency"], lat=module.BATCH_LATENCY_S * 1000, key=module.BATCH_PER_KEY_S * 1000,
                 full=(module.BATCH_LATENCY_S + 100 * module.BATCH_PER_KEY_S) * 1000,
                 ss=r0["source_sample_keys"]), ""]
    lines += _table(["p", "ours s", "PynamoDB s", "source loop s", "sequential floor s",
                     f"floor, {r0['concurrency']} in flight s", "PynamoDB / ours", "source / ours",
                     "ours / concurrent floor", "requests / (ceil(n/100)/(1-p))", "every key back"], rows)
    lines += ["", f"Targets at p = 30 % (>= 3x PynamoDB, >= 10x the source loop, <= 1.5x the concurrent "
                  f"floor, every key): {'met' if met else '**not met**'}.", ""]
    return lines


def ingest_section() -> list[str]:
    try:
        module = importlib.import_module("tools.bench.iops")
    except ModuleNotFoundError:
        return []
    fn = getattr(module, "ingest_throughput", None)
    if fn is None:
        return []
    r = fn(n=1000)
    lines = ["## IOps ingest throughput (1,000 events, moto)", ""]
    lines += _table(list(r.keys()), [list(r.values())])
    return lines + [""]


def cold_import_section(runs: int) -> list[str]:
    """Cold import + first client of every handler, from its bundle, against the boto3 floor."""
    from tools.bench import cold

    result = cold.measure(runs)
    rows = [["floor: `import boto3; boto3.client('dynamodb')`", f"{result['floor_ms']:.0f}", "1.00", "", ""]]
    for r in result["rows"]:
        rows.append([f"`{r['module']}`", f"{r['ms']:.0f}", f"{r['ratio']:.2f}", f"{r['no_pyc_ms']:.0f}",
                     f"{r['no_pyc_ratio']:.2f}"])
    lines = [f"## Handler cold import + first client, from the bundles (fastest of {runs} fresh interpreters)", "",
             "Each product's bundle is built by the asset's own code (`constructs_lib/python_function.py`), "
             "then every figure is a fresh interpreter with the bundle first on `sys.path` (boto3 from the venv, "
             "as the runtime provides it), an empty working directory and `PYTHONDONTWRITEBYTECODE=1` (a "
             "read-only `/var/task` keeps nothing). CPU seconds of the process (`time.process_time()`), the "
             "fastest of the runs, each handler interleaved with its own floor run: on a shared machine other "
             "work only adds time. Without bytecode = the same bundle with its `__pycache__` removed, as the "
             "bundles were before they shipped bytecode.", ""]
    lines += _table(["module", "ms", "ratio to floor", "without bytecode ms", "ratio"], rows)
    worst = max(result["rows"], key=lambda r: r["ratio"])
    module = worst["module"]
    product = module.split(".")[1]
    lines += ["", f"Where the time goes in the slowest, `{module}` (`python -X importtime`, self time, "
                  "first client included, from its bundle):", ""]
    lines += _table(["module", "self ms"], [[f"`{name}`", f"{us / 1000:.1f}"]
                                          for name, us in cold.import_profile(result["bundles"][product], module)])
    return lines + [""]


def _time(cmd: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env or ENV, check=True, capture_output=True)
    return time.perf_counter() - start


def synth_section(runs: int = 3) -> list[str]:
    """``cdk synth`` of the whole app against an empty app, then where the whole app's time goes."""
    from tools.bench import synth_phases

    load = os.getloadavg()[0]
    lines = ["## Synth: the whole app against an empty app", "",
             "Built-in validation, cdk-nag and bundling on, each run into a fresh output folder. The bundle "
             "cache (`.cache/bundles`, see `constructs_lib/python_function.py`) is measured both ways: cold (an "
             "empty cache, as on a fresh clone) and warm (every synth after that). CPU seconds are those of the "
             "whole process tree (CLI, app, jsii's node, the bytecode compilers): on a shared machine other work "
             f"adds wall time, not CPU time. Load average {load:.1f} on {os.cpu_count()} cores when it started.",
             ""]
    lines += synth_phases.cli_report(synth_phases.cli_synth(runs), runs)
    lines += ["Per phase, in one interpreter (`python -m tools.bench.synth_phases`; the app built as "
              "`app.build_app` does, a clock around each phase):", ""]
    lines += synth_phases.report(synth_phases.measure(runs), runs)
    return lines


def tests_section() -> list[str]:
    unit = _time([sys.executable, "-m", "pytest", "-q", "-m", "not e2e", "-p", "no:randomly"])
    lines = ["## Test suite wall time", ""]
    lines += _table(["command", "s"], [["`pytest -m 'not e2e'` (after install)", f"{unit:.1f}"]])
    return lines + [""]


def local_target_section() -> list[str]:
    """The running system on a fresh MiniStack (skipped with a note when it cannot run here)."""
    from tools.bench import local_target
    from tools.local.env import LocalError

    try:
        return local_target.section(local_target.run())
    except (LocalError, OSError) as exc:
        return ["## The running system on the local target (MiniStack)", "", f"Not measured: {exc}", ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the benchmarks and rewrite docs/PERFORMANCE.md")
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per cold-import figure")
    parser.add_argument("--quick", action="store_true",
                        help="small batch benchmark (500 keys); skip synth, the local target and test-suite timing")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    header = [
        "# Performance",
        "",
        f"Produced by `make bench` on {dt.date.today().isoformat()}: {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}. "
        "Benchmarks, not tests: nothing here fails on a number.",
        "",
    ]
    requests, _gaps = requests_section()
    body = requests + batch_section(args.quick) + ingest_section() + cold_import_section(args.runs)
    if not args.quick:
        body += synth_section() + local_target_section() + tests_section()
    body += [f"`make bench` itself took {time.perf_counter() - started:.0f} s.", ""]
    text = "\n".join(header + body)
    print(text)
    if not args.no_write:
        write_page(text)
    return 0


HAND_MARK = "<!-- measured by hand -->"


def write_page(generated: str, doc: Path = DOC) -> None:
    """Replace the generated part of ``doc``; everything from the hand mark on (the hand-measured
    figures, the targets, the notes and the block ``make load`` writes) is kept as it is."""
    old = doc.read_text() if doc.exists() else ""
    keep = old.split(HAND_MARK, 1)[1] if HAND_MARK in old else ""
    doc.write_text(generated + "\n" + HAND_MARK + keep if keep else generated)


if __name__ == "__main__":
    raise SystemExit(main())
