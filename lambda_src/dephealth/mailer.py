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


class OutboxMailSender:
    """Local development only: each mail becomes a private JSON file in a folder.

    It plays the part of a mail catcher for ``make invoke`` against the local
    endpoint; it is chosen only when ``MAIL_OUTBOX_DIR`` is set, which no
    deployed function has.
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def send(self, *, to: str, kind: str, link: str) -> None:
        import json
        import os
        import time

        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        path = os.path.join(self.folder, f"{time.time_ns()}-{kind}.json")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"to": to, "kind": kind, "link": link}, out)
        logger.info("mail written to the local outbox", extra={"kind": kind})


_sender: MailSender | None = None


def sender() -> MailSender:
    import os

    if _sender is not None:
        return _sender
    folder = os.environ.get("MAIL_OUTBOX_DIR")
    return OutboxMailSender(folder) if folder else LoggingMailSender()


def set_sender(new: MailSender | None) -> MailSender | None:
    """Install another sender (an SES adapter, or a test double); return the old one."""
    global _sender
    old, _sender = _sender, new
    return old
