"""``POST /zalo/webhook``: verify, acknowledge at once, answer in the background.

Zalo retries slow webhooks and eventually disables them, so the request handler only checks the
signature, records the message and schedules the work; the reply goes out through the OA API.
The steps of an answer are recorded in ``ZaloStore`` (see there), so a message interrupted by a
crash or a stop is answered at the next start with the parts the citizen did not get yet.
While Rasa is down or loading, messages are held and answered once it is ready again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import time
import uuid
from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from connectors.chat import RASA_UNAVAILABLE_MESSAGE, BotMessage, ChatBackend, RasaUnavailableError
from connectors.ratelimit import RATE_LIMITED_MESSAGE, RateLimiter
from connectors.settings import ZaloSettings
from connectors.zalo.client import ZaloClient, ZaloError, ZaloUnreachableError
from connectors.zalo.signature import signature_matches
from connectors.zalo.store import PendingMessage, ZaloStore
from connectors.zalo.text import shape_answer, zalo_messages

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-ZEvent-Signature"
TEXT_EVENT = "user_send_text"
SENDER_PREFIX = "zalo:"
EMPTY_TEXT_REPLY = "Trợ lý hiện chỉ đọc được tin nhắn chữ. Bạn vui lòng gõ câu hỏi về thủ tục hành chính."


class _HeldTooLongError(Exception):
    """Rasa stayed unavailable for longer than the resume window."""


class ZaloChannel:
    """Everything the webhook needs, created by the app factory when the Zalo settings are present."""

    def __init__(
        self,
        settings: ZaloSettings,
        store: ZaloStore,
        chat: ChatBackend,
        limiter: RateLimiter,
        client: ZaloClient | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.chat = chat
        self.limiter = limiter
        self.client = client or ZaloClient(settings, store)
        self._tasks: set[asyncio.Task[None]] = set()
        # This replica's name on the leases of the messages it answers.
        self.owner = uuid.uuid4().hex
        self._in_flight: set[str] = set()
        self._leases: asyncio.Task[None] | None = None
        self._limited_notice_sent: set[str] = set()
        # One citizen's messages are answered one after the other, in the order they arrived.
        self._user_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def claim(self, msg_id: str, user_id: str, text: str) -> bool:
        """Record a new message under this replica's lease; False for a message seen before."""
        return self.store.claim_message(msg_id, user_id, text, self.owner, self.settings.lease_seconds)

    def schedule(self, message: PendingMessage) -> None:
        if message.msg_id in self._in_flight:
            return
        self._in_flight.add(message.msg_id)
        task = asyncio.create_task(self._process(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _: self._in_flight.discard(message.msg_id))

    def resume_unanswered(self) -> int:
        """Prune old message ids and finish what a previous process (or a replica that died) received
        but never answered; messages another live replica is answering keep their lease and stay its."""
        self.store.forget_messages_older_than(self.settings.keep_message_ids_seconds)
        return self._answer_taken(self._take_over())

    def _take_over(self) -> list[PendingMessage]:
        """Pending messages whose lease ran out, now leased to this replica (database calls only)."""
        return self.store.take_over(
            self.settings.resume_window_seconds, self.owner, self.settings.lease_seconds
        )

    def _answer_taken(self, taken: list[PendingMessage]) -> int:
        """Schedule the messages taken over (in the event loop's thread)."""
        for message in taken:
            self.schedule(message)
        if taken:
            logger.info("Answering %d Zalo message(s) left unanswered by a stopped replica", len(taken))
        return len(taken)

    def start(self) -> None:
        """Renew this replica's leases, and take over messages whose lease ran out, every third of a lease."""
        if self._leases is None:
            self._leases = asyncio.create_task(self._keep_leases())

    async def _keep_leases(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            try:
                await run_in_threadpool(
                    self.store.renew_leases, sorted(self._in_flight), self.owner, self.settings.lease_seconds
                )
                self._answer_taken(await run_in_threadpool(self._take_over))
            except Exception:
                logger.exception("Zalo leases not renewed")

    async def _process(self, message: PendingMessage) -> None:
        async with self._user_locks[message.user_id]:
            try:
                await self._answer(message)
            except ZaloUnreachableError as error:
                # Kept pending, and free for the next take-over (this replica's or another's).
                logger.error("Zalo reply postponed: %s", error)
                self.store.release_leases([message.msg_id], self.owner)
            except ZaloError as error:
                logger.error("Zalo reply given up: %s", error)
                self.store.mark_given_up(message.msg_id)
            except _HeldTooLongError:
                logger.error("Zalo message given up: Rasa unavailable for longer than the resume window")
                self.store.mark_given_up(message.msg_id)
                await self._notify(message.user_id, RASA_UNAVAILABLE_MESSAGE)
            except Exception:
                logger.exception("Zalo reply failed unexpectedly")
                self.store.release_leases([message.msg_id], self.owner)

    async def _answer(self, message: PendingMessage) -> None:
        parts = message.parts
        if parts is None:
            replies = await self._replies(message)
            if replies is None:
                self.store.mark_given_up(message.msg_id)
                return
            parts = [part for reply in shape_answer(replies) for part in zalo_messages(reply)]
            self.store.save_answer(message.msg_id, parts)
        for index in range(message.parts_sent, len(parts)):
            await self.client.post_message(message.user_id, parts[index])
            self.store.mark_parts_sent(message.msg_id, index + 1)
        self.store.mark_answered(message.msg_id)

    async def _replies(self, message: PendingMessage) -> list[BotMessage] | None:
        """The real answer to the message, or None when it is not to be answered (rate limited)."""
        user_id = message.user_id
        if not await self.limiter.allow(SENDER_PREFIX + user_id):
            if user_id not in self._limited_notice_sent:
                self._limited_notice_sent.add(user_id)
                await self._notify(user_id, RATE_LIMITED_MESSAGE)
            return None
        self._limited_notice_sent.discard(user_id)
        if not message.text.strip():
            return [BotMessage(text=EMPTY_TEXT_REPLY)]
        return await self._ask_rasa(SENDER_PREFIX + user_id, message.text[:2000])

    async def _ask_rasa(self, sender_id: str, text: str) -> list[BotMessage]:
        """Rasa's answer; while Rasa is down or loading, wait until it is ready again."""
        deadline = time.monotonic() + self.settings.resume_window_seconds
        delay = self.settings.hold_poll_seconds
        while True:
            if (await self.chat.status()).get("ready"):
                try:
                    return await self.chat.send(sender_id, text)
                except RasaUnavailableError as error:
                    logger.warning("Zalo message held, Rasa did not answer: %s", error)
            if time.monotonic() + delay > deadline:
                raise _HeldTooLongError
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10 * self.settings.hold_poll_seconds)

    async def _notify(self, user_id: str, text: str) -> None:
        """A notice that is not the answer to a message; failures are only logged."""
        try:
            await self.client.send(user_id, BotMessage(text=text))
        except ZaloError as error:
            logger.error("Zalo notice not sent: %s", error)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for replies in flight (used at shutdown and by tests)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def _cancel_unfinished(self) -> None:
        """Replies still held at shutdown stay pending in the store for the next start."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=1.0)

    async def aclose(self) -> None:
        if self._leases is not None:
            self._leases.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._leases
        await self.drain(self.settings.shutdown_grace_seconds)
        unfinished = sorted(self._in_flight)
        await self._cancel_unfinished()
        self.store.release_leases(unfinished, self.owner)
        await self.client.aclose()
        self.store.close()


_TIMESTAMP = re.compile(rb'"timestamp"\s*:\s*"?(\d{1,16})"?')


def timestamps_in(raw_body: bytes, limit: int = 5) -> list[str]:
    """Candidates for the event's timestamp (ms), read from the raw bytes without parsing the JSON."""
    found = itertools.islice(_TIMESTAMP.finditer(raw_body), limit)
    return [match.group(1).decode() for match in found]


def encodable(*texts: str) -> bool:
    try:
        for text in texts:
            text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _reject(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def build_router(channel: ZaloChannel) -> APIRouter:
    router = APIRouter(tags=["zalo"])

    @router.post("/zalo/webhook", responses={401: {"description": "Missing, wrong or stale signature"}})
    async def zalo_webhook(request: Request) -> JSONResponse:
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            return _reject(401, "Thiếu chữ ký X-ZEvent-Signature.")
        raw_body = await request.body()
        # The signature covers the body and its timestamp: it is checked before the body is parsed.
        settings = channel.settings
        timestamp = next(
            (
                candidate
                for candidate in timestamps_in(raw_body)
                if signature_matches(signature, settings.app_id, raw_body, candidate, settings.oa_secret_key)
            ),
            None,
        )
        if timestamp is None:
            logger.warning("Zalo webhook with a wrong signature rejected")
            return _reject(401, "Chữ ký không hợp lệ.")
        if abs(time.time() - int(timestamp) / 1000) > settings.timestamp_window_seconds:
            logger.warning("Zalo webhook with a timestamp outside the window rejected")
            return _reject(401, "Thời điểm ký không hợp lệ.")
        try:
            event: Any = json.loads(raw_body)
        except (ValueError, RecursionError):
            return _reject(400, "Nội dung không phải JSON hợp lệ.")
        if not isinstance(event, dict) or str(event.get("timestamp", "")) != timestamp:
            return _reject(400, "Nội dung không hợp lệ.")

        if event.get("event_name") != TEXT_EVENT:
            return JSONResponse({"ok": True, "handled": False})
        message = event.get("message") if isinstance(event.get("message"), dict) else {}
        sender = event.get("sender") if isinstance(event.get("sender"), dict) else {}
        msg_id, user_id, text = message.get("msg_id"), sender.get("id"), message.get("text")
        if not isinstance(msg_id, str) or not msg_id or not isinstance(user_id, str) or not user_id:
            return JSONResponse({"ok": True, "handled": False})
        text = text if isinstance(text, str) else ""
        if not encodable(msg_id, user_id, text):
            return _reject(400, "Tin nhắn chứa ký tự không mã hóa được.")
        if not channel.claim(msg_id, user_id, text):
            return JSONResponse({"ok": True, "handled": False, "duplicate": True})
        channel.schedule(PendingMessage(msg_id, user_id, text))
        return JSONResponse({"ok": True, "handled": True})

    return router
