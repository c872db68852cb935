"""The collector's write step: apply one package-health message to the table.

A message carries a package's latest health. The write is conditional on
``last_updated`` moving forward, so a late or repeated message never rolls a
record back. ``InvalidMessage`` marks input that no retry can fix.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from lambda_src.common.requests import to_attr

from . import config, validation
from .packages import package_key

FIELDS = ("health_score", "risk_level", "tier", "latest_version")


class InvalidMessage(ValueError):
    pass


def parse(message) -> dict:
    if not isinstance(message, dict):
        raise InvalidMessage("message is not a JSON object")
    try:
        validation.ecosystem(message.get("ecosystem"))
        validation.package_name(message.get("name"))
    except Exception:
        raise InvalidMessage("message needs a valid ecosystem and name") from None
    if not isinstance(message.get("last_updated"), str):
        raise InvalidMessage("message needs last_updated (ISO timestamp)")
    return message


def apply(client, message: dict) -> bool:
    """Write the record; False when a newer one is already stored."""
    message = parse(message)
    values = {":lu": to_attr(message["last_updated"]), ":e": to_attr(message["ecosystem"]),
              ":n": to_attr(message["name"])}
    sets = ["last_updated = :lu", "ecosystem = :e", "#name = :n"]
    for i, field in enumerate(FIELDS):
        if field in message:
            values[f":f{i}"] = to_attr(message[field])
            sets.append(f"{field} = :f{i}")
    try:
        client.update_item(
            TableName=config.packages_table(),
            Key=package_key(message["ecosystem"], message["name"]),
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="attribute_not_exists(last_updated) OR last_updated < :lu",
            ExpressionAttributeNames={"#name": "name"},
            ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True
