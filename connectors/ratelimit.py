"""Rate limits over the ``limits`` library's asyncio API: a moving window per key (a sender, a client
address), checked without blocking the event loop.

The storage is in memory by default; ``TTHC_RATE_LIMIT_STORAGE`` (e.g. ``redis://host:6379/2``) puts
it where several replicas share it (redis-py's asyncio client).
"""

from __future__ import annotations

import time

from limits import RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

RATE_LIMITED_MESSAGE = (
    "Bạn đang gửi tin nhắn hơi nhanh. Xin vui lòng chờ một chút rồi gửi lại, trợ lý sẽ trả lời ngay."
)


def async_storage(storage_uri: str) -> Storage:
    """The asyncio storage for a storage URI as the settings give it (``memory://``, ``redis://…``)."""
    uri = storage_uri if storage_uri.startswith("async+") else f"async+{storage_uri}"
    options = {"implementation": "redispy"} if uri.startswith("async+redis") else {}
    storage = storage_from_string(uri, **options)
    if not isinstance(storage, Storage):
        raise ValueError(f"not an asyncio rate-limit storage: {storage_uri!r}")
    return storage


class RateLimiter:
    """Allows at most ``limit`` events per ``window_seconds`` for each key."""

    def __init__(
        self, limit: int, window_seconds: float, storage_uri: str = "memory://", name: str = ""
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._item = RateLimitItemPerSecond(limit, max(1, round(window_seconds)), namespace=name or "tthc")
        self._strategy = MovingWindowRateLimiter(async_storage(storage_uri))

    async def allow(self, key: str) -> bool:
        """Record an event for ``key`` and say whether it is within the limit."""
        return await self._strategy.hit(self._item, key)

    async def retry_after(self, key: str) -> float:
        stats = await self._strategy.get_window_stats(self._item, key)
        if stats.remaining > 0:
            return 0.0
        return max(0.0, stats.reset_time - time.time())
