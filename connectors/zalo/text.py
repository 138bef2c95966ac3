"""Shaping replies for Zalo: one answer in at most two messages, buttons within Zalo's limits."""

from __future__ import annotations

import re
from typing import Any

from connectors.chat import BotMessage, Button

MAX_TEXT_CHARS = 2000
MAX_BUTTONS = 5
MAX_BUTTON_TITLE_CHARS = 100
MAX_BUTTON_PAYLOAD_CHARS = 1000
# Below this, a long answer is not continued in the second message (the rest goes there alone).
MIN_ROOM = 200

_SENTENCE_END = re.compile(r"(?<=[.!?;:…])\s+")


def _pieces(text: str, limit: int) -> list[str]:
    """Split one oversized block at sentence ends, then spaces, then anywhere."""
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit + 1)
            cut = cut if cut > limit // 2 else limit
            pieces.append(sentence[:cut].rstrip())
            sentence = sentence[cut:].lstrip()
        if sentence:
            pieces.append(sentence)
    return pieces


def split_text(text: str, limit: int = MAX_TEXT_CHARS) -> list[str]:
    """Chunks of at most ``limit`` characters, cut at line breaks first, then at sentence ends."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        parts = [line] if len(line) <= limit else _pieces(line, limit)
        for index, part in enumerate(parts):
            separator = "\n" if index == 0 else " "
            candidate = f"{current}{separator}{part}" if current else part
            if len(candidate) <= limit:
                current = candidate
            else:
                if current.strip():
                    chunks.append(current.rstrip())
                current = part
    if current.strip():
        chunks.append(current.rstrip())
    return chunks


def _shorten(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def zalo_buttons(buttons: list[Button]) -> list[dict[str, str]]:
    """At most five ``oa.query.show`` buttons: a click sends the payload back as the user's text."""
    return [
        {
            "title": _shorten(button.title, MAX_BUTTON_TITLE_CHARS),
            "type": "oa.query.show",
            "payload": button.payload[:MAX_BUTTON_PAYLOAD_CHARS],
        }
        for button in buttons[:MAX_BUTTONS]
    ]


def zalo_messages(message: BotMessage) -> list[dict[str, Any]]:
    """The Zalo messages for one bot message: its text in chunks, the buttons on the last chunk."""
    chunks = split_text(message.text) or ([""] if message.buttons else [])
    parts: list[dict[str, Any]] = []
    for index, chunk in enumerate(chunks):
        part: dict[str, Any] = {"text": chunk or "Mời bạn chọn:"}
        if index == len(chunks) - 1 and message.buttons:
            part["attachment"] = {"type": "template", "payload": {"buttons": zalo_buttons(message.buttons)}}
        parts.append(part)
    return parts


def _cut(text: str, room: int) -> str:
    """``text`` if it fits in ``room`` characters; else its start, cut at a line or sentence end (a
    word at worst) and marked "…"."""
    if len(text) <= room:
        return text
    pieces = split_text(text, max(room - 1, 1))
    return (pieces[0] if pieces else "") + "…"


def shape_answer(replies: list[BotMessage]) -> list[BotMessage]:
    """One answer as at most two Zalo messages: the answer's text, then the rest with the buttons
    (those of the last replies first: the choices offered under the answer). A long answer goes on in
    the second message, before the rest, and only what does not fit there is cut."""
    replies = [reply for reply in replies if reply.text or reply.buttons]
    if not replies:
        return []
    buttons = list({b.payload: b for reply in reversed(replies) for b in reply.buttons}.values())[
        :MAX_BUTTONS
    ]
    rest = "\n\n".join(reply.text for reply in replies[1:] if reply.text)
    first, *more = split_text(replies[0].text) or [""]
    messages = [BotMessage(text=first)]
    room = MAX_TEXT_CHARS - (len(rest) + 2 if rest else 0)
    tail = _cut("\n".join(more), room) if more and room > MIN_ROOM else ""
    second = "\n\n".join(part for part in (tail, rest) if part)
    if second or (buttons and len(replies) > 1):
        messages.append(BotMessage(text=_cut(second, MAX_TEXT_CHARS)))
    messages[-1].buttons = buttons
    return messages
