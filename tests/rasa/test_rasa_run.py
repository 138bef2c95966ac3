"""bot.rasa_run: action responses are still validated against Rasa's schema, which is checked once;
endpoint calls reuse kept-alive connections."""

from __future__ import annotations

import asyncio

import jsonschema
import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from bot import rasa_run


@pytest.fixture
def patched(monkeypatch: pytest.MonkeyPatch) -> RemoteAction:
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    rasa_run.validate_action_results_with_one_validator()
    return RemoteAction("action_answer_procedure", None)


def test_a_valid_response_passes_without_checking_the_schema_again(
    patched: RemoteAction, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    validators = (jsonschema.Draft4Validator, jsonschema.Draft7Validator, jsonschema.Draft202012Validator)
    for validator in validators:
        monkeypatch.setattr(validator, "check_schema", classmethod(lambda cls, schema: calls.append(schema)))
    response = {
        "events": [{"event": "slot", "name": "current_procedure", "value": "1.001193"}],
        "responses": [{"response": "utter_greet"}],
    }
    assert patched._validate_action_result(response) is True
    assert patched._validate_action_result({"events": [], "responses": []}) is True
    assert calls == []


@pytest.mark.parametrize(
    "response",
    [
        {"events": "not a list"},
        {"events": [{"event": "no_such_event"}]},
        {"events": [], "responses": "not a list"},
    ],
)
def test_an_invalid_response_is_refused_with_rasas_error(patched: RemoteAction, response: dict) -> None:
    with pytest.raises(ValidationError, match="make sure your response from the Action endpoint is valid"):
        patched._validate_action_result(response)


def test_endpoint_calls_reuse_one_kept_alive_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(EndpointConfig, "session", EndpointConfig.session)
    rasa_run.share_endpoint_connections()
    assert len(set(asyncio.run(_three_calls()))) == 1, "every call opened a connection of its own"


async def _three_calls() -> list[tuple[str, int]]:
    from aiohttp import web

    peers: list[tuple[str, int]] = []

    async def webhook(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername"))
        return web.json_response({"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", headers={"X-Test": "1"})
        for _ in range(3):
            assert await endpoint.request(json={"next_action": "x"}, method="post") == {
                "events": [],
                "responses": [],
            }
    finally:
        await runner.cleanup()
    assert len(peers) == 3
    return peers
