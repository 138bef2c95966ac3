"""Vietnamese text normalisation for search: the same steps for questions and for the catalogue.

A question goes through: Unicode NFC and control-character removal, underthesea's `text_normalize`
(tone-mark placement, spacing), lower-casing, the abbreviation / slang / outdated-term list
(`abbreviations.yaml`: "cccd" -> "thẻ căn cước", "sổ đỏ" -> "giấy chứng nhận quyền sử dụng đất"), and
diacritic restoration for words typed without accents ("lam giay khai sinh" -> "làm giấy khai sinh"),
learned from the catalogue's own n-grams plus underthesea's bundled word list (Viet74K).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import re
import sys
import types
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, Field

ABBREVIATIONS_FILE = Path(__file__).with_name("abbreviations.yaml")
MAX_QUERY_CHARS = 1000
MAX_NGRAM = 3
_WORD = re.compile(r"\w+", re.UNICODE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\ufeff\ufffd]")


# --- characters ------------------------------------------------------------------------------------


def _accent_table() -> dict[int, str]:
    table: dict[int, str] = {ord("đ"): "d", ord("Đ"): "D"}
    for cp in range(0xC0, 0x1F00):
        char = chr(cp)
        base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
        if base != char and base.isascii() and base:
            table[cp] = base
    return table


_ACCENTS = _accent_table()


def strip_accents(text: str) -> str:
    """'Đăng ký' -> 'Dang ky' (NFC input; combining marks left by decomposed input are dropped too)."""
    stripped = text.translate(_ACCENTS)
    if stripped.isascii():
        return stripped
    return "".join(c for c in unicodedata.normalize("NFD", stripped) if not unicodedata.combining(c))


def has_diacritics(text: str) -> bool:
    return strip_accents(text) != text


# Imported by underthesea's own __init__ though the project never uses them: its translation
# pipeline imports transformers (0.4 s, about 20 MiB) whenever that is installed.
UNUSED_UNDERTHESEA = ("underthesea.pipeline.translate",)


def underthesea() -> types.ModuleType:
    """The underthesea package, imported without the pipelines of `UNUSED_UNDERTHESEA`.

    They are marked missing while the package initialises (underthesea then sets them to None, as
    when their dependencies are not installed), and unmarked after: importing one by name still works.
    """
    if "underthesea" not in sys.modules:
        blocked = [name for name in UNUSED_UNDERTHESEA if name not in sys.modules]
        sys.modules.update(dict.fromkeys(blocked))
        try:
            importlib.import_module("underthesea")
        finally:
            for name in blocked:
                if name in sys.modules and sys.modules[name] is None:
                    del sys.modules[name]
    return sys.modules["underthesea"]


def clean(text: str) -> str:
    """NFC, no control characters, bounded length, underthesea's text_normalize, lower case."""
    text_normalize = underthesea().text_normalize
    text = unicodedata.normalize("NFC", str(text))[:MAX_QUERY_CHARS]
    text = _CONTROL.sub(" ", text)
    text = " ".join(text.split())
    if not text:
        return ""
    with contextlib.suppress(Exception):  # best effort: the rest of the pipeline still works
        text = text_normalize(text)
    return unicodedata.normalize("NFC", text).lower()


def words(text: str) -> list[str]:
    """The word tokens (syllables, numbers) of already-cleaned text, punctuation dropped."""
    return [w for w in _WORD.findall(text) if w != "_"]


@lru_cache(maxsize=200_000)
def _clean_word(word: str) -> str:
    return clean(word)


@lru_cache(maxsize=200_000)
def _stripped_word(word: str) -> str:
    """`strip_accents` of one word, cached: catalogue and questions repeat the same few thousand."""
    return strip_accents(word)


def clean_words(text: str) -> list[str]:
    """`words(clean(text))` for long catalogue text, fast: underthesea normalises each distinct word once."""
    raw = _WORD.findall(unicodedata.normalize("NFC", str(text)).lower())
    return [c for w in raw if w != "_" for c in _WORD.findall(_clean_word(w))]


def unaccented_words(text: str) -> list[str]:
    return [strip_accents(w) for w in words(text.lower())]


def _consistent(typed: str, candidate: str) -> bool:
    """A typed word fits a candidate if equal, or if it was typed without accents and matches them."""
    return typed == candidate or (typed.isascii() and _stripped_word(candidate) == typed)


# --- abbreviations, slang, outdated terms ----------------------------------------------------------


class AbbreviationEntry(BaseModel):
    kind: str = Field(pattern="^(abbreviation|slang|outdated)$")
    terms: list[str] = Field(min_length=1)
    means: str
    keep: bool = False
    # Where a term means something else: the words just before it ("xe nhập khẩu" is an import, not
    # hộ khẩu) or just after it ("nhập khẩu ô tô"). Matched like terms: whole words, accents optional.
    not_after: list[str] = Field(default_factory=list)
    not_before: list[str] = Field(default_factory=list)


class AbbreviationFile(BaseModel):
    entries: list[AbbreviationEntry]
    vocabulary: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class _Term:
    words: tuple[str, ...]
    replacement: tuple[str, ...]
    not_after: tuple[tuple[str, ...], ...] = ()
    not_before: tuple[tuple[str, ...], ...] = ()

    def applies(self, before: list[str], after: list[str]) -> bool:
        """False when the words around the term are one of its exceptions."""
        return not any(
            len(phrase) <= len(before) and all(map(_consistent, before[len(before) - len(phrase) :], phrase))
            for phrase in self.not_after
        ) and not any(
            len(phrase) <= len(after) and all(map(_consistent, after[: len(phrase)], phrase))
            for phrase in self.not_before
        )


def _phrases(texts: list[str]) -> tuple[tuple[str, ...], ...]:
    return tuple(phrase for phrase in (tuple(words(clean(text))) for text in texts) if phrase)


class Abbreviations:
    """Whole-word replacement of citizens' terms by the catalogue's, longest term first."""

    def __init__(self, data: AbbreviationFile) -> None:
        self.data = data
        self._by_key: dict[tuple[str, ...], list[_Term]] = defaultdict(list)
        self._longest = 1
        self._context = 0  # the longest exception phrase: how far around a term to look
        for entry in data.entries:
            means = tuple(words(clean(entry.means)))
            not_after, not_before = _phrases(entry.not_after), _phrases(entry.not_before)
            self._context = max([self._context, *map(len, not_after + not_before)])
            for term in entry.terms:
                term_words = tuple(words(clean(term)))
                if not term_words:
                    continue
                replacement = term_words + means if entry.keep else means
                key = tuple(strip_accents(w) for w in term_words)
                self._by_key[key].append(_Term(term_words, replacement, not_after, not_before))
                self._longest = max(self._longest, len(term_words))

    @classmethod
    def load(cls, path: Path = ABBREVIATIONS_FILE) -> Abbreviations:
        return cls(AbbreviationFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))))

    @property
    def vocabulary(self) -> list[str]:
        return self.data.vocabulary

    def phrases(self) -> list[str]:
        """Every catalogue-side phrase the list produces (for the restoration vocabulary)."""
        return [entry.means for entry in self.data.entries]

    def expand(self, tokens: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(tokens):
            for length in range(min(self._longest, len(tokens) - i), 0, -1):
                span = tokens[i : i + length]
                candidates = self._by_key.get(tuple(_stripped_word(w) for w in span), ())
                term = next(
                    (
                        t
                        for t in candidates
                        if all(map(_consistent, span, t.words))
                        and t.applies(
                            tokens[max(0, i - self._context) : i],
                            tokens[i + length : i + length + self._context],
                        )
                    ),
                    None,
                )
                if term:
                    out.extend(term.replacement)
                    i += length
                    break
            else:
                out.append(tokens[i])
                i += 1
        return out


# --- diacritic restoration ---------------------------------------------------------------------


def underthesea_wordlist() -> list[str]:
    """underthesea's bundled Vietnamese word list (Viet74K), lower-cased, one entry per word."""
    spec = importlib.util.find_spec("underthesea")
    if spec is None or not spec.submodule_search_locations:
        return []
    path = Path(next(iter(spec.submodule_search_locations))) / "corpus" / "data" / "Viet74K.txt"
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return sorted({unicodedata.normalize("NFC", line.strip().lower()) for line in lines if line.strip()})


class DiacriticRestorer:
    """Puts accents back on words typed without them, choosing among n-grams seen with accents.

    The table maps an unaccented n-gram (1 to 3 words) to its accented forms and their weights.
    A question is segmented by dynamic programming that prefers longer known n-grams (more context)
    and then heavier forms; words typed with accents are kept and constrain the choice.
    """

    def __init__(self, table: dict[str, list[tuple[str, float]]]) -> None:
        # Kept packed: one bytes key and one bytes value ("form\tweight\n…") per n-gram, built anew, so
        # nothing of the parsed JSON outlives the load. Lists of tuples of the parsed strings held
        # 124 MiB for the catalogue's 207,774 n-grams, this 34 MiB (measured after malloc_trim).
        self._table = {
            key.encode(): "\n".join(f"{form}\t{float(weight)!r}" for form, weight in forms).encode()
            for key, forms in table.items()
        }

    def forms(self, key: str) -> list[tuple[str, float]]:
        """The accented forms seen for an unaccented n-gram, heaviest first, with their weights."""
        packed = self._table.get(key.encode())
        if not packed:
            return []
        pairs = (line.split("\t") for line in packed.decode().split("\n"))
        return [(form, float(weight)) for form, weight in pairs]

    @property
    def table(self) -> dict[str, list[tuple[str, float]]]:
        return {key.decode(): self.forms(key.decode()) for key in self._table}

    @classmethod
    def build(cls, weighted_texts: Iterable[tuple[str, float]], max_forms: int = 4) -> DiacriticRestorer:
        weights: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for text, weight in weighted_texts:
            tokens = clean_words(text)
            keys = [_stripped_word(w) for w in tokens]
            for n in range(1, MAX_NGRAM + 1):
                for i in range(len(tokens) - n + 1):
                    weights[" ".join(keys[i : i + n])][" ".join(tokens[i : i + n])] += weight
        table = {
            key: sorted(forms.items(), key=lambda kv: (-kv[1], kv[0]))[:max_forms]
            for key, forms in weights.items()
        }
        return cls(table)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.table, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> DiacriticRestorer:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def restore(self, tokens: list[str]) -> list[str]:
        if not tokens or all(not t.isascii() for t in tokens):
            return tokens
        n = len(tokens)
        best: list[tuple[float, int, tuple[str, ...]]] = [(-math.inf, 0, ())] * (n + 1)
        best[0] = (0.0, 0, ())
        for i in range(n):
            score_here = best[i][0]
            if score_here == -math.inf:
                continue
            keep = (score_here, i, (tokens[i],))
            if keep[0] > best[i + 1][0]:
                best[i + 1] = keep
            for length in range(1, min(MAX_NGRAM, n - i) + 1):
                span = tokens[i : i + length]
                forms = self.forms(" ".join(_stripped_word(w) for w in span))
                if not forms:
                    continue
                for form, weight in forms:
                    form_words = form.split(" ")
                    if len(form_words) == length and all(map(_consistent, span, form_words)):
                        score = score_here + length * length + 0.1 * math.log1p(weight)
                        if score > best[i + length][0]:
                            best[i + length] = (score, i, tuple(form_words))
                        break
        out: list[tuple[str, ...]] = []
        j = n
        while j > 0:
            _, start, chosen = best[j]
            out.append(chosen)
            j = start
        return [w for chunk in reversed(out) for w in chunk]


# --- the whole pipeline --------------------------------------------------------------------------


class NormalizedText(BaseModel):
    original: str
    text: str = Field(description="Cleaned, expanded, accents restored: what the dense model reads")
    unaccented: list[str] = Field(description="Unaccented words of `text`: what BM25 reads")
    typed_with_diacritics: bool


class Normalizer:
    def __init__(self, abbreviations: Abbreviations, restorer: DiacriticRestorer | None = None) -> None:
        self.abbreviations = abbreviations
        self.restorer = restorer

    def normalize(self, text: str) -> NormalizedText:
        cleaned = clean(text)
        tokens = self.abbreviations.expand(words(cleaned))
        if self.restorer is not None:
            tokens = self.restorer.restore(tokens)
        restored = " ".join(tokens)
        return NormalizedText(
            original=str(text),
            text=restored,
            unaccented=[_stripped_word(w) for w in tokens],
            typed_with_diacritics=has_diacritics(cleaned),
        )


def restoration_texts(
    catalogue_texts: Iterable[tuple[str, float]], abbreviations: Abbreviations
) -> Iterable[tuple[str, float]]:
    """The weighted texts a restorer learns from: catalogue, the list's vocabulary, the word list."""
    yield from catalogue_texts
    for phrase in abbreviations.phrases():
        yield phrase, 2.0
    for phrase in abbreviations.vocabulary:
        yield phrase, 20.0
    for word in underthesea_wordlist():
        yield word, 0.5


@lru_cache(maxsize=1)
def default_abbreviations() -> Abbreviations:
    return Abbreviations.load()


def document_words(text: str) -> list[str]:
    """Unaccented words of catalogue text (it is written with accents and in the catalogue's terms)."""
    return [_stripped_word(w) for w in clean_words(text)]


@lru_cache(maxsize=1)
def catalogue_abbreviations() -> Abbreviations:
    """The abbreviation entries alone: the catalogue abbreviates too ("sổ BHXH", "nghỉ DSPHSK")."""
    data = default_abbreviations().data
    return Abbreviations(AbbreviationFile(entries=[e for e in data.entries if e.kind == "abbreviation"]))


def expanded_document_words(text: str) -> list[str]:
    """`document_words` with the catalogue's abbreviations spelt out, as a question's are."""
    return [_stripped_word(w) for w in catalogue_abbreviations().expand(clean_words(text))]
