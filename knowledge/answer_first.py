"""Answer first: from a search ranking, the procedure to answer at once, or the options to ask back.

The search ranks procedures; the dialogue must decide what a citizen sees first. Three steps:

1. Answer or ask back. The top result is answered at once when the search's confidence is high
   enough, or when it is an ordinary citizen procedure (a curated record) whose name the question
   states (most of its words; short aliases such as "hộ nghèo" are stated by chance, so not them),
   or when a procedure mention NLU found would be answered alone with the same top result.
   The thresholds live in knowledge/data/answer_first.json, fitted on the eval set's train split
   by `python -m benchmarks.dialogue fit` (never on its test split).
2. Variants. Up to three next results go as buttons under the answer ("Bạn cần thủ tục khác?").
3. Otherwise the first few results are offered as a choice.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from knowledge.normalize import unaccented_words

if TYPE_CHECKING:
    from knowledge.search import Ranking, Searcher

logger = logging.getLogger(__name__)

POLICY_FILE = Path(__file__).with_name("data") / "answer_first.json"
_PARENTHESES = re.compile(r"\([^)]*\)")
_LEADING = ("thu", "tuc")


class AnswerPolicy(BaseModel):
    """The thresholds of the answer-first decision (see the module docstring)."""

    min_probability: float = Field(0.5, description="search confidence at or above which to answer")
    min_name_coverage: float = Field(
        1.0, description="share of a curated top procedure's name the question states"
    )
    min_covered_words: int = Field(3, description="words of that name the question must contain")
    max_variants: int = 3
    max_options: int = 5
    fitted_on: dict = Field(default_factory=dict)


@lru_cache(maxsize=1)
def load_policy(path: Path = POLICY_FILE) -> AnswerPolicy:
    try:
        return AnswerPolicy.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        logger.warning("no answer-first policy at %s; using defaults", path)
        return AnswerPolicy()


def name_words(name: str) -> frozenset[str]:
    """The words of a procedure name without "thủ tục" and parenthesised qualifiers (levels)."""
    words = unaccented_words(_PARENTHESES.sub(" ", name))
    if tuple(words[:2]) == _LEADING:
        words = words[2:]
    return frozenset(words)


@dataclass
class Candidate:
    code: str
    name: str
    score: float


@dataclass
class Decision:
    kind: Literal["answer", "ask", "none"]
    chosen: Candidate | None = None
    variants: list[Candidate] = field(default_factory=list)
    options: list[Candidate] = field(default_factory=list)
    probability: float = 0.0
    name_coverage: float = 0.0


def name_coverage(names: list[str], query_words: set[str], min_words: int) -> float:
    """How much of the best-covered name the question states (0 to 1), counting only names of
    which it states at least `min_words` words (a short name is stated by chance)."""
    best = 0.0
    for name in names:
        words = name_words(name)
        stated = len(words & query_words)
        if words and stated >= min_words:
            best = max(best, stated / len(words))
    return best


def decide_ranking(
    searcher: Searcher,
    ranking: Ranking,
    policy: AnswerPolicy | None = None,
    mention_rankings: list[Ranking] | tuple[Ranking, ...] = (),
) -> Decision:
    """The decision for a question's ranking; `mention_rankings` rank the procedure mentions NLU found
    in it: when the question alone is not decisive but a mention alone would be answered with the same
    top procedure, the two agree and it is answered."""
    policy = policy or load_policy()
    decision = _decide_alone(searcher, ranking, policy)
    if decision.kind != "ask" or not decision.options:
        return decision
    top = decision.options[0]
    for mention_ranking in mention_rankings:
        alone = _decide_alone(searcher, mention_ranking, policy)
        if alone.kind == "answer" and alone.chosen is not None and alone.chosen.code == top.code:
            variants = decision.options[1 : 1 + policy.max_variants]
            return Decision("answer", top, variants, [], decision.probability, decision.name_coverage)
    return decision


def _decide_alone(searcher: Searcher, ranking: Ranking, policy: AnswerPolicy) -> Decision:
    records = searcher.index.records
    candidates = [
        Candidate(records[i].code, records[i].name, score)
        for i, score in zip(ranking.order[:8], ranking.scores[:8], strict=False)
    ]
    if not candidates:
        return Decision("none")
    probability = searcher.probability(ranking) or 0.0
    top = records[ranking.order[0]]
    coverage = 0.0
    if top.curated:
        query_words = set(ranking.normalized.unaccented)
        coverage = name_coverage([top.name], query_words, policy.min_covered_words)
    chosen, others = candidates[0], candidates[1:]
    if probability >= policy.min_probability or coverage >= policy.min_name_coverage:
        return Decision("answer", chosen, others[: policy.max_variants], [], probability, coverage)
    return Decision("ask", None, [], candidates[: policy.max_options], probability, coverage)


def decide(query: str, mentions: list[str] | tuple[str, ...] = ()) -> Decision:
    """The answer-first decision for one question (and its NLU procedure mentions)."""
    from knowledge.search import get_searcher

    searcher = get_searcher()
    # A mention is often the whole message ("khai sinh"): the same text is ranked (encoded) once.
    rankings: dict[str, Ranking] = {}

    def rank(text: str) -> Ranking:
        key = " ".join(text.split())
        if key not in rankings:
            rankings[key] = searcher.rank(text)
        return rankings[key]

    mention_rankings = [rank(mention) for mention in mentions]
    return decide_ranking(searcher, rank(query), mention_rankings=mention_rankings)
