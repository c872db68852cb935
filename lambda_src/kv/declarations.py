"""KV storage's runtime facts that its infrastructure reads too.

Pure data (no boto3, no Powertools), like ``schema`` and ``plans``: the
stacks import it for the read-flush default, and the runtime reads the same
values, so neither keeps a copy of the other's.
"""

from __future__ import annotations

# The environment variables the API stack sets on the function.
TABLE_NAME_VAR = "TABLE_NAME"
GSI_NAME_VAR = "GSI_NAME"
READ_FLUSH_EVERY_VAR = "KV_READ_FLUSH_EVERY"
CURSOR_SECRET_ARN_VAR = "KV_CURSOR_HMAC_ARN"

# Reads metered per UpdateItem when the ``kvReadFlushEvery`` context is not
# set: 1 keeps every user's request count exact (see ``meter``).
DEFAULT_READ_FLUSH_EVERY = 1
