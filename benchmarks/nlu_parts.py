"""What Rasa's NLU costs a message, component by component, in CPU time, on the NLU training texts.

Runs in the Rasa venv: `PYTHONPATH=. .venv-rasa/bin/python -m benchmarks.nlu_parts [MODEL.tar.gz ...]`.
The tokenizer and the featurizers are built as bot/config.yml configures them and trained on the
training data as `make train` reads it; each processes every text once a round, the rounds taking
turns. The RegexFeaturizer runs twice: with the patterns of the training data, and with the place
names as the Rasa lookup table they once were (`lookup`), to compare. Each model given (default
var/rasa-models/tthc.tar.gz) is loaded with Rasa's Agent and parses every text, for the whole NLU.
Figures: ms of CPU a message, the median of the rounds and their range.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from rasa.core.agent import Agent
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.featurizers.sparse_featurizer.regex_featurizer import RegexFeaturizer
from rasa.nlu.utils.pattern_utils import extract_patterns
from rasa.shared.importers.rasa import RasaFileImporter
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.utils.log_utils import configure_structlog

from bot.components.underthesea_tokenizer import UndertheseaTokenizer
from training_data.build_places import lookup_entries

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
TRAINING_PATHS = [str(path) for path in sorted((ROOT / "training_data").glob("*.yml"))] + [
    str(ROOT / "training_data" / "lookups")
]
DEFAULT_MODEL = ROOT / "var" / "rasa-models" / "tthc.tar.gz"


def pipeline_config(name: str) -> list[dict[str, Any]]:
    config = yaml.safe_load((ROOT / "bot" / "config.yml").read_text(encoding="utf-8"))
    return [{k: v for k, v in c.items() if k != "name"} for c in config["pipeline"] if c["name"] == name]


def place_lookup_patterns(training_data: TrainingData) -> list[dict[str, str]]:
    """The patterns with the place names as the lookup table they were before the `place` regex."""
    places = json.loads((ROOT / "bot" / "data" / "places.json").read_text(encoding="utf-8"))
    lookup = TrainingData(lookup_tables=[{"name": "place", "elements": lookup_entries(places)}])
    others = [p for p in extract_patterns(training_data) if p["name"] != "place"]
    return others + extract_patterns(lookup)


def round_ms(run: Callable[[], None], messages: int) -> float:
    started = time.process_time()
    run()
    return (time.process_time() - started) * 1000 / messages


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    configure_structlog(logging.INFO)  # as Rasa's server does: no debug event for every parse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, default=[DEFAULT_MODEL])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    training_data = RasaFileImporter(training_data_paths=TRAINING_PATHS).get_nlu_data()
    texts = sorted({example.get(TEXT) for example in training_data.training_examples if example.get(TEXT)})
    log.info("%d NLU texts", len(texts))

    storage = LocalModelStorage(Path(tempfile.mkdtemp(prefix="nlu-parts-")))
    context = ExecutionContext(GraphSchema({}), "nlu_parts")

    def component(cls: Any, config: dict[str, Any], name: str, **kwargs: Any) -> Any:
        full = {**cls.get_default_config(), **config}
        return cls(full, storage, Resource(name), context, **kwargs)

    tokenizer = UndertheseaTokenizer(UndertheseaTokenizer.get_default_config())
    tokenizer.process_training_data(training_data)
    (regex_config,) = pipeline_config("RegexFeaturizer")
    now, lookup = extract_patterns(training_data), place_lookup_patterns(training_data)
    regex_now = component(RegexFeaturizer, regex_config, "regex", known_patterns=now)
    regex_lookup = component(RegexFeaturizer, regex_config, "regex_lookup", known_patterns=lookup)
    vectorizers = []
    for index, config in enumerate(pipeline_config("CountVectorsFeaturizer")):
        featurizer = component(CountVectorsFeaturizer, config, f"cvf{index}")
        featurizer.train(training_data)
        vectorizers.append((f"CountVectorsFeaturizer {config.get('analyzer', 'word')}", featurizer))

    messages = [Message(data={TEXT: text}) for text in texts]
    tokenizer.process(messages)  # the featurizers re-featurize the same tokens every round

    def each(process: Callable[[list[Message]], Any], fresh: bool = False) -> Callable[[], None]:
        def run() -> None:
            for message in [Message(data={TEXT: m.get(TEXT)}) for m in messages] if fresh else messages:
                process([message])

        return run

    parts: dict[str, Callable[[], None]] = {
        "UndertheseaTokenizer": each(tokenizer.process, fresh=True),
        "RegexFeaturizer (place regex)": each(regex_now.process),
        "RegexFeaturizer (place lookup)": each(regex_lookup.process),
        **{name: each(featurizer.process) for name, featurizer in vectorizers},
    }
    agents = {f"NLU parse {model}": Agent.load(str(model)) for model in args.models}
    loop = asyncio.new_event_loop()
    for name, agent in agents.items():

        def parse(agent: Agent = agent) -> None:
            for text in texts:
                loop.run_until_complete(agent.parse_message(text))

        parts[name] = parse

    figures: dict[str, list[float]] = {name: [] for name in parts}
    for number in range(args.rounds):
        for name, run in parts.items():
            figures[name].append(round_ms(run, len(texts)))
        log.info("round %d done", number + 1)
    print(f"\nms of CPU a message, {len(texts)} NLU texts, {args.rounds} rounds: median (min-max)")
    for name, values in figures.items():
        rounds = " ".join(f"{value:.3f}" for value in values)
        print(f"{name:50s} {statistics.median(values):7.3f} ({min(values):.3f}-{max(values):.3f})  {rounds}")


if __name__ == "__main__":
    main()
