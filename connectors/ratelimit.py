"""Rate limits over the ``limits`` library: a moving window per key (a sender, a client address).

The storage is in memory by default; ``TTHC_RATE_LIMIT_STORAGE`` (e.g. ``redis://host:6379/2``) puts
it where several replicas share it.
"""

from __future__ import annotations

import time

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

RATE_LIMITED_MESSAGE = (
    "Bạn đang gửi tin nhắn hơi nhanh. Xin vui lòng chờ một chút rồi gửi lại, trợ lý sẽ trả lời ngay."
)


class RateLimiter:
    """Allows at most ``limit`` events per ``window_seconds`` for each key."""

    def __init__(
        self, limit: int, window_seconds: float, storage_uri: str = "memory://", name: str = ""
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._item = RateLimitItemPerSecond(limit, max(1, round(window_seconds)), namespace=name or "tthc")
        self._strategy = MovingWindowRateLimiter(storage_from_string(storage_uri))

    def allow(self, key: str) -> bool:
        """Record an event for ``key`` and say whether it is within the limit."""
        return self._strategy.hit(self._item, key)

    def retry_after(self, key: str) -> float:
        stats = self._strategy.get_window_stats(self._item, key)
        if stats.remaining > 0:
            return 0.0
        return max(0.0, stats.reset_time - time.time())
