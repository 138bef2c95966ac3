"""`tthc chat`: a terminal chat against the running app, for a volunteer at a help desk.

Buttons are numbered; typing the number chooses one. `/moi` starts a new conversation, `/thoat`
(or Ctrl-D) leaves.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from connectors.chat import BotMessage, Button

QUIT_COMMANDS = {"/thoat", "/thoát", "/quit", "/exit"}
NEW_COMMANDS = {"/moi", "/mới", "/new"}
HELP = "Gõ câu hỏi rồi nhấn Enter. Gõ số để chọn một lựa chọn. /moi: cuộc trò chuyện mới, /thoat: thoát."


def new_sender_id() -> str:
    return f"desk-{uuid.uuid4().hex[:16]}"


@dataclass
class TerminalChat:
    url: str
    sender_id: str = field(default_factory=new_sender_id)
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60.0))
    buttons: list[Button] = field(default_factory=list)

    def resolve(self, typed: str) -> tuple[str, str]:
        """What to send and what to show for the user's input (a number picks a button)."""
        if typed.isdigit() and 1 <= int(typed) <= len(self.buttons):
            button = self.buttons[int(typed) - 1]
            return button.payload, button.title
        return typed, typed

    def ask(self, text: str) -> list[BotMessage]:
        """One turn; raises ``RuntimeError`` with a plain Vietnamese explanation on failure."""
        try:
            response = self.client.post(
                f"{self.url.rstrip('/')}/api/chat", json={"sender_id": self.sender_id, "text": text}
            )
        except httpx.HTTPError as error:
            raise RuntimeError(
                f"Không kết nối được với trợ lý tại {self.url} (đã chạy `make run` chưa?)."
            ) from error
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200:
            raise RuntimeError(body.get("detail") or f"Trợ lý trả lỗi HTTP {response.status_code}.")
        messages = [BotMessage.model_validate(item) for item in body.get("messages", [])]
        self.buttons = [button for message in messages for button in message.buttons]
        return messages

    def render(self, messages: list[BotMessage]) -> str:
        if not messages:
            return "Trợ lý: (không có câu trả lời)"
        lines: list[str] = []
        number = 0
        for message in messages:
            if message.text:
                lines.append("Trợ lý: " + message.text.replace("\n", "\n        "))
            for button in message.buttons:
                number += 1
                lines.append(f"  [{number}] {button.title}")
        return "\n".join(lines)


def run_chat(
    url: str,
    sender_id: str | None = None,
    read: Callable[[str], str] = input,
    write: Callable[[str], None] = print,
) -> int:
    chat = TerminalChat(url=url, sender_id=sender_id or new_sender_id())
    write(f"Trợ lý Thủ tục ({url}). {HELP}")
    while True:
        try:
            typed = read("\nBạn: ").strip()
        except (EOFError, KeyboardInterrupt):
            write("\nTạm biệt!")
            return 0
        if not typed:
            continue
        if typed.lower() in QUIT_COMMANDS:
            write("Tạm biệt!")
            return 0
        if typed.lower() in NEW_COMMANDS:
            chat.sender_id, chat.buttons = new_sender_id(), []
            write("Đã bắt đầu cuộc trò chuyện mới.")
            continue
        if typed.lower() in {"/help", "/huongdan", "?"}:
            write(HELP)
            continue
        text, shown = chat.resolve(typed)
        if shown != typed:
            write(f"  → {shown}")
        try:
            write(chat.render(chat.ask(text)))
        except RuntimeError as error:
            write(f"Lỗi: {error}")
