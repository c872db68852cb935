"""The query CLI against moto tables seeded with the schema's example items."""

from __future__ import annotations

import json

import pytest

from lambda_src.common.requests import to_item
from lambda_src.iops import schema
from tools import iops_queries


@pytest.fixture
def seeded(aws):
    for spec in schema.TABLES:
        for item in spec.examples:
            aws.put_item(TableName=spec.table_name("dev"), Item=to_item(item))
    # a second low-health tutor and an insight of another type, to prove filtering
    aws.put_item(TableName=schema.METRICS.table_name("dev"), Item=to_item({
        "entity_id": "tut_0500", "entity_type": "tutor", "health_score": 55,
        "last_updated": "2026-11-22T10:00:00Z"}))
    aws.put_item(TableName=schema.INSIGHTS.table_name("dev"), Item=to_item({
        "pk": "insight#stu_4532", "sk": "2026-11-20T00:00:00Z", "entity_id": "stu_4532",
        "prediction_type": "support_escalation", "risk_score": 99,
        "timestamp": "2026-11-20T00:00:00Z", "ttl": 4102444800}))
    return aws


def run_json(client, capsys, *argv):
    assert iops_queries.main([*argv, "--json"] if argv[0].startswith("-") else ["--json", *argv],
                             client=client) == 0
    return json.loads(capsys.readouterr().out)


def ids(items, key="entity_id"):
    return [i[key] for i in items]


def test_low_health_students_worst_first(seeded, capsys):
    items = run_json(seeded, capsys, "low-health", "--below", "70")
    assert ids(items) == ["stu_2203", "stu_4532"]
    assert [i["health_score"] for i in items] == [41, 62]
    assert "days" not in items[0] and "version" not in items[0]
    assert ids(run_json(seeded, capsys, "low-health", "--below", "89")) == ["stu_2203", "stu_4532", "stu_1001"]
    assert ids(run_json(seeded, capsys, "low-health", "--below", "70", "--type", "tutor")) == ["tut_0500"]


def test_recent_newest_first(seeded, capsys):
    assert ids(run_json(seeded, capsys, "recent")) == ["stu_4532", "stu_1001", "stu_2203"]
    assert ids(run_json(seeded, capsys, "recent", "--type", "tutor")) == ["tut_0500", "tut_0077"]
    assert ids(run_json(seeded, capsys, "recent", "--limit", "1")) == ["stu_4532"]


def test_high_risk_riskiest_first(seeded, capsys):
    items = run_json(seeded, capsys, "high-risk", "--type", "churn_risk", "--above", "80")
    assert [(i["entity_id"], i["risk_score"]) for i in items] == [("stu_2203", 93), ("stu_4532", 84)]
    assert run_json(seeded, capsys, "high-risk", "--type", "churn_risk", "--above", "93") == []


def test_entity_insights_latest_ten_newest_first(seeded, capsys):
    table = schema.INSIGHTS.table_name("dev")
    for day in range(1, 13):
        seeded.put_item(TableName=table, Item=to_item({
            "pk": "insight#stu_7", "sk": f"2026-10-{day:02d}T00:00:00Z", "entity_id": "stu_7",
            "prediction_type": "churn_risk", "risk_score": day, "timestamp": f"2026-10-{day:02d}T00:00:00Z"}))
    items = run_json(seeded, capsys, "insights", "stu_7")
    assert ids(items, "sk") == [f"2026-10-{d:02d}T00:00:00Z" for d in range(12, 2, -1)]
    items = run_json(seeded, capsys, "insights", "stu_4532")
    assert ids(items, "sk") == ["2026-11-22T09:16:00Z", "2026-11-20T00:00:00Z", "2026-11-15T09:16:00Z"]


def test_table_output_by_default(seeded, capsys):
    assert iops_queries.main(["low-health", "--below", "70"], client=seeded) == 0
    out = capsys.readouterr().out
    assert "stu_2203" in out and "stu_4532" in out and "health_score" in out
    assert out.index("stu_2203") < out.index("stu_4532")
    assert "2 item(s)" in out


def test_each_query_is_one_request_on_the_declared_index(seeded, capsys):
    from tools.bench.counting import count_requests

    seen = []
    seeded.meta.events.register("before-parameter-build.dynamodb", lambda params, model, **_: seen.append(
        (model.name, params.get("IndexName"))), unique_id="iops-q")
    try:
        with count_requests(seeded) as counter:
            for argv in (["low-health"], ["recent"], ["high-risk", "--type", "churn_risk"],
                         ["insights", "stu_4532"]):
                run_json(seeded, capsys, *argv)
    finally:
        seeded.meta.events.unregister("before-parameter-build.dynamodb", unique_id="iops-q")
    assert counter.total == 4
    assert seen == [("Query", "EntityTypeHealthIndex"), ("Query", "LastUpdatedIndex"),
                    ("Query", "RiskScoreIndex"), ("Query", None)]


@pytest.mark.parametrize("argv", [
    ["low-health", "--below", "abc"],
    ["low-health", "--type", "planet"],
    ["high-risk", "--above", "80"],
    ["high-risk", "--type", " "],
    ["insights"],
    ["recent", "--limit", "0"],
    ["nonsense"],
])
def test_bad_input_is_one_line_and_exit_2(aws, capsys, argv):
    assert iops_queries.main(argv, client=aws) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err


def test_unreachable_endpoint_is_one_line_and_exit_1(capsys):
    code = iops_queries.main(["--endpoint-url", "http://127.0.0.1:9", "low-health"])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot reach") and "\n" not in err


def test_local_target_reads_local_port(monkeypatch):
    from tools.admin.connect import local_endpoint

    monkeypatch.setenv("LOCAL_PORT", "4999")
    assert local_endpoint() == "http://localhost:4999"
