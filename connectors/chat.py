"""The chat core both channels use: a sender's text goes to Rasa's REST channel, replies come back."""

from __future__ import annotations

import importlib.util
import logging
import sys
import time
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from pydantic import BaseModel, Field

logger = logging.getLogger(__name__)

RASA_UNAVAILABLE_MESSAGE = (
    "Xin lỗi, trợ lý đang tạm thời gián đoạn. Bạn vui lòng thử lại sau ít phút, "
    "hoặc liên hệ Trung tâm phục vụ hành chính công gần nhất để được hỗ trợ."
)


class Button(BaseModel):
    title: str
    payload: str


class BotMessage(BaseModel):
    text: str = ""
    buttons: list[Button] = Field(default_factory=list)
    # A handoff request from action_request_human, for the channel only (never sent to a citizen).
    handoff: dict[str, Any] | None = Field(default=None, exclude=True)
    # What the turn was for the analytics (an answer, a rating, a report…), for the app only.
    record: dict[str, Any] | None = Field(default=None, exclude=True)


def spare_httpcore_the_sniffio_search() -> None:
    """httpcore imports sniffio (to tell asyncio from trio) on every connection-pool operation; with
    sniffio not installed, each of those imports searched sys.path again (77 µs, a few a chat turn).
    A module known to be missing is marked so once; httpcore still finds it missing and uses asyncio."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


class RasaUnavailableError(Exception):
    """Rasa did not answer (down, timed out, or replied with an error)."""


class ChatBackend(Protocol):
    """What a channel needs from the chat core; the app factory accepts any implementation."""

    async def send(self, sender_id: str, text: str) -> list[BotMessage]: ...

    async def status(self) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


def _as_text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def messages_from_rasa(raw_messages: Any) -> list[BotMessage]:
    """Map Rasa REST channel output to channel messages; anything unusable is skipped."""
    if not isinstance(raw_messages, list):
        raise RasaUnavailableError("Rasa replied with something other than a list")
    messages: list[BotMessage] = []
    for raw in raw_messages:
        if not isinstance(raw, dict):
            continue
        text = _as_text(raw.get("text"))
        custom = raw.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get("handoff"), dict):
            messages.append(BotMessage(handoff=custom["handoff"]))
            continue
        if isinstance(custom, dict) and isinstance(custom.get("record"), dict):
            messages.append(BotMessage(record=custom["record"]))
            continue
        if not text and isinstance(custom, dict):
            text = _as_text(custom.get("text"))
        if not text and _as_text(raw.get("image")):
            text = _as_text(raw.get("image"))
        buttons = [
            Button(title=_as_text(item.get("title")), payload=_as_text(item.get("payload")))
            for item in raw.get("buttons") or []
            if isinstance(item, dict) and _as_text(item.get("title")) and _as_text(item.get("payload"))
        ]
        if text or buttons:
            messages.append(BotMessage(text=text, buttons=buttons))
    return messages


INTENT_PREFIX = "/"


def offered_payloads(tracker: Any) -> set[str]:
    """Payloads of every button the bot sent in a conversation (its tracker's bot events)."""
    events = tracker.get("events") if isinstance(tracker, dict) else None
    payloads: set[str] = set()
    for event in events or []:
        if not isinstance(event, dict) or event.get("event") != "bot":
            continue
        for button in (event.get("data") or {}).get("buttons") or []:
            if isinstance(button, dict) and isinstance(button.get("payload"), str):
                payloads.add(button["payload"].strip())
    return payloads


def as_plain_text(text: str) -> str:
    """A typed message starting with "/" is text, not Rasa's intent syntax."""
    return text.strip().lstrip(INTENT_PREFIX).strip() or "?"


class RasaChat:
    """The chat core over Rasa's REST channel (``POST /webhooks/rest/webhook``)."""

    def __init__(self, rasa_url: str, timeout_seconds: float = 30.0, token: str = "") -> None:
        self.rasa_url = rasa_url.rstrip("/")
        # Rasa's HTTP API token (``--auth-token``), sent as the ``token`` query parameter.
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds, connect=3.0),
            limits=httpx.Limits(max_keepalive_connections=20),
            params={"token": token} if token else None,
        )

    async def _offered(self, sender_id: str) -> set[str]:
        try:
            # ":" unescaped, as the console sends it: Rasa does not decode %3A, and a Zalo conversation
            # (zalo:<user>) read as "zalo%3A…" had no offered payloads, so its buttons became text.
            response = await self._client.get(
                f"{self.rasa_url}/conversations/{quote(sender_id, safe=':')}/tracker",
                params={"include_events": "ALL"},
            )
            return offered_payloads(response.json()) if response.status_code == 200 else set()
        except (httpx.HTTPError, ValueError):
            return set()

    async def guard(self, sender_id: str, text: str) -> str:
        """Only a payload of a button the bot offered in this conversation reaches Rasa as an intent."""
        if not text.lstrip().startswith(INTENT_PREFIX):
            return text
        if text.strip() in await self._offered(sender_id):
            return text.strip()
        return as_plain_text(text)

    async def send(self, sender_id: str, text: str) -> list[BotMessage]:
        started = time.perf_counter()
        text = await self.guard(sender_id, text)
        try:
            response = await self._client.post(
                f"{self.rasa_url}/webhooks/rest/webhook", json={"sender": sender_id, "message": text}
            )
        except httpx.HTTPError as error:
            raise RasaUnavailableError(f"Rasa unreachable: {type(error).__name__}") from error
        if response.status_code != 200:
            raise RasaUnavailableError(f"Rasa answered HTTP {response.status_code}")
        try:
            payload = response.json()
        except ValueError as error:
            raise RasaUnavailableError("Rasa answered with invalid JSON") from error
        messages = messages_from_rasa(payload)
        logger.debug(
            "Rasa answered %d messages in %.0f ms", len(messages), (time.perf_counter() - started) * 1e3
        )
        return messages

    async def status(self) -> dict[str, Any]:
        """Whether Rasa answers ``GET /status`` with a loaded model."""
        try:
            response = await self._client.get(f"{self.rasa_url}/status", timeout=2.0)
            body = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return {"ready": False, "detail": "Rasa không phản hồi"}
        model = body.get("model_file") if isinstance(body, dict) else None
        if not model:
            return {"ready": False, "detail": "Rasa chưa nạp mô hình"}
        return {"ready": True, "model": str(model)}

    async def aclose(self) -> None:
        await self._client.aclose()
