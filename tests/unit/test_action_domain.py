"""Rasa sends its domain only to the actions that ask for it (``enable_selective_domain``), and the
action server runs an action called without it; no action reads a domain it is not sent."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from rasa_sdk import Action
from rasa_sdk.executor import ActionExecutor

from bot.actions import endpoint
from bot.rasa_server import action_endpoint_config

ROOT = Path(__file__).resolve().parents[2]
ACTIONS = ROOT / "bot" / "actions"
DOMAIN = ROOT / "bot" / "domain"


def test_rasa_sends_the_domain_only_to_actions_that_ask_for_it() -> None:
    assert action_endpoint_config("http://127.0.0.1:5055/webhook")["enable_selective_domain"] is True


def actions_sent_the_domain() -> set[str]:
    """Actions the domain marks ``send_domain: true`` (Rasa sends them its domain)."""
    names = set()
    for path in DOMAIN.glob("*.yml"):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("actions") or []:
            if isinstance(item, dict):
                names.update(name for name, config in item.items() if (config or {}).get("send_domain"))
    return names


def domain_readers(source: str) -> list[str]:
    """Names of the actions in ``source`` whose ``run`` uses its domain argument."""
    readers = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        methods = {m.name: m for m in node.body if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef)}
        run, name = methods.get("run"), methods.get("name")
        if run is None or name is None or len(run.args.args) < 4:
            continue
        domain = run.args.args[3].arg
        if any(isinstance(n, ast.Name) and n.id == domain for stmt in run.body for n in ast.walk(stmt)):
            returned = [n.value for n in ast.walk(name) if isinstance(n, ast.Return)]
            readers += [r.value for r in returned if isinstance(r, ast.Constant)] or [node.name]
    return readers


def test_no_action_reads_a_domain_it_is_not_sent() -> None:
    readers = [name for path in sorted(ACTIONS.glob("*.py")) for name in domain_readers(path.read_text())]
    assert set(readers) <= actions_sent_the_domain()


def test_the_guard_finds_an_action_reading_its_domain() -> None:
    source = """
class ActionExample(Action):
    def name(self):
        return "action_example"

    async def run(self, dispatcher, tracker, domain):
        return [SlotSet("aspect", domain["slots"])]
"""
    assert domain_readers(source) == ["action_example"]
    assert domain_readers(source.replace('domain["slots"]', '"fee"')) == []


def test_a_call_without_the_domain_runs_the_action(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []

    class ActionProbe(Action):
        def name(self) -> str:
            return "action_probe"

        def run(self, dispatcher: Any, tracker: Any, domain: Any) -> list[dict[str, Any]]:
            ran.append(tracker.sender_id)
            return []

    executor = ActionExecutor()
    executor.register_action(ActionProbe)
    monkeypatch.setattr(endpoint, "get_executor", lambda: executor)
    app = FastAPI()
    app.include_router(endpoint.router)
    tracker = {"sender_id": "probe", "slots": {}, "latest_message": {}, "events": [], "paused": False,
               "followup_action": None, "active_loop": {}, "latest_action_name": None}  # fmt: skip
    call = {"next_action": "action_probe", "sender_id": "probe", "tracker": tracker, "version": "3.6.21"}
    response = TestClient(app).post("/webhook", json=call)
    assert response.status_code == 200, response.text
    assert response.json()["events"] == [] and ran == ["probe"]
