"""Steps: split the procedure text into bullets and put back phrases that slipped into the next one.

The crawl sometimes cuts a few words out of one bullet and drops them into the next, e.g.
"nộp hồ sơ đăng ký khai tâm Phục vụ …" / "hoàn tất việc sinh tại Trung \\nnộp hồ sơ".
Such a cut leaves word pairs that occur nowhere else in the record ("khai tâm", "việc sinh",
"Trung nộp"), and putting the phrase back creates pairs the record uses elsewhere ("khai sinh",
"Trung tâm"). The repair searches for exactly that, using the record's own text as vocabulary.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_PHRASE_WORDS = 6
_BROKEN_LINE = re.compile(r"[ \t]*\n[ \t]*\w")


@dataclass(frozen=True)
class Repair:
    step: int
    phrase: str


def _bigrams(text: str) -> Counter[tuple[str, str]]:
    words = [w.lower() for w in _WORD.findall(text)]
    return Counter(itertools.pairwise(words))


def _words(text: str) -> list[re.Match[str]]:
    return list(_WORD.finditer(text))


def _pair(a: re.Match[str], b: re.Match[str]) -> tuple[str, str]:
    return a.group(0).lower(), b.group(0).lower()


def _find_move(before: str, after: str, vocabulary: Counter[tuple[str, str]]) -> tuple[int, int, int] | None:
    """(insert position in `before`, phrase start, phrase end in `after`) or None."""
    a_words, b_words = _words(before), _words(after)
    best: tuple[int, tuple[int, int, int]] | None = None
    gaps = [
        i
        for i in range(1, len(a_words))
        if vocabulary[_pair(a_words[i - 1], a_words[i])] <= 1
        and before[a_words[i - 1].end() : a_words[i].start()] == " "
    ]
    for start in range(1, len(b_words)):
        if vocabulary[_pair(b_words[start - 1], b_words[start])] > 1:
            continue
        for end in range(start + 2, min(start + MAX_PHRASE_WORDS, len(b_words)) + 1):
            if end >= len(b_words) or vocabulary[_pair(b_words[end - 1], b_words[end])] > 1:
                continue
            gap_text = after[b_words[end - 1].end() : b_words[end].start() + 1]
            if not (_BROKEN_LINE.fullmatch(gap_text) and gap_text[-1].islower()):
                continue  # the slipped phrase ends where the crawl broke a sentence across lines
            if "\n" in after[b_words[start - 1].end() : b_words[end - 1].end()]:
                continue
            for gap in gaps:
                joined_left = vocabulary[_pair(a_words[gap - 1], b_words[start])]
                joined_right = vocabulary[_pair(b_words[end - 1], a_words[gap])]
                if joined_left < 2 or joined_right < 2:
                    continue
                score = joined_left + joined_right
                if best is None or score > best[0]:
                    best = (score, (a_words[gap].start(), b_words[start].start(), b_words[end - 1].end()))
    return best[1] if best else None


def repair_moved_phrases(steps: list[str], record_text: str) -> tuple[list[str], list[Repair]]:
    vocabulary = _bigrams(record_text)
    repaired = list(steps)
    repairs: list[Repair] = []
    for index in range(len(repaired) - 1):
        move = _find_move(repaired[index], repaired[index + 1], vocabulary)
        if move is None:
            continue
        insert_at, start, end = move
        after = repaired[index + 1]
        phrase = after[start:end]
        tail = after[end:]
        repaired[index] = repaired[index][:insert_at] + phrase + " " + repaired[index][insert_at:]
        repaired[index + 1] = after[:start].rstrip() + " " + tail.lstrip(" \n")
        repaired[index + 1] = re.sub(r"[ \t]+", " ", repaired[index + 1]).strip()
        repairs.append(Repair(step=index, phrase=phrase))
    return repaired, repairs
