"""The IOps queries of the admin CLI and the two scripts that wrap them.

In-process against the moto tables (``--target aws``, which ``mock_aws``
intercepts); the scripts against a moto server on a free port, as they run
against the local target; and against an endpoint nobody listens on.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from lambda_src.common.requests import to_item
from lambda_src.iops import schema
from tools.admin import main

ROOT = Path(__file__).resolve().parents[3]
AWS = ["--target", "aws", "--region", "us-east-1"]


def _seed(client):
    for spec in schema.TABLES:
        for item in spec.examples:
            client.put_item(TableName=spec.table_name("dev"), Item=to_item(item))
    # a low-health tutor and an insight of another type, to prove filtering
    client.put_item(TableName=schema.METRICS.table_name("dev"), Item=to_item({
        "entity_id": "tut_0500", "entity_type": "tutor", "health_score": 55, "sessions_7d": 1,
        "ib_calls_14d": 0, "last_updated": "2026-11-22T10:00:00Z"}))
    client.put_item(TableName=schema.INSIGHTS.table_name("dev"), Item=to_item({
        "pk": "insight#stu_4532", "sk": "2026-11-20T00:00:00Z", "entity_id": "stu_4532",
        "prediction_type": "support_escalation", "risk_score": 99, "explanation": "e",
        "timestamp": "2026-11-20T00:00:00Z", "ttl": 4102444800}))


@pytest.fixture
def seeded(aws):
    _seed(aws)
    return aws


def run_json(capsys, *argv):
    code = main([*AWS, "--json", *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_low_health_students_with_the_source_columns(seeded, capsys):
    rows = run_json(capsys, "low-health")
    assert rows == [{"student_id": "stu_2203", "health_score": 41, "sessions_7d": 0, "ib_calls_14d": 5}]
    rows = run_json(capsys, "low-health", "--below", "89")
    assert [r["student_id"] for r in rows] == ["stu_2203", "stu_4532", "stu_1001"]
    assert run_json(capsys, "low-health", "--below", "89", "--limit", "1") == [rows[0]]
    assert [r["tutor_id"] for r in run_json(capsys, "low-health", "--type", "tutor")] == ["tut_0500"]


def test_insights_latest_ten_newest_first(seeded, capsys):
    rows = run_json(capsys, "insights", "stu_4532")
    assert [r["timestamp"] for r in rows] == sorted((r["timestamp"] for r in rows), reverse=True)
    assert set(rows[0]) == {"timestamp", "prediction_type", "risk_score", "explanation"}
    for day in range(1, 13):
        seeded.put_item(TableName=schema.INSIGHTS.table_name("dev"), Item=to_item({
            "pk": "insight#stu_9", "sk": f"2026-10-{day:02d}T00:00:00Z", "entity_id": "stu_9",
            "prediction_type": "churn_risk", "risk_score": day, "explanation": "x"}))
    rows = run_json(capsys, "insights", "stu_9")
    assert [r["risk_score"] for r in rows] == list(range(12, 2, -1))


def test_insights_within_a_period_use_begins_with(seeded, capsys):
    rows = run_json(capsys, "insights", "stu_4532", "--period", "2025-01")
    assert rows == [{"timestamp": "2025-01-15T10:30:00Z", "prediction_type": "high_ib_call_frequency",
                     "risk_score": 82,
                     "explanation": "Student shows high IB call frequency with declining health score..."}]
    assert run_json(capsys, "insights", "stu_4532", "--period", "2024") == []


def test_high_risk_riskiest_first(seeded, capsys):
    rows = run_json(capsys, "high-risk", "--type", "high_ib_call_frequency")
    assert [(r["entity_id"], r["risk_score"]) for r in rows] == [("stu_2203", 88), ("stu_4532", 82)]
    assert run_json(capsys, "high-risk", "--type", "high_ib_call_frequency", "--above", "88") == []


@pytest.mark.parametrize("argv", [
    ["low-health", "--below", "x"], ["low-health", "--below", "nan"], ["low-health", "--type", "planet"],
    ["low-health", "--limit", "0"], ["high-risk"], ["high-risk", "--type", " "], ["insights"],
    ["insights", " "], ["insights", "stu_1", "--period", ""],
])
def test_bad_input_is_a_usage_error(aws, capsys, argv):
    assert main([*AWS, *argv]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_human_output_is_a_table(seeded, capsys):
    assert main([*AWS, "low-health", "--below", "80"]) == 0
    out = capsys.readouterr().out
    for column in ("student_id", "health_score", "sessions_7d", "ib_calls_14d"):
        assert column in out
    assert out.index("stu_2203") < out.index("stu_4532")


# -- the scripts against an endpoint over HTTP -----------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def endpoint(dev_templates):
    import boto3

    from tools.cfn_tables import create_tables

    port = _free_port()
    server = subprocess.Popen([str(ROOT / ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                              aws_access_key_id="test", aws_secret_access_key="test")
        for _ in range(100):
            try:
                client.list_tables()
                break
            except Exception:
                time.sleep(0.1)
        create_tables(client, [dev_templates["IOpsDashboardDatabase"]])
        _seed(client)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def script(name: str, *argv: str, endpoint_url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=endpoint_url, COLUMNS="200")
    return subprocess.run([str(ROOT / "scripts" / name), *argv], capture_output=True, text=True, env=env,
                          timeout=60)


def test_query_metrics_script(endpoint):
    done = script("query-metrics.sh", "--json", endpoint_url=endpoint)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        {"student_id": "stu_2203", "health_score": 41, "sessions_7d": 0, "ib_calls_14d": 5}]
    table = script("query-metrics.sh", endpoint_url=endpoint)
    assert table.returncode == 0 and "student_id" in table.stdout and "stu_2203" in table.stdout


def test_query_insights_script(endpoint):
    done = script("query-insights.sh", "stu_4532", "--json", endpoint_url=endpoint)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["timestamp"] for r in rows] == ["2026-11-22T09:16:00Z", "2026-11-20T00:00:00Z",
                                              "2026-11-15T09:16:00Z", "2025-01-15T10:30:00Z"]
    default = script("query-insights.sh", "--json", endpoint_url=endpoint)
    assert default.returncode == 0 and json.loads(default.stdout) == []  # stu_test_001 has none


@pytest.mark.parametrize("name", ["query-metrics.sh", "query-insights.sh"])
def test_scripts_answer_one_line_when_no_endpoint_is_reachable(name):
    done = script(name, endpoint_url=f"http://127.0.0.1:{_free_port()}")
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the DynamoDB endpoint"), done.stderr
