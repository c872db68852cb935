"""The KV store's operations, by concern (this module gathers them for the API layer):

- ``usage``: the table client and names, usage accounting, the write-with-usage loop
- ``users``: signup and API-key authentication
- ``namespaces``: listing, creation and deletion of namespaces
- ``keys``: get, put, delete and prefix listings of keys
- ``cursor``: signed paging cursors

Every key format, index name and access pattern comes from ``schema``; the
deployed table and GSI names come from the environment (``TABLE_NAME``,
``GSI_NAME``). Domain code raises ``lambda_src.kv.errors``; only the API layer
maps them to HTTP.
"""

from __future__ import annotations

from lambda_src.kv.keys import delete_key, get_key, list_keys, public_key, put_key
from lambda_src.kv.namespaces import create_namespace, delete_namespace, list_namespaces, namespace_exists
from lambda_src.kv.usage import (
                                 DEFAULT_PAGE,
                                 DELETE_BATCH,
                                 MAX_PAGE,
                                 check_request_cap,
                                 dynamodb,
                                 record_read,
                                 table_name,
)
from lambda_src.kv.users import authenticate, count_signup, create_user, signup_source

__all__ = [
    "DEFAULT_PAGE", "DELETE_BATCH", "MAX_PAGE", "authenticate", "check_request_cap", "count_signup",
    "create_namespace", "create_user", "delete_key", "delete_namespace", "dynamodb", "get_key",
    "list_keys", "list_namespaces", "namespace_exists", "public_key", "put_key", "record_read",
    "signup_source", "table_name",
]
