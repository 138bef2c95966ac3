"""Rasa's command line (``python -m bot.rasa_run run ...`` in .venv-rasa), without a per-call cost
that profiling a turn found (benchmarks/turn.py).

Rasa checks every custom action's response against its response schema with ``jsonschema.validate``,
which first checks the schema itself against the JSON Schema meta-schema, on every call: with the
two action calls a turn of the time (a global slot validation and the answer), that was a third of
Rasa's CPU time per turn. Here the schema is checked once, at start, and each response is still validated
against it, with Rasa's own error when it does not fit.

Rasa also opens a new connection for every action call. Sharing a kept-alive pool was tried and left
out: its CPU gain was within the noise, and under the failover test a reused connection that haproxy
was closing lost an action's events ("Cannot write to closing transport").

Rasa finds the class of every event it reads (each event of a tracker loaded from the store, each
event an action returns) by walking all subclasses of ``Event`` (``Event.resolve_by_type``, about 25 µs
an event, which ``inspect.isabstract`` spends on some 30 classes): a 50-event tracker took 1.2 ms to
resolve. Here a name, once resolved, is looked up in a dictionary; a name not found is still resolved
by Rasa (its default or its error).

Every new tracker copies each of the domain's slots (``copy.copy``, in ``DialogueStateTracker``'s
constructor), and Rasa makes several trackers a turn: one per event replay of each policy's state
history, one per action (``tracker.copy``), one per tracker load. ``copy.copy`` takes the generic
``__reduce_ex__`` route, about 4 µs a slot: 130 µs for the 34 slots against 27 µs with a plain
copy of the instance's attributes, which is the same shallow copy. Slot classes that define their
own copying or pickling keep the generic route.

Once the model is loaded, the heap freed while loading it goes back to the system (bot/memory.py).
"""

from __future__ import annotations

import copy
import copyreg
import sys
from typing import Any


def validate_action_results_with_one_validator() -> None:
    from jsonschema import validators
    from jsonschema.exceptions import best_match
    from rasa.core.actions.action import RemoteAction

    original = RemoteAction._validate_action_result
    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)

    def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        if best_match(validator.iter_errors(result)) is None:
            return True
        return original(self, result)  # raises Rasa's own error for a response that does not fit

    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]


def resolve_event_types_once() -> None:
    from rasa.shared.core.events import Event

    original = Event.resolve_by_type
    resolved: dict[str, type[Event]] = {}

    def resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
        event_class = resolved.get(type_name)
        if event_class is None:
            event_class = original(type_name, default)
            if event_class is not None and event_class is not default and event_class.type_name == type_name:
                resolved[type_name] = event_class
        return event_class

    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign]


def _slot_names(cls: type) -> set[str]:
    names = vars(cls).get("__slots__", ())
    return ({names} if isinstance(names, str) else set(names)) - {"__dict__", "__weakref__"}


def _copies_generically(cls: type) -> bool:
    """Whether ``copy.copy`` of an instance of ``cls`` does more than copy its ``__dict__``."""
    return (
        cls.__reduce_ex__ is not object.__reduce_ex__
        or cls.__reduce__ is not object.__reduce__
        or getattr(cls, "__getstate__", object.__getstate__) is not object.__getstate__
        or hasattr(cls, "__setstate__")
        or any(_slot_names(klass) for klass in cls.__mro__)  # ABC's empty __slots__ holds nothing
        or cls in copyreg.dispatch_table
    )


def copy_slots_plainly() -> None:
    from rasa.shared.core.slots import Slot

    plain: dict[type, bool] = {}

    def copy_slot(self: Slot) -> Slot:
        cls = type(self)
        is_plain = plain.get(cls)
        if is_plain is None:
            is_plain = plain[cls] = not _copies_generically(cls)
        if not is_plain:
            reductor = self.__reduce_ex__(4)
            return copy._reconstruct(self, None, *reductor)  # what copy.copy does
        new = cls.__new__(cls)
        new.__dict__.update(self.__dict__)
        return new

    Slot.__copy__ = copy_slot  # type: ignore[attr-defined]


def release_free_memory_after_the_model_loads() -> None:
    import rasa.core.run

    from bot.memory import release_free_memory

    load_agent_on_start = rasa.core.run.load_agent_on_start

    async def load_agent_and_release_free_memory(*args: Any, **kwargs: Any) -> Any:
        agent = await load_agent_on_start(*args, **kwargs)
        if agent.is_ready():
            await agent.parse_message("xin chào")  # the NLU pipeline's first parse loads what it lazily needs
        release_free_memory()
        return agent

    rasa.core.run.load_agent_on_start = load_agent_and_release_free_memory


def main() -> None:
    validate_action_results_with_one_validator()
    resolve_event_types_once()
    copy_slots_plainly()
    release_free_memory_after_the_model_loads()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
