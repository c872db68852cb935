"""Admin and query CLI for every table declared in ``lambda_src/*/schema.py``.

Run it as ``python -m tools.admin`` (or ``bin/dynamo-admin``). Table names,
keys, indexes and access patterns all come from the schema declarations, so
the tool cannot drift from the deployed tables.
"""

from tools.admin.cli import main

__all__ = ["main"]
