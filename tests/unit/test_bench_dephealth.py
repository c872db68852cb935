"""The DepHealth benchmark, run inside the tests' moto world (no second mock_aws)."""

from __future__ import annotations

from tools.bench import dephealth


def test_request_rows_are_at_floor(aws):
    from lambda_src.common.aws_clients import dynamodb

    rows = dephealth.run(client=dynamodb())
    assert len(rows) >= 15
    for row in rows:
        assert row["requests"] == row["floor"], row


def test_five_readers_on_the_stub_return_every_key():
    r = dephealth.batch_read_benchmark(n=300, fraction=0.3, latency_s=0.0, per_key_s=0.0, source_sample_chunks=2)
    assert r["ours_keys"] == r["pynamodb_keys"] == 300
    assert r["source_keys"] == r["source_sample_keys"] == 200
    assert r["floor_requests"] == 5 and r["ours_max_batch"] == 100
    assert r["floor_requests"] <= r["ours_requests"] < r["pynamodb_requests"]  # PynamoDB re-sends held keys alone
    assert {"ours_s", "pynamodb_s", "source_s", "sequential_floor_s", "concurrent_floor_s"} <= set(r)


def test_without_held_keys_both_batch_readers_are_at_floor():
    r = dephealth.batch_read_benchmark(n=300, fraction=0.0, latency_s=0.0, per_key_s=0.0, source_sample_chunks=1)
    assert r["ours_requests"] == r["pynamodb_requests"] == r["floor_requests"] == 3
    assert r["source_requests"] == 3  # one request per chunk, scaled from the one-chunk sample


def test_held_keys_are_seeded():
    first, second = (dephealth.batch_read_benchmark(n=300, fraction=0.3, latency_s=0.0, per_key_s=0.0,
                                                    source_sample_chunks=1) for _ in range(2))
    assert first["pynamodb_requests"] == second["pynamodb_requests"]
    assert first["source_requests"] == second["source_requests"]


def test_quick_batch_section_reports_the_five_readers():
    from tools.bench.__main__ import batch_section

    lines = batch_section(quick=True)
    text = "\n".join(lines)
    assert "500 keys" in text and "PynamoDB" in text and "source loop" in text
    rows = [line for line in lines if line.startswith("| ") and "%" in line.split("|")[1]]
    assert [row.split("|")[1].strip() for row in rows] == ["0 %", "10 %", "30 %"]
    assert all(row.rstrip(" |").endswith("yes") for row in rows)
