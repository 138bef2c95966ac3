"""A Rasa 3.6 tokenizer that groups Vietnamese syllables into words with underthesea.

Vietnamese writes one syllable per space-separated unit, so "giấy khai sinh" is three whitespace tokens
but two words ("giấy", "khai sinh"). underthesea's `word_tokenize` finds the words; it also normalises
the text (tone placement, spacing), so its output is not a substring of the input. The tokens are
therefore built from the original text: it is cut into atoms (runs of word characters, numbers such as
"10.000" or "1.001193" kept whole), and consecutive atoms separated only by whitespace are joined when
underthesea put them in the same word. Every token's `start`/`end` is a span of the original message,
so entity annotations align. Token text joins the syllables with "_" ("khai_sinh") so that the
featurizers, which re-split on whitespace, see the compound as one feature.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

logger = logging.getLogger(__name__)

# A word atom: word characters, possibly joined by . , / - between them ("10.000", "1.001193", "24/7").
_ATOM = re.compile(r"\w+(?:[.,/\-]\w+)*")
_WORD_CHARS = re.compile(r"\w")
# Letters that only Vietnamese with diacritics has; a message without any is typed "không dấu".
_DIACRITIC = re.compile(
    "[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]", re.IGNORECASE
)
_HERE = Path(__file__).resolve().parent
FIXED_WORDS_FILE = _HERE / "vi_fixed_words.txt"
PLACES_FILE = _HERE.parent / "data" / "places.json"


def _fold(char: str) -> str:
    """One character without its diacritics, lower-cased ("Đ" -> "d", "ồ" -> "o")."""
    if char in "đĐ":
        return "d"
    base = unicodedata.normalize("NFD", char)[0]
    return base.lower()


@lru_cache(maxsize=4096)
def _stream_char(char: str) -> str:
    """What one character adds to a word stream: itself folded if a word character, else nothing."""
    return _fold(char) if _WORD_CHARS.match(char) else ""


def _word_stream(text: str) -> str:
    # Character by character through a cache: a message has few distinct characters, met many times.
    return "".join(map(_stream_char, text))


def word_spans(text: str, words: list[str]) -> list[tuple[int, int]]:
    """Spans (start, end) of the original `text` for the words of a segmenter's output `words`."""
    atoms = [(m.start(), m.end()) for m in _ATOM.finditer(text)]
    if not atoms:
        return []

    # Positions in the stream of word characters (diacritics folded) of both sides.
    atom_stream = _word_stream(text)
    word_stream = "".join(_word_stream(word) for word in words)
    inside: set[int] = set()  # stream positions that fall inside one segmenter word
    mapping = _position_map(word_stream, atom_stream)
    position = 0
    for word in words:
        length = len(_word_stream(word))
        first, last = mapping.get(position), mapping.get(position + length)
        # Trust a word only when all of it lines up with the text (a contiguous matching stretch).
        if first is not None and last is not None and last - first == length:
            inside.update(range(first + 1, last))
        position += length

    spans: list[tuple[int, int]] = []
    stream_end = 0
    for start, end in atoms:
        atom_length = len(_word_stream(text[start:end]))
        joined = (
            spans
            and stream_end in inside
            and text[spans[-1][1] : start].isspace()  # only whitespace between the atoms
        )
        if joined:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
        stream_end += atom_length
    return spans


def _position_map(source: str, target: str) -> dict[int, int]:
    """Map positions of `source` to equal positions of `target` (identity when the streams agree)."""
    if source == target:
        return {i: i for i in range(len(source) + 1)}
    mapping: dict[int, int] = {}
    matcher = difflib.SequenceMatcher(a=source, b=target, autojunk=False)
    for block in matcher.get_matching_blocks():
        for offset in range(block.size + 1):
            mapping.setdefault(block.a + offset, block.b + offset)
    return mapping


@lru_cache(maxsize=1)
def default_fixed_words() -> tuple[str, ...]:
    """Administrative terms and province names the segmenter must keep whole, in priority order."""
    words = [
        line.strip()
        for line in FIXED_WORDS_FILE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    if PLACES_FILE.is_file():
        places = json.loads(PLACES_FILE.read_text(encoding="utf-8"))
        words += [p["name"] for p in places["provinces"]] + list(places["old_provinces"])
    # underthesea matches fixed words case-sensitively: add the capitalised and lower-case forms.
    variants = [form for word in words for form in (word, word.lower(), word[:1].upper() + word[1:])]
    return tuple(dict.fromkeys(w for w in variants if " " in w))


def has_diacritics(text: str) -> bool:
    return bool(_DIACRITIC.search(text))


def segment(text: str, fixed_words: tuple[str, ...] = ()) -> list[str]:
    """underthesea's words for text with diacritics; syllables for text typed without them.

    The segmenter is trained on text with diacritics; without them it joins unrelated syllables
    ("lam giay" for "làm giấy"), which would break entity boundaries, so syllables are safer there.
    """
    if not has_diacritics(text):
        return text.split()
    from underthesea import word_tokenize

    try:
        words = list(word_tokenize(text))
    except Exception:  # the segmenter must never break NLU: fall back to syllables
        logger.exception("underthesea could not segment %r", text[:80])
        return text.split()
    return keep_fixed_words(words, fixed_words) if fixed_words else words


@lru_cache(maxsize=8)
def fixed_word_patterns(fixed_words: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """The fixed words' lower-case syllables, longer words first; among equals, the order given (the
    file lists the preferred reading first). Sorted once for a list of words, not for every message."""
    patterns = dict.fromkeys(tuple(word.lower().split()) for word in fixed_words)
    return tuple(sorted(patterns, key=len, reverse=True))


def keep_fixed_words(words: list[str], fixed_words: tuple[str, ...]) -> list[str]:
    """Regroup syllables so that each fixed word is exactly one word.

    (underthesea's own `fixed_words` option glues a neighbouring syllable onto them.)
    """
    syllables = [syllable for word in words for syllable in word.split()]
    starts: set[int] = set()
    position = 0
    for word in words:
        starts.add(position)
        position += len(word.split())
    folded = [syllable.lower() for syllable in syllables]
    present = set(folded)
    covered = [False] * len(syllables)
    for pattern in fixed_word_patterns(fixed_words):
        if pattern and pattern[0] not in present:
            continue  # a word whose first syllable is not in the text matches nowhere
        size = len(pattern)
        for i in range(len(folded) - size + 1):
            if tuple(folded[i : i + size]) == pattern and not any(covered[i : i + size]):
                starts.update({i, i + size})
                starts.difference_update(range(i + 1, i + size))
                covered[i : i + size] = [True] * size
    regrouped: list[list[str]] = []
    for i, syllable in enumerate(syllables):
        if i in starts or not regrouped:
            regrouped.append([syllable])
        else:
            regrouped[-1].append(syllable)
    return [" ".join(group) for group in regrouped]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class UndertheseaTokenizer(Tokenizer):
    """Vietnamese word segmentation by underthesea, with offsets into the original text."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            # Join the syllables of a word with this in the token text ("khai_sinh").
            "syllable_joiner": "_",
            # Keep the administrative vocabulary and province names whole (vi_fixed_words.txt).
            "use_default_fixed_words": True,
            # More words to keep whole.
            "fixed_words": [],
        }

    @staticmethod
    def supported_languages() -> list[str] | None:
        return ["vi"]

    @staticmethod
    def required_packages() -> list[str]:
        return ["underthesea"]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> UndertheseaTokenizer:
        return cls(config)

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        words = list(config.get("fixed_words") or [])
        if config.get("use_default_fixed_words", True):
            words += default_fixed_words()
        self.fixed_words = tuple(dict.fromkeys(words))

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = message.get(attribute) or ""
        joiner = self._config.get("syllable_joiner", "_")
        spans = word_spans(text, segment(text, self.fixed_words)) if text.strip() else []
        tokens = [Token(re.sub(r"\s+", joiner, text[start:end]), start, end) for start, end in spans]
        if not tokens and text:
            # Nothing but punctuation or emoji: keep the whole text as one token, as Rasa's tokenizers do.
            tokens = [Token(text, 0, len(text))]
        return self._apply_token_pattern(tokens)
