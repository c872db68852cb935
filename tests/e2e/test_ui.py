"""`make ui`: dynamodb-admin against the local endpoint lists every deployed table."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tools.catalog import ALL_TABLES
from tools.local import endpoint, ui

pytestmark = pytest.mark.e2e


def test_dynamodb_admin_lists_the_tables(deployment):
    ui_port = endpoint.free_port()
    proc = ui.start(deployment.port, ui_port)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/api/tables", timeout=10) as response:
            tables = json.load(response)
        names = {t["TableName"] if isinstance(t, dict) else t for t in tables}
        deployed = {t.name for t in deployment.tables}
        assert len(deployed) == len(ALL_TABLES) == 15
        assert deployed <= names, deployed - names
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/", timeout=10) as response:
            page = response.read().decode()
        assert all(name in page for name in deployed), "the page lists every table"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert not endpoint.port_in_use(ui_port)
