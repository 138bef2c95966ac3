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
