"""The parts of Rasa's HTTP API the console uses: read a tracker, append events (pause, resume, a
volunteer's turn), run one response action, and trigger an external intent (the hand-back), whose
messages the console delivers itself."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import httpx

from connectors.chat import BotMessage, messages_from_rasa


class RasaApiError(Exception):
    """Rasa's HTTP API refused or did not answer."""


class RasaConversations:
    def __init__(
        self,
        rasa_url: str,
        token: str = "",
        timeout_seconds: float = 30.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.rasa_url = rasa_url.rstrip("/")
        self.token = token
        self._client = http or httpx.AsyncClient(timeout=httpx.Timeout(timeout_seconds, connect=3.0))

    async def _call(self, method: str, conversation_id: str, path: str, **kwargs: Any) -> Any:
        params = dict(kwargs.pop("params", {}))
        if self.token:
            params["token"] = self.token
        url = f"{self.rasa_url}/conversations/{quote(conversation_id, safe=':')}/{path}"
        try:
            response = await self._client.request(method, url, params=params, **kwargs)
        except httpx.HTTPError as error:
            raise RasaApiError(f"Rasa unreachable: {type(error).__name__}") from error
        if response.status_code != 200:
            raise RasaApiError(f"Rasa answered HTTP {response.status_code} to {path}")
        return response.json()

    async def tracker(self, conversation_id: str) -> dict[str, Any]:
        return await self._call("GET", conversation_id, "tracker", params={"include_events": "ALL"})

    async def append(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        stamped = [{"timestamp": time.time(), **event} for event in events]
        await self._call(
            "POST", conversation_id, "tracker/events", params={"include_events": "NONE"}, json=stamped
        )

    async def pause(self, conversation_id: str) -> None:
        await self.append(conversation_id, [{"event": "pause"}])

    async def resume(self, conversation_id: str) -> None:
        await self.append(conversation_id, [{"event": "resume"}])

    async def volunteer_turn(self, conversation_id: str, text: str, username: str, name: str) -> None:
        """The volunteer's message, kept in the tracker as a bot-side turn that names its author."""
        metadata = {"volunteer": username, "volunteer_name": name}
        await self.append(conversation_id, [{"event": "bot", "text": text, "metadata": metadata}])

    async def run_response(
        self, conversation_id: str, action: str, slots: dict[str, Any] | None = None
    ) -> list[BotMessage]:
        """Set ``slots``, run one action (a domain response) and return what it says (the console
        delivers it on the citizen's channel)."""
        if slots:
            await self.append(
                conversation_id,
                [{"event": "slot", "name": name, "value": value} for name, value in slots.items()],
            )
        body = await self._call(
            "POST", conversation_id, "execute", params={"include_events": "NONE"}, json={"name": action}
        )
        # The bot then listens again, as after any turn: the next question is predicted as usual.
        await self.append(conversation_id, [{"event": "action", "name": "action_listen"}])
        return messages_from_rasa(body.get("messages") or []) if isinstance(body, dict) else []

    async def trigger_intent(self, conversation_id: str, intent: str) -> list[BotMessage]:
        """An external intent (e.g. ``EXTERNAL_handback``): Rasa's rules decide what the bot says, and
        the bot then listens again; returns what it says (the console delivers it)."""
        body = await self._call(
            "POST",
            conversation_id,
            "trigger_intent",
            params={"include_events": "NONE"},
            json={"name": intent},
        )
        return messages_from_rasa(body.get("messages") or []) if isinstance(body, dict) else []

    async def aclose(self) -> None:
        await self._client.aclose()


def history(tracker: dict[str, Any]) -> list[dict[str, Any]]:
    """Citizen, bot and volunteer turns of a tracker, oldest first."""
    turns: list[dict[str, Any]] = []
    for event in tracker.get("events") or []:
        kind = event.get("event")
        text = event.get("text")
        if kind not in {"user", "bot"} or not isinstance(text, str) or not text.strip():
            continue
        metadata = event.get("metadata") or {}
        if kind == "user" and metadata.get("is_external"):
            continue  # an intent the console triggered (the hand-back), not the citizen's words
        if kind == "user":
            role, author = "citizen", None
        elif metadata.get("volunteer"):
            role, author = "volunteer", metadata.get("volunteer_name") or metadata.get("volunteer")
        else:
            role, author = "bot", None
        turns.append({"role": role, "author": author, "text": text, "at": event.get("timestamp")})
    return turns
