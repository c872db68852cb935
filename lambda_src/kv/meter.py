"""Request metering for reads, batched per container.

A write folds the request counter into its own transaction, so it costs no
extra request. A read has no write to ride on: its count waits here and is
added to the user's next write, or flushed with one UpdateItem once
``flush_every`` reads are pending. The default (1, in ``declarations``, which
the stacks read too) keeps every user's
``requestCount`` exact at every moment (one UpdateItem per read): with several
containers serving one user, pending reads in the others are invisible, and
a recycled container loses up to ``flush_every - 1`` of them. A deployment
that prefers fewer writes over exact counts sets the ``kvReadFlushEvery``
context (``KV_READ_FLUSH_EVERY``), e.g. 20: amortized 0.05 requests per read.
"""

from __future__ import annotations

import os
from collections import defaultdict

from lambda_src.kv.declarations import DEFAULT_READ_FLUSH_EVERY, READ_FLUSH_EVERY_VAR


class ReadMeter:
    def __init__(self, flush_every: int | None = None) -> None:
        self.flush_every = flush_every or int(os.environ.get(READ_FLUSH_EVERY_VAR) or DEFAULT_READ_FLUSH_EVERY)
        self.pending: dict[str, int] = defaultdict(int)

    def record(self, user_id: str) -> bool:
        """Count one read; True when the user's pending reads should be flushed."""
        self.pending[user_id] += 1
        return self.pending[user_id] >= self.flush_every

    def peek(self, user_id: str) -> int:
        return self.pending.get(user_id, 0)

    def settle(self, user_id: str, count: int) -> None:
        """Forget ``count`` reads that a write has just stored."""
        left = self.pending.get(user_id, 0) - count
        if left > 0:
            self.pending[user_id] = left
        else:
            self.pending.pop(user_id, None)

    def reset(self) -> None:
        self.pending.clear()


METER = ReadMeter()
