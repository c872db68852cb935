"""Magic-link login: issue a hashed one-time token, then redeem it exactly once.

The raw token is ``{email_hash}.{secret}``; only its SHA-256 is stored, in
``magic_token`` on the user's first key record. The email-hash prefix lets a
failed redemption tell "already used" from "never issued" without a Scan.

Redeeming is one Query on ``magic-token-index`` plus ONE conditional
UpdateItem that requires the token to be present, equal and unexpired, and
removes it. DynamoDB evaluates the condition atomically per item, so of N
concurrent callbacks with one token exactly one succeeds.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from lambda_src.common import clock
from lambda_src.common.hashing import new_secret, sha256_hex
from lambda_src.common.requests import build_request, from_item, to_attr

from . import config, mailer, users
from .errors import TokenRejected
from .schema import API_KEYS


def _invalid() -> TokenRejected:
    """A fresh error each time (a shared instance would carry one raise's traceback into the next)."""
    return TokenRejected("invalid_token", "the login link is not valid")


def request_link(client, email: str) -> None:
    """Store a fresh hashed token on the user's key record and mail the link.

    Unknown emails get the same answer, so the route does not reveal who has
    an account.
    """
    ehash = users.email_hash(email)
    keys = users.key_records(users.user_records(client, ehash))
    if not keys:
        return
    raw = f"{ehash}.{new_secret()}"
    record = keys[0]
    client.update_item(
        TableName=config.api_keys_table(),
        Key={"pk": to_attr(record["pk"]), "sk": to_attr(record["sk"])},
        UpdateExpression="SET magic_token = :t, magic_expires = :e",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={
            ":t": to_attr(sha256_hex(raw)),
            ":e": to_attr(int(clock.now()) + config.MAGIC_LINK_TTL_S),
        },
    )
    mailer.sender().send(to=email, kind="magic_link", link=f"{config.public_base_url()}/auth/callback?token={raw}")


def redeem(client, raw_token: str) -> dict:
    """Consume a token and return the user, or raise ``TokenRejected``."""
    token_hash = sha256_hex(raw_token)
    _, query = build_request(
        API_KEYS,
        API_KEYS.pattern("user-by-magic-token"),
        {"magic_token": token_hash},
        table_name=config.api_keys_table(),
    )
    query["Limit"] = 1
    hits = client.query(**query).get("Items", [])
    if not hits:
        raise _already_used_or_invalid(client, raw_token, token_hash)
    now = int(clock.now())
    try:
        response = client.update_item(
            TableName=config.api_keys_table(),
            Key={"pk": hits[0]["pk"], "sk": hits[0]["sk"]},
            UpdateExpression="REMOVE magic_token, magic_expires SET last_login = :now_iso, used_magic_token = :t",
            ConditionExpression="magic_token = :t AND magic_expires > :now",
            ExpressionAttributeValues={
                ":t": to_attr(token_hash),
                ":now": to_attr(now),
                ":now_iso": to_attr(clock.iso_millis(now)),
            },
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        old = from_item(exc.response.get("Item") or {})
        if old.get("magic_token") == token_hash:
            raise TokenRejected("token_expired", "the login link has expired; request a new one") from None
        if old.get("used_magic_token") == token_hash:
            raise TokenRejected("token_already_used", "the login link was already used") from None
        raise _invalid() from None
    return users.public_user(from_item(response["Attributes"]))


def _already_used_or_invalid(client, raw_token: str, token_hash: str) -> TokenRejected:
    """No record holds the token: it was redeemed already, or never issued."""
    ehash = raw_token.split(".", 1)[0]
    if len(ehash) != 64 or any(c not in "0123456789abcdef" for c in ehash):
        return _invalid()
    for record in users.user_records(client, ehash):
        if record.get("used_magic_token") == token_hash:
            return TokenRejected("token_already_used", "the login link was already used")
    return _invalid()
