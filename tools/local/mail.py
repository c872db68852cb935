"""The mail the deployed functions sent through SES, as the local target keeps it.

MiniStack stores every message sent with SES and lists it at
``GET /_ministack/ses/messages``; ``make mail`` prints the latest ones with
the links they hold (verification and login links).
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

from tools.local.env import ACCOUNT, LocalError, endpoint_url

LINK = re.compile(r"https?://[^\s\"'<>]+")


@dataclass
class Message:
    message_id: str
    source: str
    to: list[str]
    subject: str
    body: str
    timestamp: str

    @property
    def links(self) -> list[str]:
        return LINK.findall(self.body)


def messages(port: int) -> list[Message]:
    """Every message SES kept on the endpoint, oldest first."""
    url = f"{endpoint_url(port)}/_ministack/ses/messages?account={ACCOUNT}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            data = json.load(response)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise LocalError(f"cannot read the SES messages at {url}: {exc}") from exc
    out = []
    for record in (data.get("messages") or {}).get(ACCOUNT, []):
        out.append(Message(
            message_id=record.get("MessageId", ""),
            source=record.get("Source", ""),
            to=list(record.get("To") or []),
            subject=record.get("Subject", ""),
            body=record.get("BodyText") or record.get("BodyHtml") or "",
            timestamp=str(record.get("Timestamp", "")),
        ))
    return out


def latest_to(port: int, address: str) -> Message | None:
    """The newest message sent to ``address``."""
    for message in reversed(messages(port)):
        if address.lower() in (a.lower() for a in message.to):
            return message
    return None


def token_in(message: Message, path: str) -> str | None:
    """The ``token`` query parameter of the message's link to ``path``."""
    for link in message.links:
        parsed = urlparse(link)
        if parsed.path.endswith(path):
            tokens = parse_qs(parsed.query).get("token")
            if tokens:
                return tokens[0]
    return None


def wait_for_token(port: int, path: str, *, to: str | None = None, timeout: float = 30) -> str:
    """The token of the newest link to ``path`` (sent to ``to``), waiting for the mail to arrive."""
    deadline = time.monotonic() + timeout
    while True:
        for message in reversed(messages(port)):
            if to and to.lower() not in (a.lower() for a in message.to):
                continue
            token = token_in(message, path)
            if token:
                return token
        if time.monotonic() >= deadline:
            raise LocalError(f"no mail with a {path} link" + (f" to {to}" if to else "") + f" within {timeout:.0f}s")
        time.sleep(0.5)
