"""Outgoing mail behind a small interface.

The raw login or verification token exists only in the link handed to the
sender. The default sender logs that a mail went out, to whom (hashed) and
of what kind, and never the link itself.
"""

from __future__ import annotations

from typing import Protocol

from aws_lambda_powertools import Logger

from lambda_src.common.hashing import sha256_hex

logger = Logger(child=True)


class MailSender(Protocol):
    def send(self, *, to: str, kind: str, link: str) -> None: ...


class LoggingMailSender:
    def send(self, *, to: str, kind: str, link: str) -> None:
        logger.info("mail queued", extra={"kind": kind, "to_hash": sha256_hex(to.lower())})


_sender: MailSender = LoggingMailSender()


def sender() -> MailSender:
    return _sender


def set_sender(new: MailSender) -> MailSender:
    """Install another sender (an SES adapter, or a test double); return the old one."""
    global _sender
    old, _sender = _sender, new
    return old
