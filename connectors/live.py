"""Waking the live streams (the console's queue, the widget's volunteer messages) when the app's
database changed, on every replica.

The database stays the source of truth: a stream re-reads it when woken. ``LiveBus`` wakes the
streams of its own process at once; with ``TTHC_REDIS_URL`` set, a change is also published on a Redis
channel that every replica listens to, so a volunteer's message written on one replica reaches a
widget streaming from another within milliseconds. Without Redis, streams also poll each second (the
only way to see other replicas' writes); with it, every ``REDIS_POLL_SECONDS`` as a safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

logger = logging.getLogger(__name__)

CHANNEL = "tthc:live"
LOCAL_POLL_SECONDS = 1.0
REDIS_POLL_SECONDS = 10.0
RECONNECT_SECONDS = 1.0


class LiveBus:
    def __init__(self, redis_url: str = "") -> None:
        self.redis_url = redis_url
        self._event = asyncio.Event()
        self._redis: Any = None
        self._listener: asyncio.Task[None] | None = None

    @property
    def poll_seconds(self) -> float:
        return REDIS_POLL_SECONDS if self.redis_url else LOCAL_POLL_SECONDS

    def changed(self) -> asyncio.Event:
        """The event set at the next change: take it *before* reading, then ``wait`` on it."""
        return self._event

    async def wait(self, changed: asyncio.Event, timeout: float | None = None) -> None:
        """Until the change ``changed`` stands for, or ``timeout`` (default: the poll interval)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout or self.poll_seconds)

    def _wake(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def publish(self) -> None:
        """Something the streams show changed (call it after the transaction committed)."""
        self._wake()
        if self._redis is None:
            return
        try:
            await self._redis.publish(CHANNEL, "1")
        except Exception as error:  # the streams' poll still catches up
            logger.warning("Live push not published on Redis: %s", type(error).__name__)

    async def start(self) -> None:
        if not self.redis_url or self._listener is not None:
            return
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(self.redis_url)
        self._listener = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    async for _ in pubsub.listen():
                        self._wake()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning("Live push: Redis subscription lost (%s); reconnecting", type(error).__name__)
                self._wake()
                await asyncio.sleep(RECONNECT_SECONDS)

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
