"""Signup with email verification, ending in the user's first API key.

``POST /signup`` stores a PENDING record with a hashed verification token and
a 24 h ttl. ``GET /verify`` finds it through ``verification-token-index`` and,
in one transaction, deletes the PENDING record (only if it still holds that
token) and creates the key record. The raw key is returned once and only its
hash is stored.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from lambda_src.common import clock, faults
from lambda_src.common.hashing import new_secret, sha256_hex
from lambda_src.common.requests import build_request, from_item, to_attr, to_item

from . import config, mailer, users
from .errors import TokenRejected
from .schema import API_KEY_SK, API_KEYS, PENDING_SK

KEY_PREFIX = "dh_"


def start(client, email: str) -> None:
    """Create or refresh the PENDING record; existing users are told by mail.

    Runs in the mail worker, from the queue (see ``mail_requests``).
    """
    ehash = users.email_hash(email)
    if users.key_records(users.user_records(client, ehash)):
        mailer.sender().send(to=email, kind="already_registered", link=f"{config.public_base_url()}/auth/magic-link")
        return
    raw = new_secret()
    now = int(clock.now())
    client.put_item(
        TableName=config.api_keys_table(),
        Item=to_item({
            "pk": users.user_pk(ehash),
            "sk": PENDING_SK.build(),
            "email": email,
            "verification_token": sha256_hex(raw),
            "created_at": clock.iso_millis(now),
            "ttl": now + config.VERIFICATION_TTL_S,
        }),
    )
    mailer.sender().send(to=email, kind="verify", link=f"{config.public_base_url()}/verify?token={raw}")


def verify(client, raw_token: str) -> dict:
    """Turn the PENDING record into a user with a first key; return the raw key once."""
    token_hash = sha256_hex(raw_token)
    table = config.api_keys_table()
    _, query = build_request(
        API_KEYS,
        API_KEYS.pattern("signup-by-verification-token"),
        {"verification_token": token_hash},
        table_name=table,
    )
    hits = client.query(**query).get("Items", [])
    if not hits:
        raise TokenRejected("invalid_token", "the verification link is not valid or was already used")
    key = {"pk": hits[0]["pk"], "sk": hits[0]["sk"]}
    pending = client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    pending = from_item(pending) if pending else None
    now = int(clock.now())
    if not pending or pending.get("verification_token") != token_hash:
        raise TokenRejected("token_already_used", "the verification link was already used")
    if int(pending.get("ttl", 0)) <= now:
        raise TokenRejected("token_expired", "the verification link has expired; sign up again")

    raw_key = f"{KEY_PREFIX}{new_secret()}"
    key_hash = sha256_hex(raw_key)
    record = {
        "pk": pending["pk"],
        "sk": API_KEY_SK.build(key_hash=key_hash),
        "key_hash": key_hash,
        "email": pending["email"],
        "tier": config.DEFAULT_TIER,
        "requests_this_month": 0,
        "created_at": clock.iso_millis(now),
    }
    try:
        client.transact_write_items(TransactItems=[
            {"Delete": {
                "TableName": table,
                "Key": key,
                "ConditionExpression": "verification_token = :t",
                "ExpressionAttributeValues": {":t": to_attr(token_hash)},
            }},
            {"Put": {
                "TableName": table,
                "Item": to_item(record),
                "ConditionExpression": "attribute_not_exists(pk)",
            }},
        ])
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        # Only a failed condition on the PENDING record means the token was
        # consumed; throttling or a conflict cancels it too, and is retryable.
        reasons = faults.transaction_reasons(exc)
        if faults.classify(exc) is None and reasons and reasons[0] == "ConditionalCheckFailed":
            raise TokenRejected("token_already_used", "the verification link was already used") from None
        if faults.classify(exc) is not None:
            raise faults.TransientFault("unavailable", "the verification could not be completed; retry it") from None
        raise
    return {"api_key": raw_key, "tier": record["tier"], "email": record["email"],
            "message": "store this key now: it is shown only once"}
