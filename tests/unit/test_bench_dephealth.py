"""The DepHealth benchmark, run inside the tests' moto world (no second mock_aws)."""

from __future__ import annotations

import pytest

from tools.bench import dephealth


def test_request_rows_are_at_floor(aws):
    from lambda_src.common.aws_clients import dynamodb

    rows = dephealth.run(client=dynamodb())
    assert len(rows) >= 15
    for row in rows:
        assert row["requests"] == row["floor"], row


@pytest.fixture
def small_batch(aws):
    def measure(fraction: float) -> dict:
        return dephealth.batch_fault_benchmark(n=300, unprocessed_fraction=fraction, client=aws,
                                               latency_s=0.0, sequential_sample=20)
    return measure


def test_every_key_comes_back_three_ways(small_batch):
    r = small_batch(0.3)
    assert r["keys_returned"] == r["pynamodb_keys_returned"] == 300
    assert r["sequential_keys_returned"] == r["sequential_sample"] == 20
    assert r["floor"] == 5 and r["floor"] <= r["requests"] <= r["floor"] + 4 and r["max_batch"] == 100
    assert r["pynamodb_requests"] > r["requests"]  # PynamoDB re-requests held keys on their own
    assert {"wall_s", "backoff_s", "sequential_s", "pynamodb_s", "notes"} <= set(r)


def test_without_faults_both_batch_readers_are_at_floor(small_batch):
    r = small_batch(0.0)
    assert r["requests"] == r["pynamodb_requests"] == r["floor"] == 3


def test_faults_are_seeded(small_batch):
    first, second = small_batch(0.3), small_batch(0.3)
    assert (first["requests"], first["pynamodb_requests"]) == (second["requests"], second["pynamodb_requests"])
