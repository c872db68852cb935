"""tools/bench/synth_phases.py and the page make bench writes: what they measure and keep."""

from __future__ import annotations

import subprocess
import sys
import time

from tools.bench import synth_phases
from tools.bench.__main__ import HAND_MARK, write_page


def test_tree_cpu_counts_a_live_child_process():
    """The jsii kernel is a child process: its CPU time must be in the phase's figure."""
    before = synth_phases._tree_cpu_seconds()
    child = subprocess.Popen([sys.executable, "-c", "import time\nt = time.process_time()\n"
                              "while time.process_time() - t < 0.5: pass\ntime.sleep(30)"])
    try:
        deadline = time.monotonic() + 30
        while synth_phases._tree_cpu_seconds() - before < 0.4 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert synth_phases._tree_cpu_seconds() - before >= 0.4
    finally:
        child.kill()
        child.wait()


def test_recorder_times_phases_and_counts_nested_calls():
    rec = synth_phases.Recorder()

    def wait(seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    slow = rec.timed("  of which inner", wait)
    with rec.phase("outer"):
        assert slow(0.05) == 0.05
        rec.jsii_requests += 3
    assert list(rec.phases) == ["  of which inner", "outer"]
    assert rec.phases["outer"]["wall"] >= rec.phases["  of which inner"]["wall"] >= 0.05
    assert rec.phases["outer"]["jsii"] == 3
    assert synth_phases.total(rec.phases, "wall") == rec.phases["outer"]["wall"]  # "of which" rows are inside


def _phases(**seconds: float) -> dict[str, dict[str, float]]:
    out = {name.replace("_", " "): {"wall": s, "cpu": s / 2, "jsii": 1} for name, s in seconds.items()}
    out["process (start to exit)"] = {"wall": sum(seconds.values()) + 1, "cpu": float("nan"), "jsii": 0}
    return out


def test_report_lists_the_whole_apps_phases_in_order_and_the_ratios_to_the_empty_app():
    empty = _phases(import_aws_cdk=1.0, app_synth=3.0)
    whole = _phases(import_aws_cdk=1.0, constructs_kv=2.0, app_synth=3.0)
    result = {v.name: (whole if v.app else empty) for v in synth_phases.VARIANTS}
    lines = synth_phases.report(result, runs=1)
    rows = [line.split(" | ")[0].lstrip("| ") for line in lines if line.startswith("| ") and "---" not in line]
    assert rows[1:4] == ["import aws cdk", "constructs kv", "app synth"]
    # process wall 7 / 5, CPU (sum of phases) 3 / 2
    assert any(line.startswith("- whole app, all on, bundle cache warm") and "wall 1.40x" in line
               and "CPU 1.50x" in line for line in lines)


def test_make_bench_keeps_everything_from_the_hand_mark_on(tmp_path):
    doc = tmp_path / "PERFORMANCE.md"
    hand = f"\n{HAND_MARK}\n\n## Measured by hand\n\n<!-- load:begin -->\nload figures\n<!-- load:end -->\n"
    doc.write_text("# Performance\n\nold generated figures\n" + hand)
    write_page("# Performance\n\nnew generated figures\n", doc)
    text = doc.read_text()
    assert "old generated" not in text and "new generated figures" in text
    assert text.endswith(hand)
    fresh = tmp_path / "NEW.md"
    write_page("only generated\n", fresh)
    assert fresh.read_text() == "only generated\n"
