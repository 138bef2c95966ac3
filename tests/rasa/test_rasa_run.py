"""bot.rasa_run: action responses are still validated against Rasa's schema, which is checked once."""

from __future__ import annotations

from typing import ClassVar

import jsonschema
import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.engine.graph import GraphComponent

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


def _event_dicts() -> list[dict]:
    """One event of each kind an action may return, as Rasa serialises them."""
    from rasa.shared.core import events as e

    made = [
        e.SlotSet("current_procedure", "1.001193"),
        e.SlotSet("offered_options", ["1.001193", "2.000001"]),
        e.BotUttered("Xin chào", {"buttons": [{"title": "Có", "payload": "/affirm"}]}),
        e.UserUttered("xin chào", {"name": "greet", "confidence": 0.9}, [{"entity": "x", "value": "y"}]),
        e.ActionExecuted("action_answer_procedure"),
        e.ActiveLoop("feedback_comment_form"),
        e.ActiveLoop(None),
        e.FollowupAction("utter_greet"),
        e.AllSlotsReset(),
        e.Restarted(),
        e.UserUtteranceReverted(),
        e.ActionReverted(),
        e.ConversationPaused(),
        e.ConversationResumed(),
        e.SessionStarted(),
        e.ReminderScheduled("remind", trigger_date_time=__import__("datetime").datetime(2026, 1, 1)),
        e.ReminderCancelled(name="remind"),
        e.ActionExecutionRejected("action_answer_procedure"),
        e.LoopInterrupted(True),
        e.AgentUttered("hi"),
        e.EntitiesAdded([{"entity": "x", "value": "y"}]),
    ]
    return [event.as_dict() for event in made]


def _broken(event: dict) -> list[dict]:
    """Variants of an event that a schema may refuse: another kind's name, fields of wrong types."""
    variants = [
        {**event, "event": "slot" if event["event"] != "slot" else "bot"},
        {**event, "timestamp": "now"},
    ]
    variants += [{**event, key: 12345} for key in event if key not in ("event", "timestamp")]
    variants += [{**event, key: None} for key in event if key != "event"]
    return [
        *variants,
        {key: value for key, value in event.items() if key != "event"},
        {**event, "event": ["slot"]},
    ]


def test_a_response_is_accepted_exactly_when_rasas_schema_accepts_it(patched: RemoteAction) -> None:
    schema = RemoteAction.action_response_format_spec()
    validator = jsonschema.validators.validator_for(schema)(schema)
    events = _event_dicts()
    responses = [{"events": [event], "responses": []} for event in events]
    responses += [{"events": [*events[:3], broken]} for event in events for broken in _broken(event)]
    responses += [{"events": events, "responses": [{"text": "a"}, "not an object"]}, {"events": None}, []]
    accepted = 0
    for response in responses:
        if validator.is_valid(response):
            assert patched._validate_action_result(response) is True
            accepted += 1
        else:
            with pytest.raises(ValidationError):
                patched._validate_action_result(response)
    assert len(events) <= accepted < len(responses)


def test_each_event_is_checked_against_its_own_kind_only(monkeypatch: pytest.MonkeyPatch) -> None:
    schema = RemoteAction.action_response_format_spec()
    validator_class = jsonschema.validators.validator_for(schema)
    names: list[object] = []
    const = validator_class.VALIDATORS["const"]
    monkeypatch.setitem(
        validator_class.VALIDATORS, "const", lambda *args: names.append(args[1]) or const(*args)
    )
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    rasa_run.validate_action_results_with_one_validator()
    slots = [{"event": "slot", "name": name, "value": "x"} for name in ("aspect", "current_procedure")]
    assert RemoteAction("action_answer_procedure", None)._validate_action_result({"events": slots}) is True
    assert names == ["slot", "slot"]


def test_the_heap_freed_while_loading_the_model_is_released(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    import rasa.core.run

    from bot import memory

    calls: ClassVar[list[str]] = []

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


@pytest.fixture
def resolving(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Event.resolve_by_type patched, with every walk over Event's subclasses recorded."""
    import rasa.shared.utils.common
    from rasa.shared.core.events import Event

    monkeypatch.setattr(Event, "resolve_by_type", Event.__dict__["resolve_by_type"])
    walks: list[object] = []
    all_subclasses = rasa.shared.utils.common.all_subclasses

    def recorded(cls: type) -> list[type]:
        if cls is Event:
            walks.append(cls)
        return all_subclasses(cls)

    monkeypatch.setattr(rasa.shared.utils.common, "all_subclasses", recorded)
    rasa_run.resolve_event_types_once()
    return walks


def test_an_event_type_is_resolved_once_and_then_looked_up(resolving: list[object]) -> None:
    from rasa.shared.core.events import ActionExecuted, Event, SlotSet, deserialise_events

    events = [
        {"event": "slot", "name": "current_procedure", "value": "1.001193", "timestamp": 1.0},
        {"event": "action", "name": "action_answer_procedure", "timestamp": 2.0},
        {"event": "slot", "name": "aspect", "value": "fee", "timestamp": 3.0},
    ]
    first, second, third = deserialise_events(events)
    assert (type(first), type(second), type(third)) == (SlotSet, ActionExecuted, SlotSet)
    assert third == SlotSet("aspect", "fee", timestamp=3.0)
    assert len(resolving) == 2  # "slot" and "action", each once
    assert Event.resolve_by_type("slot") is SlotSet
    assert len(resolving) == 2


def test_an_unknown_event_type_is_still_refused_or_given_its_default(resolving: list[object]) -> None:
    from rasa.shared.core.events import Event, SlotSet

    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        Event.resolve_by_type("no_such_event")
    assert Event.resolve_by_type("no_such_event", SlotSet) is SlotSet
    assert Event.resolve_by_type("topic") is None
    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        Event.resolve_by_type("no_such_event")


def _domain_slots() -> list:
    from pathlib import Path

    from rasa.shared.core.domain import Domain
    from rasa.shared.core.slots import BooleanSlot, FloatSlot

    domain = Domain.load(str(Path(__file__).resolve().parents[2] / "bot" / "domain"))
    extra = [BooleanSlot("flag", [], initial_value=True), FloatSlot("amount", [], max_value=5.0)]
    return [*domain.slots, *extra]


def test_slots_are_copied_as_copy_copy_does_but_without_its_generic_route(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import copy

    from rasa.shared.core.slots import Slot
    from rasa.shared.core.trackers import DialogueStateTracker

    slots = _domain_slots()
    for slot in slots:
        slot.value = slot.initial_value  # marks it as set, as a tracker's slots are once filled
    generic = [copy.copy(slot) for slot in slots]
    monkeypatch.delattr(Slot, "__copy__", raising=False)
    rasa_run.copy_slots_plainly()
    reconstructed: list[object] = []
    reconstruct = copy._reconstruct
    monkeypatch.setattr(copy, "_reconstruct", lambda *args: reconstructed.append(args) or reconstruct(*args))

    plain = [copy.copy(slot) for slot in slots]
    assert reconstructed == []
    for original, mine, theirs in zip(slots, plain, generic, strict=True):
        assert type(mine) is type(original) and mine is not original
        assert vars(mine) == vars(theirs) == vars(original)
        # a shallow copy, as copy.copy's: the same values, the slot's own attributes
        assert all(vars(mine)[key] is value for key, value in vars(original).items())
    tracker = DialogueStateTracker("citizen", slots)
    tracker.slots["chosen_procedure"].value = "1.001193"
    assert next(slot for slot in slots if slot.name == "chosen_procedure").value is None


def test_a_slot_class_with_its_own_pickling_keeps_the_generic_route(monkeypatch: pytest.MonkeyPatch) -> None:
    import copy

    from rasa.shared.core.slots import Slot, TextSlot

    class Reduced(TextSlot):
        def __reduce_ex__(self, protocol: object) -> tuple:
            return (Reduced, (self.name, [], "from reduce"))

    monkeypatch.delattr(Slot, "__copy__", raising=False)
    rasa_run.copy_slots_plainly()
    copied = copy.copy(Reduced("note", [], initial_value="original"))
    assert type(copied) is Reduced and copied.value == "from reduce"


STORY_FILES = ("stories.yml", "rules.yml", "feedback.yml", "handoff.yml", "tests/test_stories.yml")


@pytest.fixture(scope="module")
def stories() -> tuple[object, list[list[object]]]:
    """The domain, and the events of every story and rule of the training and test data."""
    from pathlib import Path

    from rasa.shared.core.domain import Domain
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

    root = Path(__file__).resolve().parents[2]
    domain = Domain.load(str(root / "bot" / "domain"))
    steps = [
        step
        for name in STORY_FILES
        for step in YAMLStoryReader(domain).read_from_file(str(root / "training_data" / name))
    ]
    return domain, [step.explicit_events(domain) for step in steps]


@pytest.fixture
def rasas_states(monkeypatch: pytest.MonkeyPatch) -> object:
    """Rasa's own Domain.states_for_tracker_history; the patched one is installed on Domain."""
    from rasa.shared.core.domain import Domain

    original = Domain.__dict__["states_for_tracker_history"]
    monkeypatch.setattr(Domain, "states_for_tracker_history", original)
    rasa_run.cache_state_history_per_tracker()
    return original


def _variants(events: list[object]) -> list[list[object]]:
    """The events as read, with every other action a hidden rule turn, and with a rewind and a restart."""
    import copy

    from rasa.shared.core.events import ActionExecuted, Restarted, UserUtteranceReverted

    hidden = [copy.copy(event) for event in events]
    actions = [event for event in hidden if isinstance(event, ActionExecuted)]
    for action in actions[1::2]:
        action.hide_rule_turn = True
    return [events, hidden, [*hidden, UserUtteranceReverted(), *events[-3:]], [*events, Restarted(), *events]]


def test_the_kept_replay_gives_rasas_states_after_every_event_of_every_story(
    stories: tuple[object, list[list[object]]], rasas_states: object
) -> None:
    from rasa.shared.core.trackers import DialogueStateTracker

    domain, all_events = stories
    rule_only = {
        "rule_only_slots": ["feedback_reason", "chosen_procedure"],
        "rule_only_loops": ["feedback_comment_form"],
    }
    compared = 0
    for events in all_events:
        for variant in _variants(events):
            tracker = DialogueStateTracker("citizen", domain.slots)
            for event in variant:
                tracker.update(event)
                for omit in (False, True):
                    for ignore, data in ((False, None), (True, None), (True, rule_only), (False, rule_only)):
                        expected = rasas_states(domain, tracker, omit, ignore, data)
                        assert domain.states_for_tracker_history(tracker, omit, ignore, data) == expected
                        compared += 1
    assert compared > 10_000


def test_a_tracker_is_replayed_once_for_all_its_policies_and_then_continued(
    stories: tuple[object, list[list[object]]], rasas_states: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rasa.shared.core.trackers import DialogueStateTracker

    domain, all_events = stories
    events = max(all_events, key=len)
    replayed: list[int] = []
    update = DialogueStateTracker.update
    monkeypatch.setattr(
        DialogueStateTracker, "update", lambda self, *args: replayed.append(1) or update(self, *args)
    )
    tracker = DialogueStateTracker.from_events("citizen", events[:-2], slots=domain.slots)
    replayed.clear()
    first = [tracker.past_states(domain, ignore_rule_only_turns=flag) for flag in (True, False, False)]
    assert len(replayed) == len(events) - 2
    tracker.update(events[-2])
    tracker.update(events[-1])
    replayed.clear()
    second = tracker.past_states(domain)
    assert len(replayed) == 2  # the two new events only
    assert first[1] == first[2]
    first[1][0].setdefault("slots", {})["changed"] = (1.0,)  # a caller's change stays its own
    assert first[1] != first[2]
    assert tracker.past_states(domain) == second == rasas_states(domain, tracker)


class _Model:
    """What RasaModel._rasa_predict uses of a model, with a small graph of its own."""

    _run_eagerly = False
    _tf_predict_step = None
    _training = False
    prepared_for_prediction = True

    def __init__(self) -> None:
        from rasa.utils.tensorflow.models import RasaModel

        self._dynamic_signature = RasaModel._dynamic_signature
        self._empty_lists_to_none_in_dict = RasaModel._empty_lists_to_none_in_dict

    def predict_step(self, batch_in: list) -> dict:
        import tensorflow as tf

        ids, values = batch_in
        total = tf.reduce_sum(values, axis=-1) * tf.cast(tf.reduce_sum(ids), tf.float32)
        return {"scores": tf.nn.softmax(total), "diagnostic_data": {"empty": []}}


@pytest.fixture
def predicting(monkeypatch: pytest.MonkeyPatch) -> tuple[_Model, list[int]]:
    """A model whose tf.function is traced by Rasa's first call, then counted when called."""
    import numpy as np
    from rasa.utils.tensorflow.models import RasaModel

    monkeypatch.setattr(RasaModel, "_rasa_predict", RasaModel._rasa_predict)
    rasa_run.predict_by_the_concrete_function()
    model = _Model()
    RasaModel._rasa_predict(model, (np.array([1, 2], np.int32), np.ones((1, 3, 4), np.float32)))
    traced = model._tf_predict_step
    calls: list[int] = []

    class Counted:
        def __call__(self, *args: object) -> object:
            calls.append(1)
            return traced(*args)

        def get_concrete_function(self) -> object:
            return traced.get_concrete_function()

    model._tf_predict_step = Counted()
    return model, calls


def test_a_prediction_runs_the_traced_concrete_function_with_the_same_outputs(
    predicting: tuple[_Model, list[int]],
) -> None:
    import numpy as np
    from rasa.utils.tensorflow.models import RasaModel

    model, calls = predicting
    rng = np.random.default_rng(0)
    for length in (1, 4, 9):
        batch = (np.array([1, 2, length], np.int32), rng.random((1, length, 4), dtype=np.float32))
        outputs = RasaModel._rasa_predict(model, batch)
        expected = model.predict_step(list(batch))["scores"].numpy()
        assert np.array_equal(outputs["scores"], expected)
        assert outputs["diagnostic_data"] == {"empty": None}  # Rasa's own post-processing
    assert calls == []  # never through the polymorphic function


def test_inputs_the_concrete_function_refuses_get_rasas_own_call(
    predicting: tuple[_Model, list[int]],
) -> None:
    import numpy as np
    from rasa.utils.tensorflow.models import RasaModel

    model, calls = predicting
    with pytest.raises(ValueError, match="incompatible with input_signature"):
        # values of rank 2 where the signature has rank 3
        RasaModel._rasa_predict(model, (np.array([1], np.int32), np.ones((2, 4), np.float32)))
    assert calls == [1]


class _Step(GraphComponent):
    """A graph component that records its call and joins its inputs' values to its name."""

    calls: ClassVar[list[str]] = []

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def create(
        cls, config: dict, model_storage: object, resource: object, execution_context: object
    ) -> object:
        return cls(execution_context.node_name)

    def run(self, **inputs: object) -> str:
        _Step.calls.append(self.name)
        if "boom" in inputs.values():
            raise RuntimeError("a node failed")
        return f"{self.name}({','.join(f'{k}={v}' for k, v in sorted(inputs.items()))})"


def _graph_runner(tmp_path: object) -> object:
    from rasa.engine.graph import ExecutionContext, GraphSchema, SchemaNode
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    def node(needs: dict[str, str], is_target: bool = False) -> SchemaNode:
        return SchemaNode(needs, _Step, "create", "run", {}, eager=True, is_target=is_target)

    schema = GraphSchema(
        {  # a diamond under two targets, a node no target needs, and one that needs a missing name
            "tokens": node({"message": "__message__"}),
            "words": node({"tokens": "tokens"}),
            "chars": node({"tokens": "tokens", "message": "__message__"}),
            "intent": node({"words": "words", "chars": "chars"}, is_target=True),
            "entities": node({"chars": "chars"}, is_target=True),
            "unused": node({"message": "__message__"}),
            "orphan": node({"x": "nowhere"}),
        }
    )
    storage = LocalModelStorage(tmp_path)
    return DaskGraphRunner.create(schema, storage, ExecutionContext(schema, "model"))


def test_a_graph_runs_its_nodes_in_dasks_order_with_dasks_inputs_and_errors(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dask
    from rasa.engine.exceptions import GraphComponentException, GraphRunError
    from rasa.engine.runner.dask import DaskGraphRunner

    monkeypatch.setattr(DaskGraphRunner, "run", DaskGraphRunner.run)
    runner = _graph_runner(tmp_path)
    runs = [
        ({"__message__": "hello"}, None),
        ({"__message__": "boom"}, None),
        ({"__message__": "hi"}, ["entities"]),
        ({"__message__": "hi", "words": "given"}, ["intent"]),  # an input in a node's place
        ({"__message__": "hi"}, ["__message__", "orphan"]),
        ({"__message__": "tokens"}, None),  # an input that names a node
    ]

    def outcomes() -> list[object]:
        results = []
        for inputs, targets in runs:
            _Step.calls = []
            try:
                results.append((runner.run(dict(inputs), targets), _Step.calls))
            except Exception as error:  # whatever Rasa raises
                results.append((type(error), str(error), repr(error.__cause__), _Step.calls))
        return results

    expected = outcomes()
    rasa_run.run_graphs_in_a_planned_order()
    assert outcomes() == expected
    assert outcomes() == expected  # the kept plans
    assert expected[0][0] == {
        "intent": "intent(chars=chars(message=hello,tokens=tokens(message=hello)),"
        "words=words(tokens=tokens(message=hello)))",
        "entities": "entities(chars=chars(message=hello,tokens=tokens(message=hello)))",
    }
    assert [outcome[0] for outcome in expected[1:]] == [
        GraphComponentException,  # the node's RuntimeError, wrapped by the node
        {"entities": "entities(chars=chars(message=hi,tokens=tokens(message=hi)))"},
        {"intent": "intent(chars=chars(message=hi,tokens=tokens(message=hi)),words=given)"},
        GraphRunError,  # the orphan's missing input
        GraphRunError,  # an input that clashes with a node's name
    ]
    monkeypatch.setattr(dask, "get", lambda *args, **kwargs: pytest.fail("dask ran a planned graph"))
    assert outcomes() == expected


def test_tensorflow_gets_one_thread_a_pool_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from rasa.utils.tensorflow import environment

    monkeypatch.delenv("TF_INTRA_OP_PARALLELISM_THREADS", raising=False)
    monkeypatch.setenv("TF_INTER_OP_PARALLELISM_THREADS", "3")
    rasa_run.use_one_tensorflow_thread()
    assert os.environ["TF_INTRA_OP_PARALLELISM_THREADS"] == "1"
    assert os.environ["TF_INTER_OP_PARALLELISM_THREADS"] == "3"
    # the names Rasa reads when it starts
    assert {environment.ENV_CPU_INTRA_OP_CONFIG, environment.ENV_CPU_INTER_OP_CONFIG} == set(
        rasa_run.TENSORFLOW_THREADS
    )


def test_a_lock_is_read_once_when_a_turn_ends_and_kept_while_someone_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio
    import json

    from rasa.core.lock_store import InMemoryLockStore, LockStore

    class Counted(InMemoryLockStore):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[str] = []

        def get_lock(self, conversation_id: str) -> object:
            self.calls.append("get")
            lock = super().get_lock(conversation_id)
            return type(lock).from_dict(json.loads(lock.dumps())) if lock else None  # a copy, as Redis

        def save_lock(self, lock: object) -> None:
            self.calls.append("save")
            super().save_lock(lock)

        def delete_lock(self, conversation_id: str) -> None:
            self.calls.append("delete")
            super().delete_lock(conversation_id)

    monkeypatch.setattr(LockStore, "cleanup", LockStore.cleanup)
    rasa_run.clean_up_locks_with_one_read()
    store = Counted()

    async def turn(someone_comes: bool = False) -> int | None:
        async with store.lock("citizen"):
            return store.issue_ticket("citizen") if someone_comes else None

    asyncio.run(turn())
    # issue (get, save), acquire (get), cleanup (get, delete); Rasa's cleanup: get, save, get, delete
    assert store.calls == ["get", "save", "get", "get", "delete"]
    assert store.get_lock("citizen") is None
    store.calls.clear()
    waiting = asyncio.run(turn(someone_comes=True))
    assert store.calls[-2:] == ["get", "save"]  # someone waits: the lock stays, without this ticket
    assert [ticket.number for ticket in store.get_lock("citizen").tickets] == [waiting]
    store.cleanup("citizen", waiting)
    assert store.get_lock("citizen") is None
