"""bot.rasa_run: action responses are still validated against Rasa's schema, which is checked once."""

from __future__ import annotations

import jsonschema
import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

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


def test_the_heap_freed_while_loading_the_model_is_released(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    import rasa.core.run

    from bot import memory

    calls: list[str] = []

    class Agent:
        def is_ready(self) -> bool:
            return True

        async def parse_message(self, text: str) -> dict:
            calls.append("parse")
            return {}

    agent = Agent()

    async def load_agent_on_start(*args: object) -> Agent:
        calls.append("load")
        return agent

    monkeypatch.setattr(rasa.core.run, "load_agent_on_start", load_agent_on_start)
    monkeypatch.setattr(memory, "release_free_memory", lambda: calls.append("release"))
    rasa_run.release_free_memory_after_the_model_loads()
    assert asyncio.run(rasa.core.run.load_agent_on_start("model.tar.gz", None, None, None, None)) is agent
    assert calls == ["load", "parse", "release"]
