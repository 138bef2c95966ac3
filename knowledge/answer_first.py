"""Answer first: from a search ranking, the procedure to answer at once, or the options to ask back.

The search ranks procedures; the dialogue must decide what a citizen sees first. The top result is
answered at once by default, with up to three next results as buttons under it ("Bạn cần thủ tục
khác?"). The question is asked back (the first few results offered as a choice) only when:

- the search is not confident at all (its probability that the top is right is under
  `min_probability`: out of scope or unclear, as before), or
- a really different procedure has close evidence: among the next results, one outside the top's
  family (see `same_family`) scores at least `min_rival_ratio` of the top's reranker score, and the
  search is not sure enough of the top (`sure_probability`) to answer anyway.

Three signals answer however close the rivals: a message that is the name or an alias of the general
procedure both search stages put first (the search's own "exact", `answer_typed_name`), a curated top
procedure whose name the question states (most of its words, `min_name_coverage`; short names are
stated by chance), and a procedure mention NLU found that would be answered alone, at
`mention_probability` or more, with the same top.

Variants of one family are procedures whose names differ only by a qualifier: the level in brackets,
or words one name adds to the other ("đăng ký khai sinh" / "… có yếu tố nước ngoài", "cấp lại …"),
measured on the words that matter (weighted by how rare each is among procedure names): the shorter
name's words found in the longer one, at least `min_family_overlap` of its weight.

The thresholds live in knowledge/data/answer_first.json, fitted on the eval train lines' out-of-fold
rankings by `python -m benchmarks.dialogue fit` (never on a test split).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
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
CANDIDATES = 8


class AnswerPolicy(BaseModel):
    """The thresholds of the answer-first decision (see the module docstring)."""

    min_probability: float = Field(0.2, description="under it, the search is not confident: ask back")
    min_rival_ratio: float = Field(
        0.8, description="a different procedure scoring this share of the top's score is close evidence"
    )
    sure_probability: float = Field(0.8, description="at or above it, answer however close the rivals")
    min_family_overlap: float = Field(
        1.0, description="weighted share of the shorter name within the longer one: one family"
    )
    min_name_coverage: float = Field(
        1.0, description="share of a curated top procedure's name the question states"
    )
    min_covered_words: int = Field(3, description="words of that name the question must contain")
    mention_probability: float = Field(
        0.9, description="a mention answers the question when answered alone at this confidence or more"
    )
    answer_typed_name: bool = Field(
        True, description="answer when the message is the top procedure's name or alias (the search's exact)"
    )
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


def _record_name_words(record) -> frozenset[str]:
    return name_words(record.name)


def name_idf(records: list) -> dict[str, float]:
    """How rare each name word (without "thủ tục" and levels) is among the names of the index's records."""
    from knowledge.rerank import word_idf

    return word_idf(records, _record_name_words)


def family_overlap(a: str, b: str, idf: dict[str, float]) -> float:
    """The weighted share of the shorter name's words that the other name has (1: a pure qualifier
    added, or the same name at another level)."""
    words_a, words_b = name_words(a), name_words(b)
    shorter, longer = sorted((words_a, words_b), key=len)
    # Summed in a fixed order: a set's order changes with the hash seed, and so would the last bit of
    # the sums (a pure qualifier must give exactly 1.0 in every process).
    total = sum(idf.get(w, 1.0) for w in sorted(shorter))
    return sum(idf.get(w, 1.0) for w in sorted(shorter & longer)) / total if total else 0.0


def same_family(a: str, b: str, idf: dict[str, float], min_overlap: float) -> bool:
    return family_overlap(a, b, idf) >= min_overlap - 1e-9


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
    # answered: "sure", "no close rival", "name typed", "name stated", "mention agrees";
    # asked: "not confident", "close rival"
    reason: str = ""


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


@dataclass
class Evidence:
    """What the decision reads from one ranking (computed once, so that a fit can try many policies)."""

    candidates: list[Candidate]
    probability: float
    coverage: float
    typed_name: bool
    rival_ratios: dict[float, float]  # family overlap threshold -> best score share of a non-family rival


def evidence(searcher: Searcher, ranking: Ranking, policy: AnswerPolicy,
             overlaps: tuple[float, ...] = ()) -> Evidence:
    records = searcher.index.records
    candidates = [
        Candidate(records[i].code, records[i].name, score)
        for i, score in zip(ranking.order[:CANDIDATES], ranking.scores[:CANDIDATES], strict=False)
    ]
    if not candidates:
        return Evidence([], 0.0, 0.0, False, {})
    probability = searcher.probability(ranking) or 0.0
    top = records[ranking.order[0]]
    coverage = 0.0
    if top.curated:
        coverage = name_coverage([top.name], set(ranking.normalized.unaccented), policy.min_covered_words)
    idf = name_idf(records)
    ratios = {}
    for overlap in overlaps or (policy.min_family_overlap,):
        rivals = [c.score for c in candidates[1 : policy.max_options]
                  if not same_family(candidates[0].name, c.name, idf, overlap)]
        top_score = candidates[0].score
        ratios[overlap] = max(rivals, default=0.0) / top_score if top_score > 0 else 1.0
    typed_name = ranking.features.get("rerank_exact") == 1.0
    return Evidence(candidates, probability, coverage, typed_name, ratios)


def decide_evidence(found: Evidence, policy: AnswerPolicy) -> Decision:
    """The decision for one ranking's evidence alone."""
    candidates = found.candidates
    if not candidates:
        return Decision("none")

    def answered(reason: str) -> Decision:
        return Decision("answer", candidates[0], candidates[1 : 1 + policy.max_variants], [],
                        found.probability, found.coverage, reason)

    def asked(reason: str) -> Decision:
        return Decision("ask", None, [], candidates[: policy.max_options], found.probability, found.coverage,
                        reason)

    if found.typed_name and policy.answer_typed_name:
        return answered("name typed")
    if found.coverage >= policy.min_name_coverage:
        return answered("name stated")
    if found.probability < policy.min_probability:
        return asked("not confident")
    if found.probability >= policy.sure_probability:
        return answered("sure")
    if found.rival_ratios[policy.min_family_overlap] >= policy.min_rival_ratio:
        return asked("close rival")
    return answered("no close rival")


def combine(decision: Decision, mention_decisions: list[Decision], policy: AnswerPolicy) -> Decision:
    """A question asked back is answered when a procedure mention NLU found in it would be answered
    alone, at least at `mention_probability`, with the same top procedure."""
    if decision.kind != "ask" or not decision.options:
        return decision
    top = decision.options[0]
    for alone in mention_decisions:
        if (alone.kind == "answer" and alone.chosen is not None and alone.chosen.code == top.code
                and alone.probability >= policy.mention_probability):
            variants = decision.options[1 : 1 + policy.max_variants]
            return Decision("answer", top, variants, [], decision.probability, decision.name_coverage,
                            "mention agrees")
    return decision


def decide_ranking(
    searcher: Searcher,
    ranking: Ranking,
    policy: AnswerPolicy | None = None,
    mention_rankings: Iterable[Ranking] = (),
) -> Decision:
    """The decision for a question's ranking; `mention_rankings` rank the procedure mentions NLU found
    in it, and are only drawn when the question alone would be asked back."""
    policy = policy or load_policy()
    decision = decide_evidence(evidence(searcher, ranking, policy), policy)
    if decision.kind != "ask":
        return decision
    mentions = [decide_evidence(evidence(searcher, r, policy), policy) for r in mention_rankings]
    return combine(decision, mentions, policy)


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

    # Mentions are ranked (encoded) only if the question alone is asked back.
    mention_rankings = (rank(mention) for mention in mentions)
    return decide_ranking(searcher, rank(query), mention_rankings=mention_rankings)
