"""Sending Customer Service messages through the Zalo OA API, with the token refresh dance.

The refresh token works once: the new one is written to the database before the new access token is
used, so a crash between the two never leaves the channel without a usable refresh token. Replicas
refresh under one Redis lock (``TTHC_REDIS_URL``), and whoever gets it second finds the new access
token already stored and uses it instead of spending the refresh token again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from connectors.chat import BotMessage
from connectors.settings import ZaloSettings
from connectors.zalo.store import ZaloStore
from connectors.zalo.text import zalo_messages

logger = logging.getLogger(__name__)

ACCESS_TOKEN = "access_token"
REFRESH_TOKEN = "refresh_token"
INVALID_ACCESS_TOKEN = -216
EXPIRY_MARGIN_SECONDS = 300
REFRESH_LOCK = "tthc:zalo:token-refresh"


class ZaloError(Exception):
    """Zalo refused a call; the message names the endpoint and the error code only."""


class ZaloUnreachableError(ZaloError):
    """Zalo could not be reached after every retry."""


class ZaloClient:
    def __init__(
        self,
        settings: ZaloSettings,
        store: ZaloStore,
        http: httpx.AsyncClient | None = None,
        redis_url: str = "",
    ) -> None:
        self.settings = settings
        self.store = store
        self._http = http or httpx.AsyncClient(timeout=settings.timeout_seconds)
        self._refresh_lock = asyncio.Lock()
        self._redis: Any = None
        if redis_url:
            import redis.asyncio as redis

            self._redis = redis.Redis.from_url(redis_url)

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._redis is not None:
            await self._redis.aclose()

    @contextlib.asynccontextmanager
    async def _refreshing(self) -> AsyncIterator[None]:
        """This process's lock, and with Redis the lock all replicas share. It expires by itself if
        its holder dies, after longer than a refresh can take (every attempt with its timeout)."""
        async with self._refresh_lock:
            if self._redis is None:
                yield
                return
            expires = self.settings.send_attempts * (self.settings.timeout_seconds + 5) + 10
            lock = self._redis.lock(REFRESH_LOCK, timeout=expires, blocking_timeout=expires)
            if not await lock.acquire():
                raise ZaloUnreachableError("token refresh: another replica holds the refresh lock")
            try:
                yield
            finally:
                with contextlib.suppress(Exception):  # expired meanwhile: nothing left to release
                    await lock.release()

    # ---- tokens -----------------------------------------------------------------------------

    def _current_refresh_token(self) -> str:
        stored = self.store.get_token(REFRESH_TOKEN)
        return stored[0] if stored else self.settings.refresh_token

    def _usable_access_token(self) -> str | None:
        stored = self.store.get_token(ACCESS_TOKEN)
        if not stored:
            return None
        value, expires_at = stored
        if expires_at is not None and expires_at - EXPIRY_MARGIN_SECONDS < time.time():
            return None
        return value

    async def access_token(self) -> str:
        return self._usable_access_token() or await self.refresh_access_token()

    async def refresh_access_token(self, rejected: str | None = None) -> str:
        """Trade the refresh token for a new pair; concurrent callers share one refresh."""
        async with self._refreshing():
            current = self._usable_access_token()
            if current and current != rejected:
                return current
            response = await self._request(
                "POST",
                f"{self.settings.oauth_base}/v4/oa/access_token",
                headers={"secret_key": self.settings.app_secret},
                data={
                    "app_id": self.settings.app_id,
                    "grant_type": "refresh_token",
                    "refresh_token": self._current_refresh_token(),
                },
            )
            body = _json(response)
            access, refresh = body.get("access_token"), body.get("refresh_token")
            if response.status_code != 200 or not access or not refresh:
                raise ZaloError(
                    f"token refresh refused (HTTP {response.status_code}, error {body.get('error')})"
                )
            self.store.set_token(REFRESH_TOKEN, str(refresh))
            try:
                expires_in = float(body.get("expires_in") or 90_000)
            except (TypeError, ValueError):
                expires_in = 90_000.0
            self.store.set_token(ACCESS_TOKEN, str(access), time.time() + expires_in)
            logger.info("Zalo access token refreshed; it expires in %.0f h", expires_in / 3600)
            return str(access)

    # ---- sending ----------------------------------------------------------------------------

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One call with retries and backoff on network errors and 5xx answers."""
        attempts = self.settings.send_attempts
        for attempt in range(1, attempts + 1):
            try:
                response = await self._http.request(method, url, **kwargs)
            except httpx.HTTPError as error:
                problem = type(error).__name__
            else:
                if response.status_code < 500:
                    return response
                problem = f"HTTP {response.status_code}"
            if attempt < attempts:
                delay = self.settings.backoff_seconds * 2 ** (attempt - 1)
                logger.warning(
                    "Zalo API call failed (%s), attempt %d/%d; retrying", problem, attempt, attempts
                )
                await asyncio.sleep(delay)
        raise ZaloUnreachableError(f"Zalo API unreachable after {attempts} attempts ({problem})")

    async def _post_message(self, message: dict[str, Any], user_id: str) -> None:
        url = f"{self.settings.oa_api_base}/v3.0/oa/message/cs"
        body = {"recipient": {"user_id": user_id}, "message": message}
        token = await self.access_token()
        for retry_after_refresh in (True, False):
            response = await self._request("POST", url, headers={"access_token": token}, json=body)
            error = _json(response).get("error", 0 if response.status_code == 200 else response.status_code)
            if error == 0:
                return
            if error == INVALID_ACCESS_TOKEN and retry_after_refresh:
                logger.info("Zalo rejected the access token (-216); refreshing and retrying once")
                token = await self.refresh_access_token(rejected=token)
                continue
            raise ZaloError(f"message refused by Zalo (HTTP {response.status_code}, error {error})")

    async def post_message(self, user_id: str, message: dict[str, Any]) -> None:
        """One Zalo message (a part from ``connectors.zalo.text.zalo_messages``)."""
        await self._post_message(message, user_id)

    async def send(self, user_id: str, message: BotMessage) -> None:
        """One bot message: its text in chunks of at most 2,000 characters, buttons on the last."""
        for part in zalo_messages(message):
            await self._post_message(part, user_id)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
