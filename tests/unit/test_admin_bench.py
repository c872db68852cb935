"""The admin benchmark: every MFH pattern and admin command at its request floor."""

from __future__ import annotations

from lambda_src.mfh.schema import TABLES


def test_admin_bench_rows_are_at_floor(dev_templates):
    from tools.bench.admin import run

    rows = run()
    patterns = {f"query {s.alias}:{p.name}" for s in TABLES for p in s.access_patterns}
    assert patterns <= {r["operation"] for r in rows}
    for row in rows:
        assert set(row) == {"product", "operation", "requests", "floor", "items_read", "items_returned", "notes"}
        assert row["product"] == "admin"
        assert row["requests"] == row["floor"] == 1, row
        assert "exit code" not in row["notes"], row
