"""The console's client of Rasa's HTTP API: the token, the events it appends, the history it reads."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from connectors.console.rasa_api import RasaConversations, history


def recording_client(seen: list[httpx.Request]) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/execute"):
            return httpx.Response(200, json={"messages": [{"recipient_id": "x", "text": "Xin chào"}]})
        return httpx.Response(200, json={"events": []})

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


def run(coroutine: Any) -> Any:
    # In a thread of its own: Playwright may leave an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_every_call_carries_the_token_and_a_volunteer_turn_names_its_author() -> None:
    seen: list[httpx.Request] = []
    rasa = RasaConversations("http://rasa:5005/", token="s3cret", http=recording_client(seen))
    run(rasa.pause("zalo:42"))
    run(rasa.volunteer_turn("zalo:42", "Chào bạn", "lan", "Nguyễn Thị Lan"))
    said = run(rasa.run_response("web-1", "utter_volunteer_joined", {"volunteer_name": "Lan"}))
    assert [m.text for m in said] == ["Xin chào"]
    assert all(request.url.params["token"] == "s3cret" for request in seen)
    assert seen[0].url.path == "/conversations/zalo:42/tracker/events"
    assert json.loads(seen[0].content)[0]["event"] == "pause"
    turn = json.loads(seen[1].content)[0]
    assert turn["event"] == "bot" and turn["metadata"] == {
        "volunteer": "lan",
        "volunteer_name": "Nguyễn Thị Lan",
    }
    kinds = [(request.url.path.rsplit("/", 1)[-1], request.content) for request in seen[2:]]
    assert [kind for kind, _ in kinds] == ["events", "execute", "events"]  # slot, response, then listen
    assert json.loads(kinds[2][1])[0]["name"] == "action_listen"


def test_no_token_no_parameter() -> None:
    seen: list[httpx.Request] = []
    run(RasaConversations("http://rasa:5005", http=recording_client(seen)).resume("web-1"))
    assert "token" not in seen[0].url.params


def test_history_tells_citizen_bot_and_volunteer_apart() -> None:
    tracker = {
        "events": [
            {"event": "user", "text": "Cho tôi gặp người thật", "timestamp": 1.0},
            {
                "event": "bot",
                "text": "Tôi đã chuyển…",
                "metadata": {"utter_action": "utter_handoff"},
            },
            {"event": "bot", "text": None, "data": {"custom": {"handoff": {}}}},
            {"event": "bot", "text": "Chào bạn", "metadata": {"volunteer": "lan", "volunteer_name": "Lan"}},
            {"event": "slot", "name": "current_procedure", "value": "1.004194"},
        ]
    }
    assert [(turn["role"], turn["author"]) for turn in history(tracker)] == [
        ("citizen", None),
        ("bot", None),
        ("volunteer", "Lan"),
    ]


def test_the_hand_back_triggers_an_intent_and_returns_what_the_rules_say() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        messages = [
            {"recipient_id": "x", "text": "Tình nguyện viên đã kết thúc phần hỗ trợ."},
            {"recipient_id": "x", "text": "Hài lòng?", "buttons": [{"title": "Hài lòng", "payload": "/p"}]},
        ]
        return httpx.Response(200, json={"tracker": {}, "messages": messages})

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    rasa = RasaConversations("http://rasa:5005", token="t", http=client)
    said = run(rasa.trigger_intent("zalo:42", "EXTERNAL_handback"))
    assert seen[0].url.path == "/conversations/zalo:42/trigger_intent"
    assert json.loads(seen[0].content) == {"name": "EXTERNAL_handback"}
    assert said[0].text.startswith("Tình nguyện viên") and said[1].buttons[0].payload == "/p"


def test_history_leaves_out_the_intents_the_console_triggered() -> None:
    tracker = {
        "events": [
            {"event": "user", "text": "EXTERNAL: EXTERNAL_handback", "metadata": {"is_external": True}},
            {"event": "bot", "text": "Tình nguyện viên đã kết thúc phần hỗ trợ."},
            {"event": "user", "text": "cảm ơn"},
        ]
    }
    assert [turn["role"] for turn in history(tracker)] == ["bot", "citizen"]
