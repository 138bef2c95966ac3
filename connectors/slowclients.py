"""uvicorn's h11 protocol with a request timeout: slow clients are cut.

uvicorn closes idle keep-alive connections (``--timeout-keep-alive``) but waits forever for a request
whose headers or body trickle in. This protocol gives each request ``TTHC_REQUEST_TIMEOUT_SECONDS``
(10 s by default) from its first byte (or the connection's opening) until it has fully arrived;
past that the connection is closed with one log line. The runner starts the app with
``--http connectors.slowclients:TimedH11Protocol``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from connectors.settings import AppSettings

logger = logging.getLogger(__name__)


@functools.cache
def _timeout_seconds() -> float:
    return AppSettings().request_timeout_seconds


class TimedH11Protocol(H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_timeout = _timeout_seconds()
        self._request_deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._request_deadline = self.loop.call_later(self.request_timeout, self._cut)

    def _disarm(self) -> None:
        if self._request_deadline is not None:
            self._request_deadline.cancel()
            self._request_deadline = None

    def _cut(self) -> None:
        self._request_deadline = None
        if not self.transport.is_closing():
            logger.warning("Request not received within %.0f s; connection closed", self.request_timeout)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._request_deadline is None and self.conn.their_state is h11.IDLE:
            self._arm()  # the first bytes of the next request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE and self.conn.their_state is not h11.SEND_BODY:
            self._disarm()  # the whole request is in (or the connection is done with)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
