"""Outgoing mail, sent through Amazon SES in every stage.

The raw login or verification token exists only in the link handed to the
sender, which puts it in the mail body and nowhere else: the log says that a
mail went out, of what kind and to whom (hashed), never the link.

The sender address is the SES identity ``MAIL_FROM`` (set by the stack from
the ``mailFrom`` context key); the function's role may call ``ses:SendEmail``
on that identity only. Tests install another sender with ``set_sender``.
"""

from __future__ import annotations

from typing import Protocol

from aws_lambda_powertools import Logger

from lambda_src.common.hashing import sha256_hex

from . import config

logger = Logger(child=True)

SUBJECTS = {
    "verify": "Confirm your DepHealth signup",
    "magic_link": "Your DepHealth login link",
    "already_registered": "You already have a DepHealth account",
}
TEXTS = {
    "verify": "Open this link within 24 hours to confirm your address and get your API key:\n\n{link}\n",
    "magic_link": "Open this link within 15 minutes to log in to DepHealth:\n\n{link}\n",
    "already_registered": "Someone (probably you) tried to sign up with this address, which already has "
                          "an account. To log in, request a login link:\n\n{link}\n",
}


class MailSender(Protocol):
    def send(self, *, to: str, kind: str, link: str) -> None: ...


class SesMailSender:
    """One SES ``SendEmail`` per mail, from the configured identity."""

    def __init__(self, client=None, source: str | None = None) -> None:
        self._client = client
        self.source = source

    def send(self, *, to: str, kind: str, link: str) -> None:
        from lambda_src.common.aws_clients import client

        ses = self._client or client("ses")
        ses.send_email(
            Source=self.source or config.mail_from(),
            Destination={"ToAddresses": [to]},
            Message={
                "Subject": {"Data": SUBJECTS[kind], "Charset": "UTF-8"},
                "Body": {"Text": {"Data": TEXTS[kind].format(link=link), "Charset": "UTF-8"}},
            },
        )
        logger.info("mail sent", extra={"kind": kind, "to_hash": sha256_hex(to.lower())})


_sender: MailSender | None = None


def sender() -> MailSender:
    return _sender if _sender is not None else SesMailSender()


def set_sender(new: MailSender | None) -> MailSender | None:
    """Install another sender (a test double); return the old one. ``None`` restores SES."""
    global _sender
    old, _sender = _sender, new
    return old
