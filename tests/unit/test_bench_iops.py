"""The IOps benchmarks, run inside the tests' moto world (no second mock_aws)."""

from __future__ import annotations


def test_request_rows_run_in_the_tests_world(aws):
    from lambda_src.common.aws_clients import dynamodb
    from tools.bench import iops

    rows = iops.run(client=dynamodb())
    assert len(rows) >= 8
    assert all(row["product"] == "iops" and row["requests"] >= row["floor"] for row in rows)
    first, again = [row for row in rows if row["operation"].startswith("recompute:")]
    assert first["requests"] == first["floor"] > 8  # 8 Query pages + one PutItem per changed item
    assert again["requests"] == again["floor"] == 8 and again["notes"].startswith("0 writes")


def test_ingest_throughput_runs_in_the_tests_world(aws):
    from lambda_src.common.aws_clients import dynamodb
    from tools.bench import iops

    result = iops.ingest_throughput(n=40, client=dynamodb())
    assert result["events"] == 40 and result["batches"] == 4 and result["failures"] == 0
