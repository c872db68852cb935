"""docs/database-schema.md is generated from the schemas and must be current."""

from tools import docs_gen


def test_schema_doc_is_current():
    assert docs_gen.TARGET.read_text() == docs_gen.render(), "stale: run `make docs`"


def test_schema_doc_names_every_table_index_and_pattern():
    from lambda_src.common.catalog import ALL_TABLES

    text = docs_gen.render()
    for spec in ALL_TABLES:
        assert f"`{spec.name_template}`" in text
        for index in spec.indexes:
            assert f"`{index.name}`" in text
        for pattern in spec.access_patterns:
            assert f"`{pattern.name}`" in text
