"""The admin benchmark: every MFH pattern and admin command at its request floor.

It runs on the tests' moto world (the ``aws`` fixture): a second
``mock_aws()`` inside the session's would share its global backends and find
every table already created.
"""

from __future__ import annotations

from lambda_src.mfh.schema import TABLES


def test_admin_bench_rows_are_at_floor(aws):
    from tools.bench.admin import run

    rows = run(client=aws)
    patterns = {f"query {s.alias}:{p.name}" for s in TABLES for p in s.access_patterns}
    assert patterns <= {r["operation"] for r in rows}
    for row in rows:
        assert set(row) == {"product", "operation", "requests", "floor", "items_read", "items_returned", "notes"}
        assert row["product"] == "admin"
        assert row["requests"] == row["floor"] == 1, row
        assert "exit code" not in row["notes"], row
