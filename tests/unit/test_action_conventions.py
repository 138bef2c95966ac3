"""Guard of the convention "actions hold no reply text and no word list used for understanding".

The rules, for every module in bot/actions/ (read with ``ast``, so comments are free):

1. No string literal with a Vietnamese (any non-ASCII) letter, outside docstrings. A citizen's text is
   an ``utter_`` response in bot/domain/*.yml (conditional variations on slots); wording that depends
   on data is data (e.g. bot/data/support_hours.yml) or a card (knowledge/cards.py). The exceptions
   are listed in ``ALLOWED`` with the reason: text that never reaches a citizen.
2. No free text (two words or more) outside docstrings, log calls, ``raise`` and the action server's
   own HTTP answers (``JSONResponse``, ``FastAPI``, ``APIRouter``): those are English, for developers.
3. ``dispatcher.utter_message`` names a response (``response="utter_…"``) or sends a channel payload
   (``json_message``); never ``text=`` nor a positional text. Every ``utter_…`` named exists in the
   domain.
4. No regular expressions (``re``, ``regex``): patterns that understand a message are NLU regexes,
   lookup tables and synonyms in training_data/.
5. In a module that defines actions, a list, tuple or set of two or more strings holds domain
   vocabulary only: intents, entities, slots and their values, responses, actions. Anything else is a
   word list, which belongs to NLU data.

``python tests/unit/test_action_conventions.py [DIR]`` prints, per module of DIR (bot/actions by
default), its lines, its string literals with a Vietnamese letter and its violations.
"""

from __future__ import annotations

import ast
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTIONS = ROOT / "bot" / "actions"
DOMAIN = ROOT / "bot" / "domain"

# (module file name, exact literal): why it is not citizen-facing.
ALLOWED: dict[tuple[str, str], str] = {
    ("slots.py", "Skipping validation for `"): "rasa-sdk's own log line, matched to filter it out",
}
# Calls whose arguments are for developers: logs, exceptions, the action server's HTTP answers to Rasa.
DEVELOPER_CALLS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
HTTP_CALLS = {"JSONResponse", "FastAPI", "APIRouter"}
# Rasa's own intents, actions and slots, which an action may name besides the domain's (and the key
# of a bot event's metadata that names its response).
RASA_DEFAULTS = {
    "nlu_fallback", "out_of_scope", "action_listen", "action_restart", "action_session_start",
    "action_default_fallback", "action_deactivate_loop", "action_revert_fallback_events",
    "action_two_stage_fallback", "action_unlikely_intent", "action_back", "action_extract_slots",
    "requested_slot", "session_started_metadata", "utter_action",
}  # fmt: skip


def has_vietnamese_letter(text: str) -> bool:
    return any(ord(ch) > 127 and ch.isalpha() for ch in unicodedata.normalize("NFC", text))


def is_word(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def is_free_text(text: str) -> bool:
    return len([word for word in text.split() if any(ch.isalpha() for ch in word)]) >= 2


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _developer_strings(tree: ast.AST) -> set[int]:
    """The string constants inside log calls, raise statements and HTTP answers."""
    found: set[int] = set()
    for node in ast.walk(tree):
        inside = isinstance(node, ast.Raise) or (
            isinstance(node, ast.Call)
            and (
                _call_name(node) in HTTP_CALLS
                or (_call_name(node) in DEVELOPER_CALLS and isinstance(node.func, ast.Attribute))
            )
        )
        if inside:
            found.update(id(sub) for sub in ast.walk(node) if isinstance(sub, ast.Constant))
    return found


def _strings(tree: ast.AST) -> Iterator[ast.Constant]:
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node


def domain_vocabulary() -> set[str]:
    words = set(RASA_DEFAULTS)
    for path in sorted(DOMAIN.glob("*.yml")):
        domain = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key in ("intents", "entities", "actions"):
            for item in domain.get(key) or []:
                words.update(item if isinstance(item, dict) else [item])
        words.update(domain.get("responses") or {})
        words.update(domain.get("forms") or {})
        for name, slot in (domain.get("slots") or {}).items():
            words.add(name)
            words.update(str(value) for value in slot.get("values") or [])
    return words


def defines_actions(tree: ast.AST) -> bool:
    return any(
        isinstance(node, ast.ClassDef)
        and any("Action" in ast.unparse(base) for base in node.bases)
        for node in ast.walk(tree)
    )


def violations(path: Path, vocabulary: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    developer = _developer_strings(tree)
    found: list[str] = []

    def report(node: ast.AST, rule: str, detail: str) -> None:
        found.append(f"{path.name}:{getattr(node, 'lineno', '?')}: {rule}: {detail!r}")

    for node in _strings(tree):
        text = node.value
        if (path.name, text) in ALLOWED:
            continue
        if has_vietnamese_letter(text):
            report(node, "citizen text (rule 1)", text)
        elif is_free_text(text) and id(node) not in developer:
            report(node, "free text (rule 2)", text)
        elif text.startswith("utter_") and text.isidentifier() and text not in vocabulary:
            report(node, "response missing from the domain (rule 3)", text)

    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and _call_name(node) == "utter_message"
            and (node.args or any(keyword.arg in ("text", "template") for keyword in node.keywords))
        ):
            report(node, "reply text sent by an action (rule 3)", ast.unparse(node)[:80])
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module]
            if any(module in ("re", "regex") for module in modules):
                report(node, "regular expression (rule 4)", ast.unparse(node))

    if defines_actions(tree):
        for node in ast.walk(tree):
            if isinstance(node, ast.List | ast.Tuple | ast.Set):
                words = [
                    e.value
                    for e in node.elts
                    if isinstance(e, ast.Constant) and isinstance(e.value, str) and is_word(e.value)
                ]
                unknown = [word for word in words if word not in vocabulary]
                if len(words) >= 2 and unknown:
                    report(node, "word list (rule 5)", ", ".join(unknown))
    return found


def action_modules(directory: Path = ACTIONS) -> list[Path]:
    return sorted(directory.glob("*.py"))


@pytest.mark.parametrize("path", action_modules(), ids=lambda path: path.name)
def test_an_action_module_holds_no_reply_text_nor_word_list(path: Path) -> None:
    assert violations(path, domain_vocabulary()) == []


def _check(tmp_path: Path, source: str) -> list[str]:
    path = tmp_path / "example.py"
    path.write_text(source, encoding="utf-8")
    return violations(path, domain_vocabulary())


ACTION = """
from rasa_sdk import Action

class ActionExample(Action):
    def name(self):
        return "action_example"

    async def run(self, dispatcher, tracker, domain):
{body}
        return []
"""


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ('        dispatcher.utter_message(text="Xin chào")', "rule 1"),
        ('        dispatcher.utter_message(text=tracker.get_slot("aspect"))', "rule 3"),
        ('        dispatcher.utter_message("hello")', "rule 3"),
        ('        dispatcher.utter_message(response="utter_nowhere")', "rule 3"),
        ('        days = ("Thu Hai", "Thu Ba")', "rule 2"),
        ('        yes = {"co", "u", "dung"}', "rule 5"),
        ('        logger.info("Thứ Hai")', "rule 1"),
    ],
)
def test_the_guard_catches_reply_text_and_word_lists(tmp_path: Path, body: str, rule: str) -> None:
    found = _check(tmp_path, ACTION.format(body=body))
    assert any(rule in line for line in found), found


def test_the_guard_lets_slots_responses_payloads_and_logs_through(tmp_path: Path) -> None:
    body = "\n".join(
        [
            '        logger.info("Answered %s in %d ms", tracker.sender_id, 12)',
            '        dispatcher.utter_message(response="utter_handoff", card="x")',
            '        dispatcher.utter_message(json_message={"handoff": {"topic": None}})',
            '        if tracker.get_slot("answer_outcome") in ("not_found", "not_understood"):',
            '            raise ValueError("the outcome was not expected here")',
        ]
    )
    assert _check(tmp_path, ACTION.format(body=body)) == []
    regex = _check(tmp_path, "import re\n")
    assert [line.split(": ")[1] for line in regex] == ["regular expression (rule 4)"]


def _report(directory: Path) -> None:
    vocabulary = domain_vocabulary()
    total_lines = total_vietnamese = 0
    print(f"{'module':<16}{'lines':>7}{'vi literals':>13}{'violations':>12}")
    for path in action_modules(directory):
        source = path.read_text(encoding="utf-8")
        lines = len(source.splitlines())
        vietnamese = sum(has_vietnamese_letter(node.value) for node in _strings(ast.parse(source)))
        total_lines, total_vietnamese = total_lines + lines, total_vietnamese + vietnamese
        print(f"{path.name:<16}{lines:>7}{vietnamese:>13}{len(violations(path, vocabulary)):>12}")
    print(f"{'total':<16}{total_lines:>7}{total_vietnamese:>13}")


if __name__ == "__main__":
    _report(Path(sys.argv[1]) if len(sys.argv) > 1 else ACTIONS)
