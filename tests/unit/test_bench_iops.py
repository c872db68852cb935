"""The IOps benchmarks, run inside the tests' moto world (no second mock_aws)."""

from __future__ import annotations


def test_request_rows_run_in_the_tests_world(aws):
    from lambda_src.common.aws_clients import dynamodb
    from tools.bench import iops

    rows = iops.run(client=dynamodb())
    assert len(rows) >= 8
    assert all(row["product"] == "iops" and row["requests"] >= row["floor"] for row in rows)


def test_ingest_throughput_runs_in_the_tests_world(aws):
    from lambda_src.common.aws_clients import dynamodb
    from tools.bench import iops

    result = iops.ingest_throughput(n=40, client=dynamodb())
    assert result["events"] == 40 and result["batches"] == 4 and result["failures"] == 0
