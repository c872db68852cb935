"""Every table of every product, for the tools and tests that work across products.

It imports all four product schemas, so it lives with the tools: a Lambda bundle
holds one product only.
"""

from __future__ import annotations

from lambda_src.common.schema_types import TableSpec
from lambda_src.dephealth import schema as dephealth
from lambda_src.iops import schema as iops
from lambda_src.kv import schema as kv
from lambda_src.mfh import schema as mfh

PRODUCTS: dict[str, tuple[TableSpec, ...]] = {
    "dephealth": dephealth.TABLES,
    "mfh": mfh.TABLES,
    "kv": kv.TABLES,
    "iops": iops.TABLES,
}

ALL_TABLES: tuple[TableSpec, ...] = tuple(t for tables in PRODUCTS.values() for t in tables)


def find_table(name: str, stage: str = "dev") -> TableSpec:
    """Look a table up by alias (``mfh.users``) or deployed name (``mfh-dev-users``)."""
    for spec in ALL_TABLES:
        if name in (spec.alias, spec.table_name(stage)):
            return spec
    raise KeyError(name)
