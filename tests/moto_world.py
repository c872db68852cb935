"""One moto world per test session, reset between tests.

Creating a mock, a client and every table for each test costs ~0.35 s; the
suite has hundreds of tests. Instead the tables are created once from the
synthesized templates, and before each test every table is emptied (items
and stream records) and every other moto service is reset, so each test
still starts from empty tables and a blank account.
"""

from __future__ import annotations

from collections import defaultdict

from moto.core.base_backend import BackendDict
from moto.dynamodb.models import dynamodb_backends

from tools.cfn_tables import create_table_kwargs, create_tables, table_properties


def reset_world(client, templates) -> None:
    for backend in list(BackendDict._instances):
        if backend is dynamodb_backends:
            continue
        for account_backend in backend.values():
            account_backend.reset()
        backend.clear()
    wanted = {create_table_kwargs(p)["TableName"] for p in table_properties(templates)}
    present: set[str] = set()
    for account_backend in dynamodb_backends.values():
        for region_backend in account_backend.values():
            for name, table in list(region_backend.tables.items()):
                if name not in wanted:
                    del region_backend.tables[name]
                    continue
                present.add(name)
                table.items = defaultdict(dict)
                if table.stream_shard is not None:
                    table.stream_shard.items = []
    if present != wanted:  # a test dropped a table: rebuild every table from the template
        for account_backend in dynamodb_backends.values():
            for region_backend in account_backend.values():
                region_backend.tables.clear()
        create_tables(client, templates)
