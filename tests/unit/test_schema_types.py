"""The schema types: key formats, coercion, pattern requests, validation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lambda_src.common.requests import build_request, from_item, to_item
from lambda_src.common.schema_types import (
    AccessPattern,
    Attr,
    Index,
    KeyFormat,
    SchemaError,
    TableSpec,
)
from lambda_src.iops.schema import METRICS
from lambda_src.kv.schema import TABLE as KV
from tools.catalog import ALL_TABLES, find_table


def test_key_format_builds_parses_and_prefixes():
    fmt = KeyFormat("demo#{ip}")
    assert fmt.build(ip="1.2.3.4") == "demo#1.2.3.4"
    assert fmt.parse("demo#1.2.3.4") == {"ip": "1.2.3.4"}
    assert fmt.prefix == "demo#"
    assert fmt.params == ("ip",)
    with pytest.raises(SchemaError, match="missing key part"):
        fmt.build()
    with pytest.raises(SchemaError):
        fmt.parse("other#1")


def test_number_attributes_are_coerced_and_checked():
    assert Attr("n", "N").coerce("70") == Decimal("70")
    with pytest.raises(SchemaError, match="must be a number"):
        Attr("n", "N").coerce("abc")
    with pytest.raises(SchemaError, match="must be a string"):
        Attr("s").coerce(5)


def test_query_uses_placeholders_and_numeric_sort_values():
    op, kwargs = build_request(
        METRICS, METRICS.pattern("low-health"), {"entity_type": "student", "health_score": 70},
        table_name="t",
    )
    assert op == "Query"
    assert kwargs["KeyConditionExpression"] == "#pk = :pk AND #sk < :sk"
    assert kwargs["ExpressionAttributeValues"][":sk"] == {"N": "70"}
    assert kwargs["IndexName"] == "EntityTypeHealthIndex"


def test_begins_with_accepts_an_empty_prefix():
    _, kwargs = build_request(KV, KV.pattern("keys-by-prefix"), {"ns": "config"}, table_name="t")
    assert kwargs["ExpressionAttributeValues"][":sk"] == {"S": "KEY#"}


def test_bad_parameters_are_schema_errors():
    with pytest.raises(SchemaError, match="unknown parameter"):
        build_request(KV, KV.pattern("key"), {"ns": "a", "key": "b", "x": 1}, table_name="t")
    with pytest.raises(SchemaError, match="missing key part"):
        build_request(KV, KV.pattern("key"), {"ns": "a"}, table_name="t")
    with pytest.raises(SchemaError, match="must be a number"):
        build_request(METRICS, METRICS.pattern("low-health"),
                      {"entity_type": "student", "health_score": "abc"}, table_name="t")


def test_spec_rejects_pattern_on_undeclared_index():
    with pytest.raises(SchemaError, match="unknown index"):
        TableSpec(alias="x.t", name_template="t", description="", partition=Attr("pk"),
                  access_patterns=(AccessPattern("p", "", KeyFormat("{a}"), index="Nope"),))


def test_renaming_an_index_renames_its_patterns():
    renamed = KV.with_index_renamed("GSI1", "ByNs")
    assert renamed.index("ByNs").partition.name == "GSI1PK"
    assert renamed.pattern("keys-by-prefix").index == "ByNs"
    assert KV.pattern("keys-by-prefix").index == "GSI1"


def test_items_round_trip_through_attribute_values():
    item = {"a": 1, "b": 2.5, "c": ["x", {"d": True}], "e": None}
    assert from_item(to_item(item)) == item


def test_catalog_finds_tables_by_alias_and_name():
    assert find_table("mfh.users").alias == "mfh.users"
    assert find_table("mfh-prod-users", stage="prod").alias == "mfh.users"
    with pytest.raises(KeyError):
        find_table("nope")
    assert len({t.alias for t in ALL_TABLES}) == len(ALL_TABLES) == 15


def test_attribute_types_cover_every_key_and_index_key():
    types = METRICS.attribute_types
    assert types == {"entity_id": "S", "entity_type": "S", "health_score": "N", "last_updated": "S"}
    assert Index("i", Attr("a")).key_names == ("a",)
