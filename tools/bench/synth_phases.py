"""Where a whole-app synth spends its time: imports, each product's constructs, synth.

``python -m tools.bench.synth_phases`` builds the app the way ``app.build_app``
does (validation on, bundling on, cdk-nag on, a fresh output folder) with a
clock around each phase, and an empty app the same way for comparison.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time

_PHASES = r"""
import os, sys, time
t0 = time.perf_counter()
import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
import app as app_module
from stacks import dephealth, iops, kv, mfh
from stacks.settings import AppSettings
t1 = time.perf_counter(); print(f"imports {t1 - t0:.2f}")
validation, bundling, nag = (flag == "1" for flag in sys.argv[2:5])
merged = {**app_module.cdk_json_context(), "stage": "dev", **({} if bundling else {"aws:cdk:bundling-stacks": []})}
app = cdk.App(context=merged, outdir=sys.argv[1], builtin_cloud_formation_validation=validation)
env = cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION"))
settings = AppSettings(stage="dev", env=env,
                       context={k: app.node.try_get_context(k) for k in ("tableName", "gsiName", "iopsProvisioned")})
for product in (dephealth, mfh, kv, iops):
    t = time.perf_counter(); product.build(app, settings)
    print(f"construct {product.__name__.rsplit('.', 1)[-1]} {time.perf_counter() - t:.2f}")
if nag:
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
t = time.perf_counter(); app.synth()
print(f"synth (validation {validation}, bundling {bundling}, cdk-nag {nag}) {time.perf_counter() - t:.2f}")
print(f"total {time.perf_counter() - t0:.2f}")
"""

_EMPTY = r"""
import sys, time
t0 = time.perf_counter()
import aws_cdk as cdk
validation = sys.argv[2] == "1"
app = cdk.App(outdir=sys.argv[1], builtin_cloud_formation_validation=validation); cdk.Stack(app, "Empty")
t = time.perf_counter(); app.synth(); print(f"empty app synth {time.perf_counter() - t:.2f}")
print(f"empty app total {time.perf_counter() - t0:.2f}")
"""


def main() -> None:
    from tools.bench.__main__ import ENV, ROOT

    variants = [(_EMPTY, "1"), (_EMPTY, "0"), (_PHASES, "1", "1", "1"), (_PHASES, "0", "1", "1"),
                (_PHASES, "0", "0", "1"), (_PHASES, "0", "0", "0")]
    for code, *flags in variants:
        with tempfile.TemporaryDirectory() as out:
            run = subprocess.run([sys.executable, "-c", code, out, *flags], cwd=ROOT, env=ENV,
                                 capture_output=True, text=True, check=True)
            print(f"--- validation/bundling/cdk-nag {flags}")
            print(run.stdout.strip())


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"(measured in {time.perf_counter() - started:.0f} s)")
