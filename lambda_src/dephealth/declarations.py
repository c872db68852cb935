"""DepHealth's runtime facts that its infrastructure reads too.

Pure data (no boto3, no Powertools), like ``schema``: the service stack
imports it for the mail sender's default and the collector's retry bound, and
the runtime reads the same values, so neither keeps a copy of the other's.
"""

from __future__ import annotations

# The environment variables the service stack sets on every function.
PACKAGES_TABLE_VAR = "PACKAGES_TABLE"
API_KEYS_TABLE_VAR = "API_KEYS_TABLE"
TABLE_VARS = (PACKAGES_TABLE_VAR, API_KEYS_TABLE_VAR)
# Set on some functions only: the mail sender and links (Mailer), the mail
# queue (AuthApi), the collector's retry bound (CollectorDlqProcessor).
MAIL_FROM_VAR = "MAIL_FROM"
PUBLIC_BASE_URL_VAR = "PUBLIC_BASE_URL"
MAIL_QUEUE_URL_VAR = "MAIL_QUEUE_URL"
DLQ_MAX_ATTEMPTS_VAR = "DLQ_MAX_ATTEMPTS"

# Deliveries of a collector message before it is stored as FAILED; the queue
# lets two more through before its dead-letter queue takes a message.
DLQ_MAX_ATTEMPTS = 3
# The SES identity mail is sent from when the ``mailFrom`` context is not set.
DEFAULT_MAIL_FROM = "no-reply@dephealth.example"
