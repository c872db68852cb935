"""DepHealth tables (SPEC §1.1): packages and the multi-record api-keys table.

Key formats are declared here and used by the handlers through ``build`` and
``parse``; index names are referenced through the ``Index`` objects below.
"""

from __future__ import annotations

from lambda_src.common.hashing import sha256_hex
from lambda_src.common.schema_types import (
    AccessPattern,
    Attr,
    Attribute,
    Index,
    KeyFormat,
    RecordKind,
    SortCondition,
    TableSpec,
)

# -- key formats -------------------------------------------------------------
PACKAGE_PK = KeyFormat("{ecosystem}#{name}")
PACKAGE_SK = KeyFormat("LATEST")

USER_PK = KeyFormat("user_{email_hash}")
API_KEY_SK = KeyFormat("{key_hash}")
PENDING_SK = KeyFormat("PENDING")
DEMO_PK = KeyFormat("demo#{ip}")
DEMO_SK = KeyFormat("hour#{hour}")  # hour = yyyy-mm-ddThh (UTC)
GITHUB_PK = KeyFormat("github_rate_limit#{shard}")
GITHUB_SK = KeyFormat("{window}")
RESET_PK = KeyFormat("SYSTEM#RESET_STATE")
RESET_SK = KeyFormat("monthly_reset")
FAILED_PK = KeyFormat("FAILED#{name}")  # name: see dlq.failed_key_name (bounded)
FAILED_SK = KeyFormat("{timestamp}")
FAILED_MESSAGE_PK = KeyFormat("FAILED_MESSAGE#{message_hash}")  # SHA-256 of the SQS message id
FAILED_MESSAGE_SK = KeyFormat("MESSAGE")
MAIL_PK = KeyFormat("mail#{email_hash}")
MAIL_SK = KeyFormat("hour#{hour}")

# -- indexes -------------------------------------------------------------------
RISK_LEVEL_INDEX = Index("risk-level-index", Attr("risk_level"), Attr("last_updated"), "KEYS_ONLY")
TIER_INDEX = Index("tier-index", Attr("tier"), Attr("last_updated"), "KEYS_ONLY")

KEY_HASH_INDEX = Index("key-hash-index", Attr("key_hash"))
EMAIL_INDEX = Index("email-index", Attr("email"))
VERIFICATION_TOKEN_INDEX = Index(
    "verification-token-index", Attr("verification_token"), projection="KEYS_ONLY"
)
STRIPE_CUSTOMER_INDEX = Index("stripe-customer-index", Attr("stripe_customer_id"))
MAGIC_TOKEN_INDEX = Index("magic-token-index", Attr("magic_token"), projection="KEYS_ONLY")

# -- item attributes (docs) ------------------------------------------------------
PACKAGE_ATTRIBUTES = (
    Attribute("pk", "S", "{ecosystem}#{name}"),
    Attribute("sk", "S", "LATEST"),
    Attribute("ecosystem", "S", "Package ecosystem: npm, pypi, ..."),
    Attribute("name", "S", "Package name"),
    Attribute("risk_level", "S", "low, medium, high or critical (risk-level-index)"),
    Attribute("tier", "S", "Popularity tier (tier-index)"),
    Attribute("health_score", "N", "Health score (0-100)"),
    Attribute("latest_version", "S", "Latest published version"),
    Attribute("last_updated", "S", "ISO8601 timestamp (sort key of both indexes)"),
)

_USER_PK = Attribute("pk", "S", "user_{email_hash}: SHA-256 of the lower-cased email")
_TTL = Attribute("ttl", "N", "Unix timestamp for auto-deletion")
API_KEY_RECORDS = (
    RecordKind(
        "pending signup", "An unverified signup; expires unverified after 24 h.", USER_PK, PENDING_SK,
        attributes=(
            _USER_PK,
            Attribute("sk", "S", "PENDING"),
            Attribute("email", "S", "Email address (email-index)"),
            Attribute("verification_token", "S", "SHA-256 of the emailed token (verification-token-index)"),
            Attribute("created_at", "S", "ISO8601 timestamp"),
            _TTL,
        ),
    ),
    RecordKind(
        "API key", "An API key of a user, stored as its hash.", USER_PK, API_KEY_SK,
        attributes=(
            _USER_PK,
            Attribute("sk", "S", "{key_hash}"),
            Attribute("key_hash", "S", "SHA-256 of the API key (key-hash-index); the key is never stored"),
            Attribute("email", "S", "Email address (email-index)"),
            Attribute("tier", "S", "Plan: free, pro, ..."),
            Attribute("requests_this_month", "N", "Requests counted this month (reset monthly)"),
            Attribute("stripe_customer_id", "S", "Stripe customer (stripe-customer-index)", optional=True),
            Attribute("created_at", "S", "ISO8601 timestamp"),
            Attribute("magic_token", "S", "SHA-256 of a pending magic-link login token (magic-token-index)",
                      optional=True),
            Attribute("magic_expires", "N", "Unix timestamp: when the magic-link token expires", optional=True),
            Attribute("last_login", "S", "ISO8601 timestamp of the last magic-link login", optional=True),
        ),
    ),
    RecordKind(
        "demo rate limit", "Demo requests of one IP in one UTC hour.", DEMO_PK, DEMO_SK,
        attributes=(
            Attribute("pk", "S", "demo#{ip}"),
            Attribute("sk", "S", "hour#{yyyy-mm-ddThh}"),
            Attribute("count", "N", "Requests counted (atomic counter)"),
            _TTL,
        ),
    ),
    RecordKind(
        "GitHub rate limit shard", "One shard of the shared GitHub API budget for a window.", GITHUB_PK,
        GITHUB_SK,
        attributes=(
            Attribute("pk", "S", "github_rate_limit#{shard}"),
            Attribute("sk", "S", "{window}"),
            Attribute("used", "N", "Requests counted in this shard (atomic counter)"),
            _TTL,
        ),
    ),
    RecordKind(
        "monthly reset checkpoint", "Progress of the monthly usage reset, so a crashed reset resumes.",
        RESET_PK, RESET_SK,
        attributes=(
            Attribute("pk", "S", "SYSTEM#RESET_STATE"),
            Attribute("sk", "S", "monthly_reset"),
            Attribute("month", "S", "The month being reset (yyyy-mm)"),
            Attribute("status", "S", "running or complete"),
            Attribute("users_reset", "N", "Records reset so far"),
            Attribute("updated_at", "S", "ISO8601 timestamp"),
            Attribute("started_at", "S", "ISO8601 timestamp", optional=True),
            Attribute("segments", "M", "Scan position of each segment, for resuming", optional=True),
        ),
    ),
    RecordKind(
        "failed collector message", "A message that failed permanently in the collector DLQ.", FAILED_PK,
        FAILED_SK,
        attributes=(
            Attribute("pk", "S", "FAILED#{name}"),
            Attribute("sk", "S", "ISO8601 timestamp"),
            Attribute("ecosystem", "S", "Package ecosystem of the message"),
            Attribute("name", "S", "Package name of the message"),
            Attribute("message_id", "S", "SQS message id"),
            Attribute("last_error", "S", "The last error the message met"),
            Attribute("retry_count", "N", "Times the message was tried"),
            Attribute("original_message", "S", "The message body as JSON text"),
            Attribute("failed_at", "S", "ISO8601 timestamp: when the record was stored"),
            Attribute("ttl", "N", "Unix timestamp for auto-deletion (90 days)"),
        ),
    ),
    RecordKind(
        "failed message marker", "Marks an SQS message id as stored in a FAILED record (deduplicates redeliveries).",
        FAILED_MESSAGE_PK, FAILED_MESSAGE_SK,
        attributes=(
            Attribute("pk", "S", "FAILED_MESSAGE#{message_hash}: SHA-256 of the SQS message id"),
            Attribute("sk", "S", "MESSAGE"),
            Attribute("failed_pk", "S", "pk of the FAILED record"),
            Attribute("failed_sk", "S", "sk of the FAILED record"),
            _TTL,
        ),
    ),
    RecordKind(
        "mail rate limit", "Mail requests for one address in one UTC hour.", MAIL_PK, MAIL_SK,
        attributes=(
            Attribute("pk", "S", "mail#{email_hash}"),
            Attribute("sk", "S", "hour#{yyyy-mm-ddThh}"),
            Attribute("count", "N", "Mail requests counted (atomic counter)"),
            _TTL,
        ),
    ),
)

# -- example records (docs, sample data, access-pattern tests) ----------------
_ALICE = "alice@example.com"
_ALICE_HASH = sha256_hex(_ALICE)
_ALICE_KEY_HASH = sha256_hex("dh_example_alice_key")
_BOB = "bob@example.com"
_BOB_HASH = sha256_hex(_BOB)

PACKAGES = TableSpec(
    alias="dephealth.packages",
    name_template="dephealth-packages",
    description="Latest health record of each package, keyed by ecosystem and name.",
    attributes=PACKAGE_ATTRIBUTES,
    partition=Attr("pk"),
    sort=Attr("sk"),
    indexes=(RISK_LEVEL_INDEX, TIER_INDEX),
    access_patterns=(
        AccessPattern(
            name="package",
            description="One package's latest health record.",
            partition=PACKAGE_PK,
            sort=SortCondition("=", PACKAGE_SK),
            get_item=True,
            example={"ecosystem": "npm", "name": "express"},
            expect=({"pk": "npm#express", "sk": "LATEST"},),
        ),
        AccessPattern(
            name="packages-by-risk-level",
            description="Packages at a risk level, most recently updated first "
            "(KEYS_ONLY: fetch the items with BatchGetItem).",
            index=RISK_LEVEL_INDEX.name,
            partition=KeyFormat("{risk_level}"),
            newest_first=True,
            example={"risk_level": "high"},
            expect=(
                {"pk": "npm#left-pad", "sk": "LATEST"},
                {"pk": "pypi#pyyaml", "sk": "LATEST"},
            ),
        ),
        AccessPattern(
            name="packages-by-tier",
            description="Packages of a popularity tier, most recently updated first "
            "(KEYS_ONLY: fetch the items with BatchGetItem).",
            index=TIER_INDEX.name,
            partition=KeyFormat("{tier}"),
            newest_first=True,
            example={"tier": "critical"},
            expect=(
                {"pk": "pypi#requests", "sk": "LATEST"},
                {"pk": "npm#express", "sk": "LATEST"},
            ),
        ),
    ),
    examples=(
        {"pk": "npm#express", "sk": "LATEST", "ecosystem": "npm", "name": "express",
         "risk_level": "low", "tier": "critical", "health_score": 92,
         "latest_version": "5.1.0", "last_updated": "2026-11-20T08:00:00Z"},
        {"pk": "npm#left-pad", "sk": "LATEST", "ecosystem": "npm", "name": "left-pad",
         "risk_level": "high", "tier": "long-tail", "health_score": 21,
         "latest_version": "1.3.0", "last_updated": "2026-11-21T09:30:00Z"},
        {"pk": "pypi#requests", "sk": "LATEST", "ecosystem": "pypi", "name": "requests",
         "risk_level": "low", "tier": "critical", "health_score": 95,
         "latest_version": "2.32.5", "last_updated": "2026-11-21T10:00:00Z"},
        {"pk": "pypi#pyyaml", "sk": "LATEST", "ecosystem": "pypi", "name": "pyyaml",
         "risk_level": "high", "tier": "popular", "health_score": 38,
         "latest_version": "6.0.3", "last_updated": "2026-11-19T12:00:00Z"},
    ),
)

API_KEYS = TableSpec(
    alias="dephealth.api-keys",
    name_template="dephealth-api-keys",
    description="Users and their hashed API keys, pending signups, rate-limit "
    "counters, the monthly-reset checkpoint and failed collector messages.",
    record_kinds=API_KEY_RECORDS,
    partition=Attr("pk"),
    sort=Attr("sk"),
    ttl_attribute="ttl",
    indexes=(
        KEY_HASH_INDEX,
        EMAIL_INDEX,
        VERIFICATION_TOKEN_INDEX,
        STRIPE_CUSTOMER_INDEX,
        MAGIC_TOKEN_INDEX,
    ),
    access_patterns=(
        AccessPattern(
            name="api-key-by-hash",
            description="Authenticate a request: the key record whose key_hash matches.",
            index=KEY_HASH_INDEX.name,
            partition=KeyFormat("{key_hash}"),
            example={"key_hash": _ALICE_KEY_HASH},
            expect=({"pk": f"user_{_ALICE_HASH}", "sk": _ALICE_KEY_HASH},),
        ),
        AccessPattern(
            name="keys-by-email",
            description="Every record (keys, pending signup) carrying an email.",
            index=EMAIL_INDEX.name,
            partition=KeyFormat("{email}"),
            example={"email": _ALICE},
            expect=({"pk": f"user_{_ALICE_HASH}", "sk": _ALICE_KEY_HASH},),
        ),
        AccessPattern(
            name="signup-by-verification-token",
            description="The pending signup holding a hashed verification token.",
            index=VERIFICATION_TOKEN_INDEX.name,
            partition=KeyFormat("{verification_token}"),
            example={"verification_token": sha256_hex("example-verification-token")},
            expect=({"pk": f"user_{_BOB_HASH}", "sk": "PENDING"},),
        ),
        AccessPattern(
            name="keys-by-stripe-customer",
            description="The key records billed to a Stripe customer.",
            index=STRIPE_CUSTOMER_INDEX.name,
            partition=KeyFormat("{stripe_customer_id}"),
            example={"stripe_customer_id": "cus_example123"},
            expect=({"pk": f"user_{_ALICE_HASH}", "sk": _ALICE_KEY_HASH},),
        ),
        AccessPattern(
            name="user-by-magic-token",
            description="The key record holding a hashed magic-link login token.",
            index=MAGIC_TOKEN_INDEX.name,
            partition=KeyFormat("{magic_token}"),
            example={"magic_token": sha256_hex("example-magic-token")},
            expect=({"pk": f"user_{_ALICE_HASH}", "sk": _ALICE_KEY_HASH},),
        ),
        AccessPattern(
            name="user-records",
            description="All records of one user (API keys and a pending signup).",
            partition=USER_PK,
            example={"email_hash": _ALICE_HASH},
            expect=({"pk": f"user_{_ALICE_HASH}", "sk": _ALICE_KEY_HASH},),
        ),
        AccessPattern(
            name="demo-counter",
            description="Demo requests made by one IP in one UTC hour.",
            partition=DEMO_PK,
            sort=SortCondition("=", DEMO_SK),
            get_item=True,
            example={"ip": "203.0.113.7", "hour": "2026-11-22T10"},
            expect=({"pk": "demo#203.0.113.7", "sk": "hour#2026-11-22T10"},),
        ),
        AccessPattern(
            name="github-budget-shard",
            description="One shard of the GitHub API budget counter for a window.",
            partition=GITHUB_PK,
            sort=SortCondition("=", GITHUB_SK),
            get_item=True,
            example={"shard": "3", "window": "2026-11-22T10"},
            expect=({"pk": "github_rate_limit#3", "sk": "2026-11-22T10"},),
        ),
        AccessPattern(
            name="monthly-reset-checkpoint",
            description="Progress of the monthly usage reset, for resuming after a crash.",
            partition=RESET_PK,
            sort=SortCondition("=", RESET_SK),
            get_item=True,
            example={},
            expect=({"pk": "SYSTEM#RESET_STATE", "sk": "monthly_reset"},),
        ),
        AccessPattern(
            name="mail-counter",
            description="Mail requests (signup and login links) for one address in one UTC hour.",
            partition=MAIL_PK,
            sort=SortCondition("=", MAIL_SK),
            get_item=True,
            example={"email_hash": _ALICE_HASH, "hour": "2026-11-22T10"},
            expect=({"pk": f"mail#{_ALICE_HASH}", "sk": "hour#2026-11-22T10"},),
        ),
        AccessPattern(
            name="failed-message-marker",
            description="Marks an SQS message id as stored in a FAILED record (deduplicates redeliveries).",
            partition=FAILED_MESSAGE_PK,
            sort=SortCondition("=", FAILED_MESSAGE_SK),
            get_item=True,
            example={"message_hash": sha256_hex("example-msg-1")},
            expect=({"pk": f"FAILED_MESSAGE#{sha256_hex('example-msg-1')}", "sk": "MESSAGE"},),
        ),
        AccessPattern(
            name="failed-messages",
            description="Collector messages that failed permanently, newest first (sort key: the "
            "message's SentTimestamp, ISO 8601 UTC with milliseconds).",
            partition=FAILED_PK,
            newest_first=True,
            example={"name": "left-pad"},
            expect=({"pk": "FAILED#left-pad", "sk": "2026-11-21T09:31:00.000Z"},),
        ),
    ),
    examples=(
        {"pk": f"user_{_ALICE_HASH}", "sk": _ALICE_KEY_HASH, "key_hash": _ALICE_KEY_HASH,
         "email": _ALICE, "tier": "pro", "requests_this_month": 1200,
         "stripe_customer_id": "cus_example123", "created_at": "2026-10-01T12:00:00Z",
         "magic_token": sha256_hex("example-magic-token"), "magic_expires": 4102444800},
        {"pk": f"user_{_BOB_HASH}", "sk": "PENDING", "email": _BOB,
         "verification_token": sha256_hex("example-verification-token"),
         "created_at": "2026-11-22T09:00:00Z", "ttl": 4102444800},
        {"pk": "demo#203.0.113.7", "sk": "hour#2026-11-22T10", "count": 4, "ttl": 4102444800},
        {"pk": "github_rate_limit#3", "sk": "2026-11-22T10", "used": 120, "ttl": 4102444800},
        {"pk": "SYSTEM#RESET_STATE", "sk": "monthly_reset", "month": "2026-11",
         "status": "complete", "users_reset": 2, "updated_at": "2026-11-01T00:05:00Z"},
        {"pk": "FAILED#left-pad", "sk": "2026-11-21T09:31:00.000Z", "ecosystem": "npm", "name": "left-pad",
         "message_id": "example-msg-1", "last_error": "TimeoutError: upstream registry timed out",
         "retry_count": 3,
         "original_message": '{"ecosystem": "npm", "name": "left-pad", "risk_level": "high", '
                             '"last_updated": "2026-11-21T09:30:00Z"}',
         "failed_at": "2026-11-21T09:33:10.412Z", "ttl": 4102444800},
        {"pk": f"FAILED_MESSAGE#{sha256_hex('example-msg-1')}", "sk": "MESSAGE",
         "failed_pk": "FAILED#left-pad", "failed_sk": "2026-11-21T09:31:00.000Z", "ttl": 4102444800},
        {"pk": f"mail#{_ALICE_HASH}", "sk": "hour#2026-11-22T10", "count": 2, "ttl": 4102444800},
    ),
)

TABLES = (PACKAGES, API_KEYS)
