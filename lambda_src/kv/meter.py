"""Request metering for reads, batched per container.

A write folds the request counter into its own transaction, so it costs no
extra request. A read has no write to ride on: its count waits here and is
added to the user's next write, or flushed with one UpdateItem once
``flush_every`` reads are pending (default 20: amortized 0.05 requests per
read). The price is that up to ``flush_every - 1`` reads per container can
go uncounted when a container is recycled; caps still see pending reads.
"""

from __future__ import annotations

import os
from collections import defaultdict


class ReadMeter:
    def __init__(self, flush_every: int | None = None) -> None:
        self.flush_every = flush_every or int(os.environ.get("KV_READ_FLUSH_EVERY", "20"))
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
