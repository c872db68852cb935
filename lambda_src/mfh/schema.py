"""MyFusion Helper tables (SPEC §1.2): ten tables named ``mfh-{stage}-<name>``.

Every table keeps deletion protection in every stage except ``oauth-states``,
which holds short-lived OAuth handshakes and is disposable by design.
"""

from __future__ import annotations

from lambda_src.common.schema_types import (
    AccessPattern,
    Attr,
    Attribute,
    Index,
    KeyFormat,
    Protection,
    TableSpec,
)

USER_ID = KeyFormat("user:{cognito_sub}")

# Deletion protection everywhere; dev also keeps the data if a stack goes away.
_PROTECTED = Protection(pitr=False, deletion_protection=True, retain=True)
_PROTECTED_PITR = Protection(pitr=True, deletion_protection=True, retain=True)
_DISPOSABLE = Protection(pitr=False, deletion_protection=False, retain=False)

_U1 = "user:0f9c7a52-1111-4c2e-9d1e-6b0a2c3d4e5f"
_U2 = "user:7ab31c08-2222-4f4b-8e8e-1a2b3c4d5e6f"
_ACC = "acc_01HZX3"


def _by(field: str) -> KeyFormat:
    return KeyFormat("{" + field + "}")


def _name(table: str) -> str:
    return "mfh-{stage}-" + table


USERS = TableSpec(
    alias="mfh.users",
    name_template=_name("users"),
    description="Platform users, keyed by user:{cognito-sub}.",
    attributes=(
        Attribute("user_id", "S", "user:{cognito-sub}"),
        Attribute("cognito_user_id", "S", "The user's Cognito sub (CognitoUserIdIndex)"),
        Attribute("email", "S", "Email address (EmailIndex)"),
        Attribute("name", "S", "Display name"),
        Attribute("created_at", "S", "ISO8601 timestamp"),
    ),
    partition=Attr("user_id"),
    indexes=(Index("EmailIndex", Attr("email")), Index("CognitoUserIdIndex", Attr("cognito_user_id"))),
    stream="NEW_AND_OLD_IMAGES",
    dev=_PROTECTED_PITR,
    access_patterns=(
        AccessPattern("user-by-id", "A user by id.", _by("user_id"), get_item=True,
                      example={"user_id": _U1}, expect=({"user_id": _U1},)),
        AccessPattern("user-by-email", "A user by email address.", _by("email"),
                      index="EmailIndex", example={"email": "maria@example.com"},
                      expect=({"user_id": _U1},)),
        AccessPattern("user-by-cognito-sub", "A user by Cognito sub.", _by("cognito_user_id"),
                      index="CognitoUserIdIndex",
                      example={"cognito_user_id": "7ab31c08-2222-4f4b-8e8e-1a2b3c4d5e6f"},
                      expect=({"user_id": _U2},)),
    ),
    examples=(
        {"user_id": _U1, "cognito_user_id": "0f9c7a52-1111-4c2e-9d1e-6b0a2c3d4e5f",
         "email": "maria@example.com", "name": "Maria Lopez", "created_at": "2026-09-01T10:00:00Z"},
        {"user_id": _U2, "cognito_user_id": "7ab31c08-2222-4f4b-8e8e-1a2b3c4d5e6f",
         "email": "dev@example.com", "name": "Dev Patel", "created_at": "2026-09-03T10:00:00Z"},
    ),
)

ACCOUNTS = TableSpec(
    alias="mfh.accounts",
    name_template=_name("accounts"),
    description="Customer accounts (workspaces), each with an owner.",
    attributes=(
        Attribute("account_id", "S", "Account (workspace) id"),
        Attribute("owner_user_id", "S", "user_id of the owner (OwnerUserIdIndex)"),
        Attribute("name", "S", "Account name"),
        Attribute("plan", "S", "Subscription plan"),
        Attribute("created_at", "S", "ISO8601 timestamp"),
    ),
    partition=Attr("account_id"),
    indexes=(Index("OwnerUserIdIndex", Attr("owner_user_id")),),
    stream="NEW_AND_OLD_IMAGES",
    dev=_PROTECTED_PITR,
    access_patterns=(
        AccessPattern("account-by-id", "An account by id.", _by("account_id"), get_item=True,
                      example={"account_id": _ACC}, expect=({"account_id": _ACC},)),
        AccessPattern("accounts-owned-by-user", "Accounts a user owns.", _by("owner_user_id"),
                      index="OwnerUserIdIndex", example={"owner_user_id": _U1},
                      expect=({"account_id": _ACC},)),
    ),
    examples=(
        {"account_id": _ACC, "owner_user_id": _U1, "name": "Lopez Fitness",
         "plan": "growth", "created_at": "2026-09-01T10:05:00Z"},
    ),
)

USER_ACCOUNTS = TableSpec(
    alias="mfh.user-accounts",
    name_template=_name("user-accounts"),
    description="Membership of users in accounts, with their role.",
    attributes=(
        Attribute("user_id", "S", "The member's user_id"),
        Attribute("account_id", "S", "The account (AccountIdIndex)"),
        Attribute("role", "S", "owner, admin or member"),
        Attribute("linked_at", "S", "ISO8601 timestamp: when the user was linked to the account"),
    ),
    partition=Attr("user_id"),
    sort=Attr("account_id"),
    indexes=(Index("AccountIdIndex", Attr("account_id")),),
    dev=_PROTECTED_PITR,
    access_patterns=(
        AccessPattern("user-accounts", "The accounts a user belongs to.", _by("user_id"),
                      example={"user_id": _U2}, expect=({"user_id": _U2, "account_id": _ACC},)),
        AccessPattern("account-members", "The members of an account.", _by("account_id"),
                      index="AccountIdIndex", example={"account_id": _ACC},
                      expect=({"user_id": _U1, "account_id": _ACC},
                              {"user_id": _U2, "account_id": _ACC})),
    ),
    examples=(
        {"user_id": _U1, "account_id": _ACC, "role": "owner", "linked_at": "2026-09-01T10:05:00Z"},
        {"user_id": _U2, "account_id": _ACC, "role": "member", "linked_at": "2026-09-04T08:00:00Z"},
    ),
)

API_KEYS = TableSpec(
    alias="mfh.api-keys",
    name_template=_name("api-keys"),
    description="Account API keys, stored only as SHA-256 key_hash.",
    attributes=(
        Attribute("key_id", "S", "API key id"),
        Attribute("account_id", "S", "Owning account (AccountIdIndex)"),
        Attribute("key_hash", "S", "SHA-256 of the key (KeyHashIndex); the key itself is never stored"),
        Attribute("name", "S", "Label given by the account"),
        Attribute("created_at", "S", "ISO8601 timestamp"),
    ),
    partition=Attr("key_id"),
    indexes=(Index("AccountIdIndex", Attr("account_id")), Index("KeyHashIndex", Attr("key_hash"))),
    dev=_PROTECTED,
    access_patterns=(
        AccessPattern("api-key-by-hash", "Authenticate: the key whose hash matches.",
                      _by("key_hash"), index="KeyHashIndex",
                      example={"key_hash": "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"},
                      expect=({"key_id": "key_01"},)),
        AccessPattern("account-api-keys", "The API keys of an account.", _by("account_id"),
                      index="AccountIdIndex", example={"account_id": _ACC},
                      expect=({"key_id": "key_01"},)),
    ),
    examples=(
        {"key_id": "key_01", "account_id": _ACC, "name": "zapier",
         "key_hash": "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
         "created_at": "2026-09-02T12:00:00Z"},
    ),
)

CONNECTIONS = TableSpec(
    alias="mfh.connections",
    name_template=_name("connections"),
    description="An account's connections to third-party platforms.",
    attributes=(
        Attribute("connection_id", "S", "Connection id"),
        Attribute("account_id", "S", "Owning account (AccountIdIndex)"),
        Attribute("platform_id", "S", "The connected platform"),
        Attribute("status", "S", "active, expired or revoked"),
        Attribute("created_at", "S", "ISO8601 timestamp"),
    ),
    partition=Attr("connection_id"),
    indexes=(Index("AccountIdIndex", Attr("account_id")),),
    dev=_PROTECTED,
    access_patterns=(
        AccessPattern("connection-by-id", "A connection by id.", _by("connection_id"),
                      get_item=True, example={"connection_id": "conn_keap_1"},
                      expect=({"connection_id": "conn_keap_1"},)),
        AccessPattern("account-connections", "The connections of an account.", _by("account_id"),
                      index="AccountIdIndex", example={"account_id": _ACC},
                      expect=({"connection_id": "conn_keap_1"},)),
    ),
    examples=(
        {"connection_id": "conn_keap_1", "account_id": _ACC, "platform_id": "plat_keap",
         "status": "active", "created_at": "2026-09-02T12:30:00Z"},
    ),
)

HELPERS = TableSpec(
    alias="mfh.helpers",
    name_template=_name("helpers"),
    description="Configured automation helpers of an account.",
    attributes=(
        Attribute("helper_id", "S", "Helper id"),
        Attribute("account_id", "S", "Owning account (AccountIdIndex)"),
        Attribute("helper_type", "S", "Which automation the helper runs (e.g. tag_it)"),
        Attribute("connection_id", "S", "The connection the helper acts through"),
        Attribute("enabled", "BOOL", "Whether the helper runs"),
        Attribute("created_at", "S", "ISO8601 timestamp"),
    ),
    partition=Attr("helper_id"),
    indexes=(Index("AccountIdIndex", Attr("account_id")),),
    dev=_PROTECTED,
    access_patterns=(
        AccessPattern("helper-by-id", "A helper by id.", _by("helper_id"), get_item=True,
                      example={"helper_id": "hlp_tagger"}, expect=({"helper_id": "hlp_tagger"},)),
        AccessPattern("account-helpers", "The helpers of an account.", _by("account_id"),
                      index="AccountIdIndex", example={"account_id": _ACC},
                      expect=({"helper_id": "hlp_tagger"},)),
    ),
    examples=(
        {"helper_id": "hlp_tagger", "account_id": _ACC, "helper_type": "tag_it",
         "connection_id": "conn_keap_1", "enabled": True, "created_at": "2026-09-05T09:00:00Z"},
    ),
)

EXECUTIONS = TableSpec(
    alias="mfh.executions",
    name_template=_name("executions"),
    description="Helper execution log; expires through TTL.",
    attributes=(
        Attribute("execution_id", "S", "Execution id"),
        Attribute("account_id", "S", "Account (AccountIdCreatedAtIndex)"),
        Attribute("helper_id", "S", "Helper that ran (HelperIdCreatedAtIndex)"),
        Attribute("status", "S", "success or failed"),
        Attribute("duration_ms", "N", "Run time in milliseconds"),
        Attribute("created_at", "S", "ISO8601 timestamp (sort key of both indexes)"),
        Attribute("ttl", "N", "Unix timestamp for auto-deletion"),
    ),
    partition=Attr("execution_id"),
    indexes=(
        Index("AccountIdCreatedAtIndex", Attr("account_id"), Attr("created_at")),
        Index("HelperIdCreatedAtIndex", Attr("helper_id"), Attr("created_at")),
    ),
    ttl_attribute="ttl",
    dev=_PROTECTED,
    access_patterns=(
        AccessPattern("execution-by-id", "An execution by id.", _by("execution_id"),
                      get_item=True, example={"execution_id": "exe_0002"},
                      expect=({"execution_id": "exe_0002"},)),
        AccessPattern("account-recent-executions", "An account's executions, newest first.",
                      _by("account_id"), index="AccountIdCreatedAtIndex", newest_first=True,
                      example={"account_id": _ACC},
                      expect=({"execution_id": "exe_0003"}, {"execution_id": "exe_0002"},
                              {"execution_id": "exe_0001"})),
        AccessPattern("helper-executions", "A helper's executions, newest first.",
                      _by("helper_id"), index="HelperIdCreatedAtIndex", newest_first=True,
                      example={"helper_id": "hlp_tagger"},
                      expect=({"execution_id": "exe_0003"}, {"execution_id": "exe_0001"})),
    ),
    examples=(
        {"execution_id": "exe_0001", "account_id": _ACC, "helper_id": "hlp_tagger",
         "status": "success", "duration_ms": 412, "created_at": "2026-11-20T10:00:00Z", "ttl": 4102444800},
        {"execution_id": "exe_0002", "account_id": _ACC, "helper_id": "hlp_mailer",
         "status": "failed", "duration_ms": 1530, "created_at": "2026-11-21T10:00:00Z", "ttl": 4102444800},
        {"execution_id": "exe_0003", "account_id": _ACC, "helper_id": "hlp_tagger",
         "status": "success", "duration_ms": 388, "created_at": "2026-11-22T10:00:00Z", "ttl": 4102444800},
    ),
)

PLATFORMS = TableSpec(
    alias="mfh.platforms",
    name_template=_name("platforms"),
    description="Catalogue of integrable platforms.",
    attributes=(
        Attribute("platform_id", "S", "Platform id"),
        Attribute("slug", "S", "URL slug (SlugIndex)"),
        Attribute("name", "S", "Display name"),
        Attribute("auth_type", "S", "oauth2 or api_key"),
    ),
    partition=Attr("platform_id"),
    indexes=(Index("SlugIndex", Attr("slug")),),
    dev=_PROTECTED,
    access_patterns=(
        AccessPattern("platform-by-slug", "A platform by its URL slug.", _by("slug"),
                      index="SlugIndex", example={"slug": "keap"},
                      expect=({"platform_id": "plat_keap"},)),
    ),
    examples=(
        {"platform_id": "plat_keap", "slug": "keap", "name": "Keap", "auth_type": "oauth2"},
        {"platform_id": "plat_stripe", "slug": "stripe", "name": "Stripe", "auth_type": "api_key"},
    ),
)

PLATFORM_CONNECTION_AUTHS = TableSpec(
    alias="mfh.platform-connection-auths",
    name_template=_name("platform-connection-auths"),
    description="Credentials metadata of a connection (secrets live in Secrets Manager).",
    attributes=(
        Attribute("auth_id", "S", "Auth record id"),
        Attribute("connection_id", "S", "The connection (ConnectionIdIndex)"),
        Attribute("auth_type", "S", "oauth2 or api_key"),
        Attribute("secret_arn", "S", "Secrets Manager ARN of the credentials"),
        Attribute("expires_at", "S", "ISO8601 timestamp: when the credentials expire"),
    ),
    partition=Attr("auth_id"),
    indexes=(Index("ConnectionIdIndex", Attr("connection_id")),),
    dev=_PROTECTED,
    access_patterns=(
        AccessPattern("auth-by-connection", "The auth record of a connection.",
                      _by("connection_id"), index="ConnectionIdIndex",
                      example={"connection_id": "conn_keap_1"},
                      expect=({"auth_id": "auth_keap_1"},)),
    ),
    examples=(
        {"auth_id": "auth_keap_1", "connection_id": "conn_keap_1", "auth_type": "oauth2",
         "secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:mfh/conn_keap_1",
         "expires_at": "2026-12-01T00:00:00Z"},
    ),
)

OAUTH_STATES = TableSpec(
    alias="mfh.oauth-states",
    name_template=_name("oauth-states"),
    description="Short-lived OAuth state values; expire through TTL on expires_at.",
    attributes=(
        Attribute("state_id", "S", "OAuth state value"),
        Attribute("account_id", "S", "Account starting the handshake"),
        Attribute("platform_id", "S", "Platform being connected"),
        Attribute("redirect_uri", "S", "Where the handshake returns"),
        Attribute("expires_at", "N", "Unix timestamp for auto-deletion (TTL)"),
    ),
    partition=Attr("state_id"),
    ttl_attribute="expires_at",
    dev=_DISPOSABLE,
    prod=_DISPOSABLE,
    access_patterns=(
        AccessPattern("oauth-state", "An OAuth state by id.", _by("state_id"), get_item=True,
                      example={"state_id": "st_9f2c"}, expect=({"state_id": "st_9f2c"},)),
    ),
    examples=(
        {"state_id": "st_9f2c", "account_id": _ACC, "platform_id": "plat_keap",
         "redirect_uri": "https://app.example.com/oauth/callback", "expires_at": 4102444800},
    ),
)

TABLES = (
    USERS,
    ACCOUNTS,
    USER_ACCOUNTS,
    API_KEYS,
    CONNECTIONS,
    HELPERS,
    EXECUTIONS,
    PLATFORMS,
    PLATFORM_CONNECTION_AUTHS,
    OAUTH_STATES,
)
