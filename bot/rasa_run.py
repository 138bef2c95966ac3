"""Rasa's command line (``python -m bot.rasa_run run ...`` in .venv-rasa), without a per-call cost
that profiling a turn found (benchmarks/turn.py).

Rasa checks every custom action's response against its response schema with ``jsonschema.validate``,
which first checks the schema itself against the JSON Schema meta-schema, on every call: with the
two action calls a turn of the time (a global slot validation and the answer), that was a third of
Rasa's CPU time per turn. Here the schema is checked once, at start, and each response is still validated
against it, with Rasa's own error when it does not fit. Most of what remained was the schema's
``oneOf`` over Rasa's 23 event types, which validates each event against all of them (2 ms for
four slot events): an event fits only the alternatives of its own name, so each event is checked
against those alone (0.2 ms). Anything that does not fit so is checked by Rasa's own code.

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

Each policy prediction rebuilds the tracker's state history (``Domain.states_for_tracker_history``)
by replaying its events into a new tracker: MemoizationPolicy once, RulePolicy once or twice (text
and intent), for each of a turn's two predictions, and the second prediction replays the first's
events again. Here the replay of one tracker is kept beside it (the state before each action, what
decides whether a rule turn is hidden), continued when the tracker only gained events, and each call
builds its states from it as Rasa does, each state a copy: a turn's five calls on the longest test
story (20 events, its load included) took 1.0 ms instead of 2.9. A tracker whose applied events
changed otherwise (a restart, a rewind) is replayed from the start; trackers of other classes
(training's) keep Rasa's own code.

Each DIET prediction called TensorFlow's polymorphic ``tf.function`` (Rasa traces it once, with a
fixed input signature of unknown lengths): every call recomputed the function's cache key from its
inputs and matched them against the signature before running the one concrete function it ever has.
Here that concrete function is taken once and called directly: the same graph on the same tensors
(the same intents, entities and confidences, byte for byte, on the 2,533 texts of the NLU data):
6.9 against 6.1 ms CPU a parse in-process. Inputs the concrete function refuses go to Rasa's own
call, which raises its own error.

Rasa runs its graphs (the NLU pipeline for each message, the policies for each prediction) through
dask, which for each run builds the task graph again, orders it (``dask.order``) and keeps its
scheduler's bookkeeping for some ten nodes: about 1 ms a turn. Here each graph runner finds, once
for each set of targets and inputs, the order in which dask runs the nodes (by letting dask run the
same graph of placeholders), and then calls the nodes in that order, each with the outputs of the
nodes it needs, as dask passes them; a node's exception is raised as dask raises it, and Rasa's own
checks of the inputs stay.

TensorFlow ran DIET's small graph (a 128-wide transformer layer over a dozen tokens) on a pool of
two intra-op and two inter-op threads, whose handing over of work and waiting for it cost more CPU
than the work: with one thread each (Rasa's ``TF_INTRA_OP_PARALLELISM_THREADS`` and
``TF_INTER_OP_PARALLELISM_THREADS``, unless they are set) a parse takes 10.0-10.9 ms CPU against
13.4-13.8 ms in-process, and the 2,599 NLU texts get byte for byte the same intents, entities and
confidences.

When a turn ends, Rasa's lock store reads the conversation's lock, saves it without the turn's
ticket, reads it again to see whether anyone waits, and deletes it if no one does: four calls to
Redis, synchronous on Rasa's event loop. Here the lock is read once and, without the ticket, saved if
someone waits and deleted if no one does (a ticket issued by another process between the read and the
delete is lost as it was between Rasa's second read and its delete, or between its read and save).

Once the model is loaded, the heap freed while loading it goes back to the system (bot/memory.py).
"""

from __future__ import annotations

import copy
import copyreg
import functools
import os
import sys
import weakref
from typing import Any, NamedTuple


def _events_by_name(schema: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    """The schema of an event of each name: the events' item schema with its ``oneOf`` cut down to
    the alternatives whose ``event`` is that name; None if some alternative names no single event."""
    events = schema.get("properties", {}).get("events", {})
    items = events.get("items", {}) if isinstance(events, dict) else {}
    alternatives = items.get("oneOf") if isinstance(items, dict) else None
    if not alternatives:
        return None
    by_name: dict[str, list[dict[str, Any]]] = {}
    for alternative in alternatives:
        name = alternative.get("properties", {}).get("event", {}).get("const")
        if not isinstance(name, str):
            return None
        by_name.setdefault(name, []).append(alternative)
    common = {key: value for key, value in items.items() if key != "oneOf"}
    return {name: {**common, "oneOf": group} for name, group in by_name.items()}


def validate_action_results_with_one_validator() -> None:
    from jsonschema import validators
    from jsonschema.exceptions import best_match
    from rasa.core.actions.action import RemoteAction

    original = RemoteAction._validate_action_result
    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    by_name = _events_by_name(schema)

    envelope = event_validators = None
    if by_name is not None:
        without_items = {
            key: value for key, value in schema["properties"]["events"].items() if key != "items"
        }
        envelope = validator_class(
            {**schema, "properties": {**schema["properties"], "events": without_items}}
        )
        event_validators = {name: validator_class(part) for name, part in by_name.items()}

    def fits(result: dict[str, Any]) -> bool:
        if envelope is None or event_validators is None:
            return best_match(validator.iter_errors(result)) is None
        # An event can only fit the alternatives of its own name (each asks for its name as "const"),
        # so it fits exactly one of all of them iff exactly one of those.
        if not envelope.is_valid(result):
            return False
        for event in result.get("events") or []:
            name = event.get("event") if isinstance(event, dict) else None
            if not isinstance(name, str) or name not in event_validators:
                return False
            if not event_validators[name].is_valid(event):
                return False
        return True

    def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        if fits(result):
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


class _PriorTurn(NamedTuple):
    """The replayed tracker just before one of its actions (or at its end)."""

    hidden: bool  # the action's hide_rule_turn
    sets_hidden: bool  # False for a follow-up action or the active loop's own: the turn stays as it was
    previous_action: Any  # Domain._get_prev_action_sub_state
    state: dict[str, Any]  # Domain.get_active_state


class _Replay:
    """One tracker's events replayed so far, with the turn before each action."""

    def __init__(self, tracker: Any) -> None:
        self.tracker = weakref.ref(tracker)
        self.applied: list[Any] = []
        self.replayed = tracker.init_copy()
        self.turns: list[_PriorTurn] = []
        self.end: _PriorTurn | None = None


def _prior_turn(domain: Any, tracker: Any, hidden: bool, omit_unset_slots: bool) -> _PriorTurn:
    sets_hidden = not tracker.followup_action and tracker.latest_action_name != tracker.active_loop_name
    state = domain.get_active_state(tracker, omit_unset_slots)
    return _PriorTurn(hidden, sets_hidden, domain._get_prev_action_sub_state(tracker), state)


def _copied_state(state: dict[str, Any]) -> dict[str, Any]:
    return {key: dict(value) if isinstance(value, dict) else value for key, value in state.items()}


def cache_state_history_per_tracker() -> None:
    from rasa.shared.core.constants import PREVIOUS_ACTION
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.trackers import DialogueStateTracker

    original = Domain.states_for_tracker_history
    replays: dict[tuple[int, int, bool], _Replay] = {}

    def replay_of(domain: Domain, tracker: DialogueStateTracker, omit_unset_slots: bool) -> _Replay:
        key = (id(tracker), id(domain), omit_unset_slots)
        replay = replays.get(key)
        applied = tracker.applied_events()
        done = len(replay.applied) if replay is not None else 0
        if (
            replay is None
            or replay.tracker() is not tracker
            or len(applied) < done
            or any(old is not new for old, new in zip(replay.applied, applied, strict=False))
        ):
            if replay is None:
                weakref.finalize(tracker, replays.pop, key, None)
            replay = replays[key] = _Replay(tracker)
            done = 0
        if done == len(applied) and replay.end is not None:
            return replay
        for event in applied[done:]:
            if isinstance(event, ActionExecuted):
                turn = _prior_turn(domain, replay.replayed, event.hide_rule_turn, omit_unset_slots)
                replay.turns.append(turn)
            replay.replayed.update(event)
        replay.applied = list(applied)
        replay.end = _prior_turn(domain, replay.replayed, False, omit_unset_slots)
        return replay

    def states_for_tracker_history(
        self: Domain,
        tracker: DialogueStateTracker,
        omit_unset_slots: bool = False,
        ignore_rule_only_turns: bool = False,
        rule_only_data: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        if type(tracker) is not DialogueStateTracker:
            return original(self, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
        replay = replay_of(self, tracker, omit_unset_slots)
        states: list[dict[str, Any]] = []
        last_ml_action = None
        hidden = False
        for turn in [*replay.turns, replay.end]:
            if ignore_rule_only_turns:
                if not hidden:
                    last_ml_action = turn.previous_action  # the last turn not hidden
                if turn.sets_hidden:
                    hidden = turn.hidden
                if hidden:
                    continue
            state = _copied_state(turn.state)
            if ignore_rule_only_turns:
                self._remove_rule_only_features(state, rule_only_data)
                if states:
                    self._substitute_rule_only_user_input(state, states[-1])
                if last_ml_action:
                    state[PREVIOUS_ACTION] = dict(last_ml_action)
            states.append(self._clean_state(state))
        return states

    Domain.states_for_tracker_history = states_for_tracker_history  # type: ignore[method-assign]


_CONCRETE: dict[int, tuple[Any, Any]] = {}  # id of a model's tf.function -> (it, its concrete function)


def predict_by_the_concrete_function() -> None:
    from rasa.utils.tensorflow import models

    original = models.RasaModel._rasa_predict

    def rasa_predict(self: Any, batch_in: Any) -> Any:
        step = self._tf_predict_step
        if step is None or self._run_eagerly or not self.prepared_for_prediction:
            return original(self, batch_in)  # the first call traces the function
        known = _CONCRETE.get(id(step))
        if known is None or known[0] is not step:
            known = _CONCRETE[id(step)] = (step, step.get_concrete_function())
        self._training = False
        try:
            raw = known[1](list(batch_in))
        except (TypeError, ValueError):
            return original(self, batch_in)
        outputs = models.tf_utils.sync_to_numpy_or_python_type(raw)
        if models.DIAGNOSTIC_DATA in outputs:  # as Rasa's own _rasa_predict
            outputs[models.DIAGNOSTIC_DATA] = self._empty_lists_to_none_in_dict(
                outputs[models.DIAGNOSTIC_DATA]
            )
        return outputs

    models.RasaModel._rasa_predict = rasa_predict  # type: ignore[method-assign]


class _Plan(NamedTuple):
    """One graph run: its nodes in dask's order, each with the names of the nodes it needs."""

    steps: list[tuple[str, Any, tuple[str, ...]]]
    targets: tuple[str, ...]
    nodes: tuple[str, ...]  # all of the run's nodes, what Rasa checks the inputs against
    known: frozenset[str]  # the nodes and the inputs: any other name a node needs is passed as it is


def _graph_plan(runner: Any, targets: tuple[str, ...], input_names: tuple[str, ...]) -> _Plan:
    import dask

    schema = runner._graph_schema.minimal_graph_schema(list(targets))
    needs = {name: tuple(node.needs.values()) for name, node in schema.nodes.items()}
    ran: list[str] = []

    def placeholder(name: str, *inputs: Any) -> tuple[str, None]:
        ran.append(name)
        return name, None

    graph: dict[str, Any] = {
        name: (functools.partial(placeholder, name), *needed) for name, needed in needs.items()
    }
    for name in input_names:
        graph[name] = (name, None)  # as DaskGraphRunner._add_inputs_to_graph: a literal, not a task
    dask.get(graph, list(targets))
    steps = [(name, runner._instantiated_nodes[name], needs[name]) for name in ran]
    return _Plan(steps, targets, tuple(needs), frozenset((*needs, *input_names)))


def run_graphs_in_a_planned_order() -> None:
    import logging

    from rasa.engine.exceptions import GraphRunError
    from rasa.engine.runner.dask import DaskGraphRunner

    logger = logging.getLogger("rasa.engine.runner.dask")

    def run(
        self: DaskGraphRunner, inputs: dict[str, Any] | None = None, targets: list[str] | None = None
    ) -> dict[str, Any]:
        run_targets = tuple(targets if targets else self._graph_schema.target_names)
        input_names = tuple(inputs or ())
        plans: dict[tuple[tuple[str, ...], tuple[str, ...]], _Plan] = self.__dict__.setdefault(
            "_tthc_plans", {}
        )
        plan = plans.get((run_targets, input_names))
        if plan is None:
            plan = plans[(run_targets, input_names)] = _graph_plan(self, run_targets, input_names)
        outputs: dict[str, Any] = {}
        if inputs:
            self._add_inputs_to_graph(inputs, dict.fromkeys(plan.nodes))  # Rasa's check of the inputs
            outputs = {name: (name, value) for name, value in inputs.items()}
        logger.debug("Running graph with inputs %s, targets %s.", list(input_names), targets)
        try:
            for name, node, needed in plan.steps:
                # A name that is no node nor input is passed as it is, as dask does.
                outputs[name] = node(*(outputs[n] if n in plan.known else n for n in needed))
        except RuntimeError as error:
            raise GraphRunError("Error running runner.") from error
        return dict(outputs[target] for target in plan.targets)

    DaskGraphRunner.run = run  # type: ignore[method-assign]


def clean_up_locks_with_one_read() -> None:
    from rasa.core.lock_store import LockStore

    def cleanup(self: LockStore, conversation_id: str, ticket_number: int) -> None:
        lock = self.get_lock(conversation_id)
        if lock:
            lock.remove_ticket_for(ticket_number)
            if lock.is_someone_waiting():
                self.save_lock(lock)
                return
        self.delete_lock(conversation_id)

    LockStore.cleanup = cleanup  # type: ignore[method-assign]


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


# Rasa's names for TensorFlow's thread pools (rasa.utils.tensorflow.environment reads them at start).
TENSORFLOW_THREADS = ("TF_INTRA_OP_PARALLELISM_THREADS", "TF_INTER_OP_PARALLELISM_THREADS")


def use_one_tensorflow_thread() -> None:
    for name in TENSORFLOW_THREADS:
        os.environ.setdefault(name, "1")


def main() -> None:
    use_one_tensorflow_thread()
    validate_action_results_with_one_validator()
    resolve_event_types_once()
    copy_slots_plainly()
    cache_state_history_per_tracker()
    predict_by_the_concrete_function()
    run_graphs_in_a_planned_order()
    clean_up_locks_with_one_read()
    release_free_memory_after_the_model_loads()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
