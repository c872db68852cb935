"""The deployed tables: each matches its template, holds its sample data and serves every access pattern."""

from __future__ import annotations

import pytest

from lambda_src.common.requests import build_request, from_item
from lambda_src.common.schema_types import iter_patterns
from tools.catalog import ALL_TABLES
from tools.local.deploy import renamed_spec
from tools.local.fidelity import DIFFERS, UNREPORTED, compare, describe

pytestmark = pytest.mark.e2e

PATTERNS = list(iter_patterns(ALL_TABLES))


def _deployed(deployment, spec):
    for table in deployment.tables:
        if table.spec is not None and table.spec.alias == spec.alias:
            return table
    pytest.fail(f"{spec.alias}: no deployed table matches the declaration; deployed: "
                f"{', '.join(t.name for t in deployment.tables)}")


def test_every_declared_table_is_deployed_once(deployment):
    aliases = [t.spec.alias for t in deployment.tables if t.spec is not None]
    assert sorted(aliases) == sorted(s.alias for s in ALL_TABLES)
    assert all(t.spec is not None for t in deployment.tables), [t.name for t in deployment.tables]


@pytest.mark.parametrize("spec", ALL_TABLES, ids=[s.alias for s in ALL_TABLES])
def test_table_matches_its_template(deployment, aws, spec):
    table = _deployed(deployment, spec)
    report = compare(table.props, *describe(aws("dynamodb"), table.name), name=table.name)
    differs = [f"{c.prop}: template {c.expected}, endpoint {c.actual}" for c in report.checks
               if c.status == DIFFERS]
    assert not differs, f"{table.name}: " + "; ".join(differs)
    # SSE is the one property the emulator does not report (see docs/local-deploy.md).
    unreported = {c.prop for c in report.checks if c.status == UNREPORTED}
    assert unreported <= {"SSE"}, unreported
    checked = {c.prop for c in report.checks}
    assert {"key schema", "billing mode", "TTL", "PITR", "stream"} <= checked
    assert {f"GSI {i.name}" for i in renamed_spec(spec, table.props).indexes} <= checked


@pytest.mark.parametrize("spec", ALL_TABLES, ids=[s.alias for s in ALL_TABLES])
def test_sample_data_is_loaded(deployment, spec):
    table = _deployed(deployment, spec)
    assert table.items >= len(spec.examples), table.name


@pytest.mark.parametrize("spec,pattern", PATTERNS, ids=[f"{s.alias}:{p.name}" for s, p in PATTERNS])
def test_access_pattern_through_the_endpoint(deployment, aws, spec, pattern):
    table = _deployed(deployment, spec)
    deployed_spec = renamed_spec(spec, table.props)
    deployed_pattern = deployed_spec.pattern(pattern.name)
    operation, kwargs = build_request(deployed_spec, deployed_pattern, pattern.example, table_name=table.name)
    ddb = aws("dynamodb")
    response = getattr(ddb, "get_item" if operation == "GetItem" else "query")(**kwargs)
    items = [response["Item"]] if "Item" in response else response.get("Items", [])
    got = [spec.key_of(from_item(item)) for item in items]
    expected = [spec.key_of(key) for key in pattern.expect]
    assert expected, f"{pattern.name} declares no expected result"
    _, sort_attr = deployed_spec.pattern_keys(deployed_pattern)
    # Other e2e tests may add items; the declared sample result is there, in order.
    got_declared = [key for key in got if key in expected]
    if sort_attr is None:
        assert sorted(map(repr, got_declared)) == sorted(map(repr, expected))
    else:
        assert got_declared == expected
