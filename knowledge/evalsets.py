"""The evaluation sets as data: questions with their expected procedures and their train/test split.

Two sets live in eval/: the short questions (`questions.yaml`, no split column: a stable hash of the
question decides) and the narrative ones (`narrative_questions.yaml`, an explicit `split` per line).
Train lines may train the reranker and calibrate the confidence; test lines are only measured. A third
file, `citizen_train.yaml`, is training data only: every line of it is a train line, never measured.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from knowledge.config import PROJECT_ROOT

Split = Literal["train", "test"]
SHORT_SET = PROJECT_ROOT / "eval" / "questions.yaml"
NARRATIVE_SET = PROJECT_ROOT / "eval" / "narrative_questions.yaml"
CITIZEN_TRAIN_SET = PROJECT_ROOT / "eval" / "citizen_train.yaml"


@dataclass
class EvalQuestion:
    q: str
    codes: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    split: Split = "test"

    @property
    def out_of_scope(self) -> bool:
        return not self.codes and not self.names

    def is_hit(self, code: str, name: str) -> bool:
        return code in self.codes or any(re.search(pattern, name.lower()) for pattern in self.names)


def hashed_split(question: str) -> Split:
    """A stable half-and-half split for sets without a split column."""
    key = " ".join(unicodedata.normalize("NFC", question).lower().split())
    return "train" if hashlib.sha256(key.encode()).digest()[0] % 2 == 0 else "test"


def load_questions(path: Path, *, all_in_split: Split | None = None) -> list[EvalQuestion]:
    """The questions of one set, each in its own split. `all_in_split` relabels every line as that
    split (a train-only file); it selects nothing: filter on `EvalQuestion.split` for that."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    questions = []
    for item in data.get("questions", []):
        q = str(item["q"])
        questions.append(EvalQuestion(q=q, codes=list(item.get("codes") or []),
                                      names=list(item.get("names") or []),
                                      split=all_in_split or item.get("split") or hashed_split(q)))
    return questions


def citizen_train_questions() -> list[EvalQuestion]:
    """The train-only citizen lines (eval/citizen_train.yaml), all in the train split."""
    return load_questions(CITIZEN_TRAIN_SET, all_in_split="train") if CITIZEN_TRAIN_SET.is_file() else []


def training_questions() -> list[EvalQuestion]:
    """The train splits of both eval sets and the train-only citizen lines (never a test line)."""
    return [q for path in (SHORT_SET, NARRATIVE_SET) if path.is_file()
            for q in load_questions(path) if q.split == "train"] + citizen_train_questions()
