"""The `place` regex (a trie) gives the RegexFeaturizer what Rasa's lookup table of the names gave it.

Rasa turns a lookup table into `(\\bname1\\b|\\bname2\\b|...)`; training_data/build_places.py writes the
same names as one trie-shaped regex instead. Same spans on every NLU text and on every place name in
sentences means the same features: the featurizer marks the tokens a match overlaps.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest
import yaml
from rasa.nlu.utils.pattern_utils import extract_patterns
from rasa.shared.importers.rasa import RasaFileImporter
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.training_data import TrainingData

from training_data.build_places import lookup_entries, strip_accents, trie_regex

ROOT = Path(__file__).resolve().parents[2]
# What `make train` reads: every training file but the end-to-end test stories, and the lookups folder.
TRAINING_PATHS = [str(path) for path in sorted((ROOT / "training_data").glob("*.yml"))] + [
    str(ROOT / "training_data" / "lookups")
]


@pytest.fixture(scope="module")
def names() -> list[str]:
    places = json.loads((ROOT / "bot" / "data" / "places.json").read_text(encoding="utf-8"))
    return lookup_entries(places)


@pytest.fixture(scope="module")
def training_data() -> TrainingData:
    return RasaFileImporter(training_data_paths=TRAINING_PATHS).get_nlu_data()


@pytest.fixture(scope="module")
def lookup_pattern(names: list[str]) -> str:
    """The pattern Rasa made of the former lookup table (`- lookup: place` with these names)."""
    (pattern,) = extract_patterns(TrainingData(lookup_tables=[{"name": "place", "elements": names}]))
    return pattern["pattern"]


@pytest.fixture(scope="module")
def place_pattern(training_data: TrainingData) -> str:
    (pattern,) = [p["pattern"] for p in extract_patterns(training_data) if p["name"] == "place"]
    return pattern


def spans(pattern: str, text: str) -> list[tuple[int, int]]:
    # As the RegexFeaturizer runs it with `case_sensitive: false`.
    return [match.span() for match in re.finditer(pattern, text, flags=re.IGNORECASE)]


def test_the_featurizer_reads_place_last_and_case_insensitively(
    training_data: TrainingData, names: list[str], place_pattern: str
) -> None:
    # The feature columns are the patterns in this order (regexes sorted by name, then lookup tables):
    # `place` last, as the lookup table was behind the five other regexes.
    assert [p["name"] for p in extract_patterns(training_data)][-1] == "place"
    assert not training_data.lookup_tables
    assert place_pattern == trie_regex(names)  # the file is build_places.py's output for places.json
    config = yaml.safe_load((ROOT / "bot" / "config.yml").read_text(encoding="utf-8"))
    (featurizer,) = [c for c in config["pipeline"] if c["name"] == "RegexFeaturizer"]
    assert featurizer["case_sensitive"] is False  # the trie is built of lower-cased names
    assert featurizer.get("use_word_boundaries", True)


def test_same_spans_on_every_nlu_text(
    training_data: TrainingData, lookup_pattern: str, place_pattern: str
) -> None:
    texts = [example.get(TEXT) for example in training_data.training_examples if example.get(TEXT)]
    assert len(texts) > 2000
    differ = [text for text in texts if spans(place_pattern, text) != spans(lookup_pattern, text)]
    assert not differ
    assert sum(1 for text in texts if spans(lookup_pattern, text)) > 50


def test_same_spans_on_every_place_name_in_sentences(
    names: list[str], lookup_pattern: str, place_pattern: str
) -> None:
    sentences = []
    for name, following in zip(names, [*names[1:], names[0]], strict=True):
        bare = strip_accents(name)
        # In a sentence, in other cases, before a letter (no word boundary), cut short, next to the
        # name that sorts after it (which often starts the same), decomposed.
        sentences.append(f"Tôi ở {name}, {name.upper()}.({bare.lower()})-{name}x {name[:-1]}")
        sentences.append(f"{name} {following} - {following}{name} {unicodedata.normalize('NFD', name)}")
    found = 0
    for sentence in sentences:
        expected = spans(lookup_pattern, sentence)
        assert spans(place_pattern, sentence) == expected, sentence
        found += len(expected)
    assert found > 3 * len(names)


def test_a_name_that_starts_another_matches_alone_as_in_the_alternation(place_pattern: str) -> None:
    text = "Tôi ở Bà Rịa - Vũng Tàu, trước ở ba ria"
    assert [text[start:end] for start, end in spans(place_pattern, text)] == ["Bà Rịa", "Vũng Tàu", "ba ria"]
