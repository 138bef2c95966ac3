"""The underthesea tokenizer gives tokens that are exact spans of the original text."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.importers.rasa import RasaFileImporter
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.components.underthesea_tokenizer import UndertheseaTokenizer, word_spans

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tokenizer() -> UndertheseaTokenizer:
    return UndertheseaTokenizer(UndertheseaTokenizer.get_default_config())


def tokens_of(tokenizer: UndertheseaTokenizer, text: str) -> list:
    message = Message(data={TEXT: text})
    tokenizer.process([message])
    return message.get(TOKENS_NAMES[TEXT])


def assert_exact_spans(text: str, tokens: list) -> None:
    previous_end = 0
    for token in tokens:
        assert 0 <= token.start < token.end <= len(text)
        assert token.start >= previous_end, "tokens overlap or go backwards"
        assert text[token.start : token.end].replace(" ", "_") == token.text.replace(" ", "_")
        previous_end = token.end


def test_compound_words_are_one_token_with_offsets(tokenizer: UndertheseaTokenizer) -> None:
    text = "Con tôi mới sinh, làm giấy khai sinh cần gì?"
    tokens = tokens_of(tokenizer, text)
    assert_exact_spans(text, tokens)
    assert "khai_sinh" in [t.text for t in tokens]
    khai_sinh = next(t for t in tokens if t.text == "khai_sinh")
    assert text[khai_sinh.start : khai_sinh.end] == "khai sinh"
    assert all(t.text not in {",", "?"} for t in tokens)


@pytest.mark.parametrize(
    "text",
    [
        "lam giay khai sinh can gi",  # no diacritics
        "đổi gplx hết hạn 😀😀 mất  bao lâu???",  # emoji, double space, repeated punctuation
        "làm làm làm sổ đỏ sổ đỏ",  # repeated words
        "Khánh Hoà hoà hòa",  # tone marks placed differently (underthesea normalises them)
        "  lệ phí\tbao nhiêu\n\nạ  ",  # leading, trailing and mixed whitespace
        "Thủ tục 1.001193 lệ phí 10.000đ, mẫu CT01/TK01",  # codes and amounts
        "cccd/căn cước (bị mất) - cấp lại!!!",
        "ĐĂNG KÝ THƯỜNG TRÚ Ở HÀ NỘI",
    ],
)
def test_tokens_are_spans_of_the_original_text(tokenizer: UndertheseaTokenizer, text: str) -> None:
    tokens = tokens_of(tokenizer, text)
    assert tokens
    assert_exact_spans(text, tokens)


def test_repeated_words_get_their_own_offsets(tokenizer: UndertheseaTokenizer) -> None:
    text = "sổ đỏ sổ đỏ"
    tokens = tokens_of(tokenizer, text)
    assert [(t.start, t.end) for t in tokens] == [(0, 5), (6, 11)]


def test_only_emoji_or_punctuation_keeps_the_whole_text(tokenizer: UndertheseaTokenizer) -> None:
    for text in ["😀", "???", "👍🏻"]:
        tokens = tokens_of(tokenizer, text)
        assert [(t.text, t.start, t.end) for t in tokens] == [(text, 0, len(text))]


def test_word_spans_survive_a_segmenter_that_rewrites_text() -> None:
    # A segmenter output that changed characters and dropped the emoji still maps onto the original.
    text = "Hoà 😀 bình an"
    assert word_spans(text, ["Hòa", "bình an"]) == [(0, 3), (6, 13)]
    # Output unrelated to the text: every atom stays a token of its own.
    assert word_spans("giấy khai sinh", ["xyz"]) == [(0, 4), (5, 9), (10, 14)]


def test_training_data_entities_align_with_tokens(tokenizer: UndertheseaTokenizer) -> None:
    importer = RasaFileImporter(training_data_paths=[str(ROOT / "training_data" / "nlu.yml")])
    data = importer.get_nlu_data()
    misaligned = []
    for example in data.entity_examples:
        tokens = tokens_of(tokenizer, example.get(TEXT))
        starts = {t.start for t in tokens}
        ends = {t.end for t in tokens}
        for entity in example.get("entities", []):
            if entity["start"] not in starts or entity["end"] not in ends:
                misaligned.append((example.get(TEXT), entity["value"]))
    assert len(data.entity_examples) > 100
    assert not misaligned, misaligned[:10]


def _rasas_first_keep_fixed_words(words: list[str], fixed_words: tuple[str, ...]) -> list[str]:
    """keep_fixed_words as first written: every fixed word tried at every position of every message."""
    syllables = [syllable for word in words for syllable in word.split()]
    starts: set[int] = set()
    position = 0
    for word in words:
        starts.add(position)
        position += len(word.split())
    folded = [syllable.lower() for syllable in syllables]
    covered = [False] * len(syllables)
    patterns = sorted(dict.fromkeys(tuple(w.lower().split()) for w in fixed_words), key=len, reverse=True)
    for pattern in patterns:
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


def test_fixed_words_are_prepared_once_and_regroup_as_before(tokenizer: UndertheseaTokenizer) -> None:
    from underthesea import word_tokenize

    from bot.components.underthesea_tokenizer import fixed_word_patterns, keep_fixed_words

    paths = [str(ROOT / "training_data" / name) for name in ("nlu.yml", "nlu_numbers.yml")]
    data = RasaFileImporter(training_data_paths=paths).get_nlu_data()
    texts = [example.get(TEXT) for example in data.intent_examples]
    assert len(texts) > 1000
    fixed_word_patterns.cache_clear()
    for text in texts:
        words = list(word_tokenize(text))
        assert keep_fixed_words(words, tokenizer.fixed_words) == _rasas_first_keep_fixed_words(
            words, tokenizer.fixed_words
        )
    assert fixed_word_patterns.cache_info().misses == 1  # sorted once for all the messages
    overlapping = ("khai sinh", "giấy khai", "giấy khai sinh", "")  # and an empty word, which splits all
    words = ["Làm giấy", "khai sinh", "cho con"]
    assert keep_fixed_words(words, overlapping) == _rasas_first_keep_fixed_words(words, overlapping)


def test_word_stream_through_the_character_cache_is_as_before() -> None:
    from bot.components.underthesea_tokenizer import _WORD_CHARS, _fold, _word_stream

    paths = [str(ROOT / "training_data" / name) for name in ("nlu.yml", "nlu_numbers.yml")]
    data = RasaFileImporter(training_data_paths=paths).get_nlu_data()
    texts = [example.get(TEXT) for example in data.intent_examples]
    texts.append("".join(chr(code) for code in range(0x3000)))  # Latin, Vietnamese, marks, symbols
    for text in texts:
        assert _word_stream(text) == "".join(_fold(ch) for ch in text if _WORD_CHARS.match(ch))
