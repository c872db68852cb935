"""The KV benchmark, run inside the tests' moto world (no second mock_aws).

Rows above their floor are findings the benchmark reports, not failures;
this checks that every operation ran and that the read meter is left as found.
"""

from __future__ import annotations


def test_every_operation_runs_in_the_tests_world(aws):
    from lambda_src.common.aws_clients import dynamodb
    from lambda_src.kv.meter import METER
    from tools.bench import kv

    flush_every = METER.flush_every
    rows = kv.run(client=dynamodb())
    assert len(rows) >= 12 and METER.flush_every == flush_every
    for row in rows:
        assert row["product"] == "kv" and row["requests"] >= 1 and row["floor"] >= 1, row
