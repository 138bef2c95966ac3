"""Query understanding for long messages: the part of a citizen's message that asks.

Citizens write history first ("Tôi nghỉ thai sản từ tháng 1, công ty đóng BHXH đến tháng 3…") and
ask last, often only by implication ("có được hưởng không", "phải làm sao"). `asking_clause` splits
the message into sentences (underthesea's sentence tokenizer) and keeps the last sentence that asks:
one with a question mark or a question phrase ("cho hỏi", "thủ tục", "ở đâu", "thế nào"…), else the
last sentence. A very short asking sentence ("Làm ở đâu?") keeps the sentence before it, which names
the procedure. Short messages are their own asking clause. The search reads both: the asking clause as
the main evidence, the whole text as weaker evidence.
"""

from __future__ import annotations

import re

from knowledge.normalize import strip_accents, underthesea

MIN_ASK_WORDS = 12  # an asking sentence shorter than this borrows the sentence before it (it names the topic)
LONG_MESSAGE_WORDS = 18  # shorter messages are read whole
# Phrases that mark a sentence as the question, unaccented (citizens type with and without marks).
QUESTION_PHRASES = (
    "cho hoi", "xin hoi", "cho em hoi", "cho toi hoi", "cho minh hoi", "thu tuc", "ho so", "giay to",
    "o dau", "the nao", "lam sao", "ra sao", "nhu nao", "bao lau", "bao nhieu", "can gi", "gom gi",
    "nhung gi", "duoc khong", "dc ko", "duoc ko", "co duoc", "phai lam", "lam gi", "lam o dau", "nop o dau",
    "xin o dau", "hay khong", "khong a", "ko a", "a?",
)
_PHRASES = "|".join(re.escape(phrase) for phrase in QUESTION_PHRASES)
_QUESTION = re.compile(rf"(?:^|\s)(?:{_PHRASES})(?:\s|$|[?.,!])")
_CLAUSE_END = re.compile(r"(?<=[.?!;])\s+|\n+")


def sentences(text: str) -> list[str]:
    """Sentences of a message: underthesea's tokenizer, then hard breaks and semicolons."""
    pieces = []
    for sentence in underthesea().sent_tokenize(text):
        pieces.extend(part.strip() for part in _CLAUSE_END.split(sentence) if part.strip())
    return pieces


def asks(sentence: str) -> bool:
    plain = " " + strip_accents(sentence.lower()) + " "
    return "?" in sentence or bool(_QUESTION.search(plain))


def asking_clause(text: str) -> str:
    """The part of a message that asks (the whole message when it is short)."""
    text = " ".join((text or "").split())
    if len(text.split()) < LONG_MESSAGE_WORDS:
        return text
    parts = sentences(text)
    if len(parts) <= 1:
        return text
    index = max((i for i, part in enumerate(parts) if asks(part)), default=len(parts) - 1)
    clause = parts[index]
    if len(clause.split()) < MIN_ASK_WORDS and index > 0:
        clause = f"{parts[index - 1]} {clause}"
    return clause
