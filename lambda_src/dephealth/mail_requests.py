"""Mail requests: the auth routes queue them, the mail worker carries them out.

``POST /signup`` and ``POST /auth/magic-link`` do the same fixed work for
every valid address, known or not: one conditional UpdateItem on the
address's hourly mail counter (429 ``mail_limit_exceeded`` past
``MAIL_LIMIT_PER_HOUR``) and one SQS ``SendMessage``. Response time therefore
tells nothing about who has an account. Everything that depends on the
account (the lookup, the PENDING record or login token, the mail itself) runs
in ``mail_worker`` from the queue.
"""

from __future__ import annotations

import json

from lambda_src.common import aws_clients, faults

from . import config, rate_limits, users

KINDS = ("signup", "magic_link")


def request(client, email: str, kind: str) -> None:
    """Count and queue one mail request for an already validated, normalized ``email``."""
    if kind not in KINDS:
        raise ValueError(f"unknown mail request kind {kind!r}")
    rate_limits.mail_hit(client, users.email_hash(email))
    queue = faults.guard(aws_clients.client("sqs"))
    queue.send_message(QueueUrl=config.mail_queue_url(), MessageBody=json.dumps({"kind": kind, "email": email}))
