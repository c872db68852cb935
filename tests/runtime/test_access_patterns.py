"""Every declared access pattern, run as one GetItem/Query on moto tables.

The tables come from the synthesized template (the ``aws`` fixture); the
items are each table's declared examples. A pattern whose key has a sort key
must return its items in the declared order; without one, order is free.
"""

from __future__ import annotations

import pytest

from lambda_src.common.requests import build_request, from_item, to_item
from lambda_src.common.schema_types import iter_patterns
from tools.bench.counting import count_requests
from tools.catalog import ALL_TABLES

PATTERNS = list(iter_patterns(ALL_TABLES))


def load_examples(client, specs=ALL_TABLES) -> None:
    for spec in specs:
        for item in spec.examples:
            client.put_item(TableName=spec.table_name("dev"), Item=to_item(item))


def test_every_table_declares_patterns_and_examples():
    for spec in ALL_TABLES:
        assert spec.access_patterns, spec.alias
        assert spec.examples, spec.alias
        for item in spec.examples:
            spec.key_of(item)  # every example carries its full primary key


@pytest.mark.parametrize(
    "spec,pattern", PATTERNS, ids=[f"{s.alias}:{p.name}" for s, p in PATTERNS]
)
def test_access_pattern_returns_expected_items(aws, spec, pattern):
    load_examples(aws, [spec])
    operation, kwargs = build_request(spec, pattern, pattern.example, table_name=spec.table_name("dev"))
    assert operation in ("GetItem", "Query")
    with count_requests(aws) as counter:
        response = getattr(aws, "get_item" if operation == "GetItem" else "query")(**kwargs)
    assert counter.total == 1, "an access pattern is exactly one request"

    items = [response["Item"]] if "Item" in response else response.get("Items", [])
    got = [spec.key_of(from_item(item)) for item in items]
    expected = [spec.key_of(key) for key in pattern.expect]
    assert expected, f"{pattern.name} declares no expected result"
    _, sort_attr = spec.pattern_keys(pattern)
    if sort_attr is None:
        assert sorted(map(repr, got)) == sorted(map(repr, expected))
    else:
        assert got == expected


def test_keys_only_index_returns_only_keys(aws):
    from lambda_src.dephealth.schema import PACKAGES

    load_examples(aws, [PACKAGES])
    pattern = PACKAGES.pattern("packages-by-risk-level")
    _, kwargs = build_request(PACKAGES, pattern, pattern.example, table_name="dephealth-packages")
    for item in aws.query(**kwargs)["Items"]:
        assert set(item) == {"pk", "sk", "risk_level", "last_updated"}
