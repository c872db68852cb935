"""Plan caps: monthly requests (429) and stored bytes (413), counted atomically."""

from __future__ import annotations

from lambda_src.common import clock
from lambda_src.common.requests import to_attr
from lambda_src.kv import plans, schema, store
from lambda_src.kv.meter import METER

from .conftest import table_env


def set_usage(aws, user_id: str, **fields) -> None:
    names = {f"#{k}": k for k in fields}
    aws.update_item(
        TableName=table_env()["TABLE_NAME"],
        Key={"PK": to_attr(schema.USER_PK.build(userId=user_id)), "SK": to_attr("METADATA")},
        UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={f":{k}": to_attr(v) for k, v in fields.items()},
    )


def user_id(kv) -> str:
    return kv.call("GET", "/me").body["userId"]


def test_monthly_request_cap_is_429_for_reads_and_writes(aws, kv):
    kv.call("PUT", "/namespaces/n")
    limit = plans.PLANS["free"].monthly_requests
    set_usage(aws, user_id(kv), requestCount=limit - 1)
    assert kv.call("PUT", "/namespaces/n/keys/last", body={"value": 1}).status == 201  # the last one
    for method, path, body in [("GET", "/namespaces/n/keys/last", None), ("GET", "/me", None),
                               ("PUT", "/namespaces/n/keys/k", {"value": 1}), ("GET", "/namespaces", None)]:
        reply = kv.call(method, path, body=body)
        assert (reply.status, reply.body["error"]) == (429, "request_limit_exceeded"), path


def test_the_write_itself_refuses_when_the_counter_raced_past_the_cap(aws, kv, monkeypatch):
    """The cap is a condition of the write transaction, not only a check on the auth read."""
    kv.call("PUT", "/namespaces/n")
    monkeypatch.setattr(store, "check_request_cap", lambda user: None)
    set_usage(aws, user_id(kv), requestCount=plans.PLANS["free"].monthly_requests)
    reply = kv.call("PUT", "/namespaces/n/keys/k", body={"value": 1})
    assert (reply.status, reply.body["error"]) == (429, "request_limit_exceeded")


def test_the_counter_restarts_each_month(aws, kv):
    kv.call("PUT", "/namespaces/n")
    set_usage(aws, user_id(kv), requestCount=plans.PLANS["free"].monthly_requests, usageMonth="2000-01")
    assert kv.call("PUT", "/namespaces/n/keys/k", body={"value": 1}).status == 201
    me = kv.call("GET", "/me").body
    assert me["requestCount"] == 2 and me["usageMonth"] == plans.current_month(clock.now())


def test_storage_cap_is_413_and_nothing_is_written(aws, kv):
    kv.call("PUT", "/namespaces/n")
    cap = plans.PLANS["free"].storage_bytes
    set_usage(aws, user_id(kv), storageBytes=cap - 10)
    assert kv.call("PUT", "/namespaces/n/keys/fits", body={"value": "x" * 8}).status == 201  # 10 bytes
    reply = kv.call("PUT", "/namespaces/n/keys/more", body={"value": "y"})
    assert (reply.status, reply.body["error"]) == (413, "storage_limit_exceeded")
    assert kv.call("GET", "/namespaces/n/keys/more").status == 404
    shrink = kv.call("PUT", "/namespaces/n/keys/fits", body={"value": "z"})  # shrinking is always allowed
    assert shrink.status == 200
    assert kv.call("GET", "/me").body["storageBytes"] == cap - 7


def test_paid_plans_have_higher_caps(aws, anon):
    pro_client, scale_client = anon.signup("pro@example.com"), anon.signup("scale@example.com")
    set_usage(aws, user_id(pro_client), plan="pro")  # plans are set by an operator, not by signup
    set_usage(aws, user_id(scale_client), plan="scale")
    pro = pro_client.call("GET", "/me").body["limits"]
    scale = scale_client.call("GET", "/me").body["limits"]
    free = plans.PLANS["free"]
    assert free.monthly_requests < pro["monthlyRequests"] < scale["monthlyRequests"]
    assert free.storage_bytes < pro["storageBytes"] < scale["storageBytes"]


def test_reads_are_metered_in_batches(aws, kv, monkeypatch):
    monkeypatch.setattr(METER, "flush_every", 3)
    me = kv.call("GET", "/me").body  # read 1: pending
    uid = me["userId"]
    kv.call("GET", "/namespaces")  # read 2: pending
    stored = lambda: int(aws.get_item(TableName=table_env()["TABLE_NAME"], Key={  # noqa: E731
        "PK": to_attr(schema.USER_PK.build(userId=uid)), "SK": to_attr("METADATA")})["Item"]["requestCount"]["N"])
    assert stored() == 0
    kv.call("GET", "/namespaces")  # read 3: flushed
    assert stored() == 3
    kv.call("GET", "/me")
    kv.call("PUT", "/namespaces/n")  # a write carries the pending read with it
    assert stored() == 5 and METER.peek(uid) == 0


def test_an_operator_changes_a_plan_with_the_admin_cli(aws, kv, capsys):
    import json as _json

    from tools.admin import main

    uid = user_id(kv)
    assert main(["--target", "aws", "--region", "us-east-1", "--json", "set-plan", uid, "pro"]) == 0
    out = _json.loads(capsys.readouterr().out)
    assert (out["userId"], out["plan"]) == (uid, "pro")
    assert kv.call("GET", "/me").body["limits"]["storageBytes"] == plans.PLANS["pro"].storage_bytes
    assert main(["--target", "aws", "--region", "us-east-1", "set-plan", uid, "platinum"]) == 2
    assert main(["--target", "aws", "--region", "us-east-1", "set-plan", "u_nobody", "pro"]) == 1
    missing = aws.get_item(TableName=table_env()["TABLE_NAME"],
                           Key={"PK": to_attr("USER#u_nobody"), "SK": to_attr("METADATA")})
    assert "Item" not in missing
