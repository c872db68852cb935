"""Caller text never becomes DynamoDB expression syntax.

Names go through ``ExpressionAttributeNames`` and values through
``ExpressionAttributeValues``; an expression string only ever holds the
placeholders the code wrote. A hostile name or value must therefore be
stored literally, or rejected, and never change which items a request reads
or writes.
"""

from __future__ import annotations

import re

from lambda_src.common.requests import build_request, from_item, to_item
from tools.admin.connect import Connection
from tools.admin.core import update_item
from tools.catalog import find_table

HOSTILE = [
    "x) OR attribute_exists(#pk",
    ":pk, helper_id = :s0",
    "#k0 = :s0 REMOVE account_id",
    "a = b, c",
]
PLACEHOLDER_ONLY = re.compile(r"^[#:\w\s=<>(),.]*$")


def _expressions(kwargs: dict) -> list[str]:
    return [v for k, v in kwargs.items() if k.endswith("Expression")]


def test_query_parameters_become_values_not_expression_text():
    spec = find_table("mfh.users")
    for hostile in HOSTILE:
        _op, kwargs = build_request(spec, spec.pattern("user-by-email"), {"email": hostile},
                                    table_name="t")
        assert hostile in [v["S"] for v in kwargs["ExpressionAttributeValues"].values()]
        for expression in _expressions(kwargs):
            assert hostile not in expression
            assert PLACEHOLDER_ONLY.match(expression), expression


def test_admin_update_stores_hostile_names_and_values_literally(aws):
    spec = find_table("mfh.helpers")
    table = spec.table_name("dev")
    aws.put_item(TableName=table, Item=to_item({"helper_id": "hlp_1", "account_id": "acc_1"}))
    conn = Connection(client=aws, target="local", endpoint=None)
    sent: list[dict] = []

    def record(params, **_):
        sent.append(dict(params))

    event = "provide-client-params.dynamodb.UpdateItem"
    aws.meta.events.register(event, record)
    sets = {name: value for name, value in zip(HOSTILE, reversed(HOSTILE), strict=True)}
    try:
        item = update_item(conn, spec, {"helper_id": "hlp_1"}, sets, [], "dev")
    finally:
        aws.meta.events.unregister(event, record)

    assert {name: item[name] for name in HOSTILE} == sets
    assert item["account_id"] == "acc_1"  # nothing removed by a name that reads like REMOVE
    stored = from_item(aws.get_item(TableName=table, Key=to_item({"helper_id": "hlp_1"}),
                                    ConsistentRead=True)["Item"])
    assert stored == {"helper_id": "hlp_1", "account_id": "acc_1", **sets}
    (request,) = sent
    for expression in _expressions(request):
        assert all(hostile not in expression for hostile in HOSTILE)
        assert PLACEHOLDER_ONLY.match(expression), expression
