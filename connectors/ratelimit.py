"""A per-sender sliding-window rate limit, kept in memory (one app process per deployment)."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

RATE_LIMITED_MESSAGE = (
    "Bạn đang gửi tin nhắn hơi nhanh. Xin vui lòng chờ một chút rồi gửi lại, trợ lý sẽ trả lời ngay."
)


class RateLimiter:
    """Allows at most ``limit`` events per ``window_seconds`` for each key."""

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        max_keys: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self.max_keys = max_keys
        self._clock = clock
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, key: str) -> bool:
        """Record an event for ``key`` and say whether it is within the limit."""
        now = self._clock()
        events = self._events.pop(key, None) or deque()
        while events and now - events[0] >= self.window_seconds:
            events.popleft()
        allowed = len(events) < self.limit
        if allowed:
            events.append(now)
        self._events[key] = events
        while len(self._events) > self.max_keys:
            self._events.popitem(last=False)
        return allowed

    def retry_after(self, key: str) -> float:
        events = self._events.get(key)
        if not events or len(events) < self.limit:
            return 0.0
        return max(0.0, self.window_seconds - (self._clock() - events[0]))
