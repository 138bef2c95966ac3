"""``POST /zalo/webhook``: verify, acknowledge at once, answer in the background.

Zalo retries slow webhooks and eventually disables them, so the request handler only checks the
signature, records the message and schedules the work; the reply goes out through the OA API.
A message is marked answered only after its reply went out, so one interrupted by a crash is
answered at the next start (``resume_unanswered``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from connectors.chat import RASA_UNAVAILABLE_MESSAGE, BotMessage, ChatBackend, RasaUnavailableError
from connectors.ratelimit import RATE_LIMITED_MESSAGE, RateLimiter
from connectors.settings import ZaloSettings
from connectors.zalo.client import ZaloClient, ZaloError
from connectors.zalo.signature import signature_matches
from connectors.zalo.store import ZaloStore
from connectors.zalo.text import shape_answer

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-ZEvent-Signature"
TEXT_EVENT = "user_send_text"
SENDER_PREFIX = "zalo:"
EMPTY_TEXT_REPLY = "Trợ lý hiện chỉ đọc được tin nhắn chữ. Bạn vui lòng gõ câu hỏi về thủ tục hành chính."


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
        self._limited_notice_sent: set[str] = set()

    def schedule(self, msg_id: str, user_id: str, text: str) -> None:
        task = asyncio.create_task(self._answer_and_mark(msg_id, user_id, text))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def resume_unanswered(self) -> int:
        """Prune old message ids and answer what a previous process received but never answered."""
        self.store.forget_messages_older_than(self.settings.keep_message_ids_seconds)
        pending = self.store.unanswered_messages(self.settings.resume_window_seconds)
        for message in pending:
            self.schedule(message.msg_id, message.user_id, message.text)
        if pending:
            logger.info("Answering %d Zalo message(s) left unanswered by the previous run", len(pending))
        return len(pending)

    async def _answer_and_mark(self, msg_id: str, user_id: str, text: str) -> None:
        await self.answer(user_id, text)
        # Not reached when the task is cancelled at shutdown: the message stays for the next start.
        self.store.mark_answered(msg_id)

    async def answer(self, user_id: str, text: str) -> None:
        try:
            if not self.limiter.allow(SENDER_PREFIX + user_id):
                if user_id not in self._limited_notice_sent:
                    self._limited_notice_sent.add(user_id)
                    await self.client.send(user_id, BotMessage(text=RATE_LIMITED_MESSAGE))
                return
            self._limited_notice_sent.discard(user_id)
            if not text.strip():
                await self.client.send(user_id, BotMessage(text=EMPTY_TEXT_REPLY))
                return
            try:
                replies = await self.chat.send(SENDER_PREFIX + user_id, text[:2000])
            except RasaUnavailableError as error:
                logger.warning("Zalo message not answered by Rasa: %s", error)
                replies = [BotMessage(text=RASA_UNAVAILABLE_MESSAGE)]
            for reply in shape_answer(replies):
                await self.client.send(user_id, reply)
        except ZaloError as error:
            logger.error("Zalo reply given up: %s", error)
        except Exception:
            logger.exception("Zalo reply failed unexpectedly")

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for replies in flight (used at shutdown and by tests)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def _cancel_unfinished(self) -> None:
        """Replies still hanging at shutdown stay unanswered in the store for the next start."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=1.0)

    async def aclose(self) -> None:
        await self.drain()
        await self._cancel_unfinished()
        await self.client.aclose()
        self.store.close()


def _reject(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def build_router(channel: ZaloChannel) -> APIRouter:
    router = APIRouter(tags=["zalo"])

    @router.post("/zalo/webhook")
    async def zalo_webhook(request: Request) -> JSONResponse:
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            return _reject(401, "Thiếu chữ ký X-ZEvent-Signature.")
        raw_body = await request.body()
        try:
            event: Any = json.loads(raw_body)
        except (ValueError, UnicodeDecodeError):
            event = None
        if not isinstance(event, dict):
            return _reject(401, "Chữ ký không hợp lệ.")
        timestamp = str(event.get("timestamp", ""))
        settings = channel.settings
        if not signature_matches(signature, settings.app_id, raw_body, timestamp, settings.oa_secret_key):
            logger.warning("Zalo webhook with a wrong signature rejected")
            return _reject(401, "Chữ ký không hợp lệ.")

        if event.get("event_name") != TEXT_EVENT:
            return JSONResponse({"ok": True, "handled": False})
        message = event.get("message") if isinstance(event.get("message"), dict) else {}
        sender = event.get("sender") if isinstance(event.get("sender"), dict) else {}
        msg_id, user_id, text = message.get("msg_id"), sender.get("id"), message.get("text")
        if not isinstance(msg_id, str) or not msg_id or not isinstance(user_id, str) or not user_id:
            return JSONResponse({"ok": True, "handled": False})
        text = text if isinstance(text, str) else ""
        if not channel.store.claim_message(msg_id, user_id, text):
            return JSONResponse({"ok": True, "handled": False, "duplicate": True})
        channel.schedule(msg_id, user_id, text)
        return JSONResponse({"ok": True, "handled": True})

    return router
