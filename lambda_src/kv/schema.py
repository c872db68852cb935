"""KV storage single-table design (SPEC §1.3).

The table name and the GSI name can be overridden by CDK context
(``tableName`` / ``gsiName``); the deployed names reach the handler through
its environment, and everything else comes from here.
"""

from __future__ import annotations

from lambda_src.common.hashing import sha256_hex
from lambda_src.common.schema_types import (
    AccessPattern,
    Attr,
    Attribute,
    Index,
    KeyFormat,
    Protection,
    RecordKind,
    SortCondition,
    TableSpec,
)

USER_PK = KeyFormat("USER#{userId}")
METADATA_SK = KeyFormat("METADATA")
APIKEY_GSI1PK = KeyFormat("APIKEY#{apiKeyHash}")
NS_MEMBER_SK = KeyFormat("NS#{ns}")
NS_PK = KeyFormat("NS#{ns}")
KEY_SK = KeyFormat("KEY#{key}")
# Namespace records project into GSI1 under their owner; keys under their namespace.
NS_GSI1PK = USER_PK
NS_GSI1SK = NS_MEMBER_SK
KEY_GSI1PK = NS_PK
KEY_GSI1SK = KEY_SK
# One email, one user: a claim item written in the user's signup transaction.
EMAIL_PK = KeyFormat("EMAIL#{emailHash}")
# Signups per source address and UTC hour: a conditional counter with a TTL.
SIGNUP_PK = KeyFormat("SIGNUP#{sourceHash}")
HOUR_SK = KeyFormat("HOUR#{hour}")
# ``entityType`` of every item.
USER_TYPE = "USER"
NAMESPACE_TYPE = "NAMESPACE"
KEY_TYPE = "KEY"

GSI1 = Index("GSI1", Attr("GSI1PK"), Attr("GSI1SK"))

# -- item attributes (docs) ------------------------------------------------------
_CREATED = Attribute("createdAt", "S", "ISO8601 timestamp")
_UPDATED = Attribute("updatedAt", "S", "ISO8601 timestamp of the last change")
RECORDS = (
    RecordKind(
        "user", "A user of the API; one email, one user.", USER_PK, METADATA_SK,
        attributes=(
            Attribute("PK", "S", "USER#{userId}"),
            Attribute("SK", "S", "METADATA"),
            Attribute("GSI1PK", "S", "APIKEY#{apiKeyHash}: SHA-256 of the API key"),
            Attribute("GSI1SK", "S", "METADATA"),
            Attribute("entityType", "S", "USER"),
            Attribute("userId", "S", "User id"),
            Attribute("email", "S", "Email address"),
            Attribute("plan", "S", "free, pro or scale (set by the server)"),
            Attribute("requestCount", "N", "Requests counted this period"),
            Attribute("storageBytes", "N", "Bytes stored across the user's keys"),
            _CREATED,
            _UPDATED,
        ),
    ),
    RecordKind(
        "namespace membership", "A user's membership of a namespace.", USER_PK, NS_MEMBER_SK,
        attributes=(
            Attribute("PK", "S", "USER#{userId}"),
            Attribute("SK", "S", "NS#{ns}"),
            Attribute("entityType", "S", "NAMESPACE"),
            Attribute("ns", "S", "Namespace name"),
            _CREATED,
        ),
    ),
    RecordKind(
        "namespace", "A namespace's metadata, listed under its owner in GSI1.", NS_PK, METADATA_SK,
        attributes=(
            Attribute("PK", "S", "NS#{ns}"),
            Attribute("SK", "S", "METADATA"),
            Attribute("GSI1PK", "S", "USER#{userId} (the owner)"),
            Attribute("GSI1SK", "S", "NS#{ns}"),
            Attribute("entityType", "S", "NAMESPACE"),
            Attribute("ns", "S", "Namespace name"),
            Attribute("ownerId", "S", "userId of the owner"),
            _CREATED,
            _UPDATED,
        ),
    ),
    RecordKind(
        "key", "A key of a namespace, listed by prefix in GSI1.", NS_PK, KEY_SK,
        attributes=(
            Attribute("PK", "S", "NS#{ns}"),
            Attribute("SK", "S", "KEY#{key}"),
            Attribute("GSI1PK", "S", "NS#{ns}"),
            Attribute("GSI1SK", "S", "KEY#{key}"),
            Attribute("entityType", "S", "KEY"),
            Attribute("ns", "S", "Namespace name"),
            Attribute("ownerId", "S", "userId of the namespace owner"),
            Attribute("key", "S", "Key name"),
            Attribute("value", "ANY", "The stored value: any JSON"),
            Attribute("version", "N", "Incremented on every write (optimistic concurrency)"),
            Attribute("size", "N", "Size of the stored value in bytes"),
            Attribute("ttl", "N", "Unix timestamp for auto-deletion", optional=True),
            _CREATED,
            _UPDATED,
        ),
    ),
)

_KEY_HASH = sha256_hex("kv_example_key_ada")
_SOURCE_KEY_HASH = sha256_hex("kv_example_key_user123")

TABLE = TableSpec(
    alias="kv.data",
    name_template="kv-storage-data",
    description="Users, namespaces and keys of the KV storage API in one table.",
    record_kinds=RECORDS,
    partition=Attr("PK"),
    sort=Attr("SK"),
    indexes=(GSI1,),
    ttl_attribute="ttl",
    dev=Protection(pitr=True, deletion_protection=False, retain=True),
    access_patterns=(
        AccessPattern("user-by-id", "A user's metadata.", USER_PK,
                      sort=SortCondition("=", METADATA_SK), get_item=True,
                      example={"userId": "u_ada"},
                      expect=({"PK": "USER#u_ada", "SK": "METADATA"},)),
        AccessPattern("user-by-api-key", "Authenticate: the user whose API-key hash matches.",
                      APIKEY_GSI1PK, index=GSI1.name,
                      example={"apiKeyHash": _KEY_HASH},
                      expect=({"PK": "USER#u_ada", "SK": "METADATA"},)),
        AccessPattern("user-namespaces", "The namespaces a user belongs to.", USER_PK,
                      sort=SortCondition("begins_with", KeyFormat("NS#")),
                      example={"userId": "u_ada"},
                      expect=({"PK": "USER#u_ada", "SK": "NS#config"},
                              {"PK": "USER#u_ada", "SK": "NS#sessions"})),
        AccessPattern("namespace", "A namespace's metadata.", NS_PK,
                      sort=SortCondition("=", METADATA_SK), get_item=True,
                      example={"ns": "config"},
                      expect=({"PK": "NS#config", "SK": "METADATA"},)),
        AccessPattern("key", "One key of a namespace.", NS_PK,
                      sort=SortCondition("=", KEY_SK), get_item=True,
                      example={"ns": "config", "key": "feature/dark-mode"},
                      expect=({"PK": "NS#config", "SK": "KEY#feature/dark-mode"},)),
        AccessPattern("namespace-keys", "Every key of a namespace from the base table "
                      "(strongly consistent: emptiness checks and force delete).", NS_PK,
                      sort=SortCondition("begins_with", KeyFormat("KEY#")),
                      example={"ns": "config"},
                      expect=({"PK": "NS#config", "SK": "KEY#feature/beta-search"},
                              {"PK": "NS#config", "SK": "KEY#feature/dark-mode"},
                              {"PK": "NS#config", "SK": "KEY#limits"})),
        AccessPattern("keys-by-prefix", "Keys of a namespace by prefix, in key order, paginated.",
                      KEY_GSI1PK, index=GSI1.name,
                      sort=SortCondition("begins_with", KeyFormat("KEY#{prefix}")),
                      example={"ns": "config", "prefix": "feature/"},
                      expect=({"PK": "NS#config", "SK": "KEY#feature/beta-search"},
                              {"PK": "NS#config", "SK": "KEY#feature/dark-mode"})),
    ),
    examples=(
        {"PK": "USER#u_ada", "SK": "METADATA", "entityType": "USER", "GSI1PK": f"APIKEY#{_KEY_HASH}",
         "GSI1SK": "METADATA", "userId": "u_ada", "email": "ada@example.com", "plan": "pro", "requestCount": 42,
         "storageBytes": 96, "createdAt": "2026-11-01T09:00:00Z", "updatedAt": "2026-11-22T09:00:00Z"},
        {"PK": "USER#u_ada", "SK": "NS#config", "entityType": "NAMESPACE", "ns": "config",
         "createdAt": "2026-11-01T09:01:00Z"},
        {"PK": "USER#u_ada", "SK": "NS#sessions", "entityType": "NAMESPACE", "ns": "sessions",
         "createdAt": "2026-11-01T09:02:00Z"},
        {"PK": "NS#config", "SK": "METADATA", "GSI1PK": "USER#u_ada", "GSI1SK": "NS#config",
         "entityType": "NAMESPACE", "ns": "config", "ownerId": "u_ada", "createdAt": "2026-11-01T09:01:00Z",
         "updatedAt": "2026-11-01T09:01:00Z"},
        {"PK": "NS#sessions", "SK": "METADATA", "GSI1PK": "USER#u_ada", "GSI1SK": "NS#sessions",
         "entityType": "NAMESPACE", "ns": "sessions", "ownerId": "u_ada", "createdAt": "2026-11-01T09:02:00Z",
         "updatedAt": "2026-11-01T09:02:00Z"},
        {"PK": "NS#config", "SK": "KEY#feature/dark-mode", "GSI1PK": "NS#config",
         "GSI1SK": "KEY#feature/dark-mode", "entityType": "KEY", "ns": "config", "ownerId": "u_ada",
         "key": "feature/dark-mode", "value": {"enabled": True},
         "version": 3, "size": 17, "createdAt": "2026-11-01T09:05:00Z", "updatedAt": "2026-11-20T09:05:00Z"},
        {"PK": "NS#config", "SK": "KEY#feature/beta-search", "GSI1PK": "NS#config",
         "GSI1SK": "KEY#feature/beta-search", "entityType": "KEY", "ns": "config", "ownerId": "u_ada",
         "key": "feature/beta-search", "value": {"enabled": False, "rollout": 0.1},
         "version": 1, "size": 35, "createdAt": "2026-11-02T09:05:00Z", "updatedAt": "2026-11-02T09:05:00Z"},
        {"PK": "NS#config", "SK": "KEY#limits", "GSI1PK": "NS#config", "GSI1SK": "KEY#limits",
         "entityType": "KEY", "ns": "config", "ownerId": "u_ada", "key": "limits", "value": {"max": 10},
         "version": 1, "size": 12,
         "createdAt": "2026-11-03T09:05:00Z", "updatedAt": "2026-11-03T09:05:00Z"},
        {"PK": "NS#sessions", "SK": "KEY#sess-81f2", "GSI1PK": "NS#sessions", "GSI1SK": "KEY#sess-81f2",
         "entityType": "KEY", "ns": "sessions", "ownerId": "u_ada", "key": "sess-81f2", "value": {"user": "ada"},
         "version": 1, "size": 15, "ttl": 4102444800,
         "createdAt": "2026-11-22T09:05:00Z", "updatedAt": "2026-11-22T09:05:00Z"},
        # The source design's sample items.
        {"PK": "USER#user123", "SK": "METADATA", "entityType": "USER", "GSI1PK": f"APIKEY#{_SOURCE_KEY_HASH}",
         "GSI1SK": "METADATA", "userId": "user123", "email": "user@example.com", "plan": "free",
         "requestCount": 0, "storageBytes": 46, "createdAt": "2026-11-01T10:00:00Z",
         "updatedAt": "2026-11-01T10:00:00Z"},
        {"PK": "USER#user123", "SK": "NS#myapp", "entityType": "NAMESPACE", "ns": "myapp",
         "createdAt": "2026-11-01T10:01:00Z"},
        {"PK": "NS#myapp", "SK": "METADATA", "GSI1PK": "USER#user123", "GSI1SK": "NS#myapp",
         "entityType": "NAMESPACE", "ns": "myapp", "ownerId": "user123", "createdAt": "2026-11-01T10:01:00Z",
         "updatedAt": "2026-11-01T10:01:00Z"},
        {"PK": "NS#myapp", "SK": "KEY#user:123", "GSI1PK": "NS#myapp", "GSI1SK": "KEY#user:123",
         "entityType": "KEY", "ns": "myapp", "ownerId": "user123", "key": "user:123",
         "value": {"name": "John Doe", "email": "john@example.com"}, "version": 1, "size": 46,
         "createdAt": "2026-11-01T10:02:00Z", "updatedAt": "2026-11-01T10:02:00Z"},
    ),
)

TABLES = (TABLE,)
