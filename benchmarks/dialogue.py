"""Answer-first benchmark and the fit of its thresholds.

The eval set (eval/questions.yaml) is split in two as knowledge.evalsets splits it (a stable hash of
each question, the split the search reranker trains on): the train split (with the shared dev set)
fits the thresholds of knowledge/data/answer_first.json, the test split is only measured. As in the
bot, each question is decided with the procedure mentions the trained NLU model finds in it (parsed
once per model in .venv-rasa, cached in var/bench/mentions.json); without a trained model the
questions alone are decided. Reported per split, side by side with the previous design
(benchmarks/baseline_dialogue.json, computed once from the design before answer-first on an earlier
hash split of the same set, so its train/test columns are indicative):

- answered directly: in-scope questions answered at once (no question back);
- answered directly but wrong: answered at once with a procedure that is not a right one;
- asked back: in-scope questions answered with a choice of procedures;
- out of scope answered: out-of-scope questions answered at once with a procedure;
- median and 95th percentile length of the first answer, in characters.

    python -m benchmarks.dialogue          # the report
    python -m benchmarks.dialogue fit      # refit knowledge/data/answer_first.json on the train split
    python -m benchmarks.dialogue fit 0.05 # the same with another limit on wrong direct answers
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from benchmarks.search import Question, load_questions, question_sets
from bot.places import resolve_place
from bot.rasa_server import DEFAULT_MODEL, PROJECT_ROOT, RASA_VENV
from knowledge.answer_first import POLICY_FILE, AnswerPolicy, Decision, decide_ranking, load_policy
from knowledge.search import Ranking, Searcher, get_searcher

log = logging.getLogger(__name__)

BASELINE_FILE = Path(__file__).with_name("baseline_dialogue.json")
MENTIONS_FILE = PROJECT_ROOT / "var" / "bench" / "mentions.json"
MENTIONS_SCRIPT = """
import asyncio, json, sys
from rasa.core.agent import Agent
model, questions_file = sys.argv[1:3]
agent = Agent.load(model)
async def parse():
    out = {}
    for q in json.load(open(questions_file, encoding="utf-8")):
        entities = (await agent.parse_message(q))["entities"]
        out[q] = [q[e["start"]:e["end"]] for e in entities if e["entity"] == "procedure"]
    print("MENTIONS " + json.dumps(out, ensure_ascii=False))
asyncio.run(parse())
"""
MAX_WRONG = 0.03  # answered directly but wrong, share of in-scope questions
MAX_OUT_OF_SCOPE_ANSWERED = 0.10
PROBABILITIES = [round(0.05 * i, 2) for i in range(1, 20)] + [1.01]
# A name is "stated" when the question holds (nearly) all its words: at lower shares generic words
# ("cấp lại", "giấy") state a name by chance.
COVERAGES = [0.8, 0.9, 1.0, 1.01]
COVERED_WORDS = [3]  # a name of fewer than three words is stated by chance; more excludes most names


def splits() -> dict[str, list[Question]]:
    """The short eval set's own train/test split (knowledge.evalsets, the one the reranker trains on),
    with the shared dev set added to the train split."""
    sets = question_sets()
    short = load_questions(sets["short (test split)"][0])
    return {
        "train": load_questions(sets["dev"][0]) + [q for q in short if q.split == "train"],
        "test": [q for q in short if q.split == "test"],
    }


@dataclass
class Tally:
    in_scope: int = 0
    direct: int = 0
    wrong: int = 0
    asked: int = 0
    out_of_scope: int = 0
    out_of_scope_answered: int = 0

    def add(self, question: Question, decision: Decision) -> None:
        answered = decision.kind == "answer" and decision.chosen is not None
        if question.out_of_scope:
            self.out_of_scope += 1
            self.out_of_scope_answered += answered
            return
        self.in_scope += 1
        self.direct += answered
        self.asked += decision.kind == "ask"
        if answered and not question.is_hit(decision.chosen.code, decision.chosen.name):
            self.wrong += 1

    def shares(self) -> dict[str, float]:
        def share(a: int, b: int) -> float:
            return round(a / b, 3) if b else 0.0

        return {
            "answered_directly": share(self.direct, self.in_scope),
            "answered_directly_wrong": share(self.wrong, self.in_scope),
            "asked_back": share(self.asked, self.in_scope),
            "out_of_scope_answered": share(self.out_of_scope_answered, self.out_of_scope),
        }


def nlu_mentions(questions: list[Question]) -> dict[str, list[str]]:
    """Procedure mentions (not place names) the trained NLU model finds in each question."""
    if not DEFAULT_MODEL.is_file():
        log.warning(
            "no trained Rasa model at %s: questions are decided without their mentions", DEFAULT_MODEL
        )
        return {}
    texts = sorted({question.q for question in questions})
    key = {"model_mtime": DEFAULT_MODEL.stat().st_mtime}
    try:
        cached = json.loads(MENTIONS_FILE.read_text(encoding="utf-8"))
        if cached.get("key") == key and all(text in cached["mentions"] for text in texts):
            return cached["mentions"]
    except (OSError, ValueError, KeyError):
        pass
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8", delete=False) as handle:
        json.dump(texts, handle, ensure_ascii=False)
    env = dict(
        os.environ, PYTHONPATH=str(PROJECT_ROOT), RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2"
    )
    result = subprocess.run(
        [str(RASA_VENV / "bin" / "python"), "-c", MENTIONS_SCRIPT, str(DEFAULT_MODEL), handle.name],
        capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, check=True,
    )  # fmt: skip
    os.unlink(handle.name)
    line = next(line for line in result.stdout.splitlines() if line.startswith("MENTIONS "))
    parsed = json.loads(line[len("MENTIONS ") :])
    mentions = {q: [m for m in found if resolve_place(m) is None] for q, found in parsed.items()}
    MENTIONS_FILE.parent.mkdir(parents=True, exist_ok=True)
    MENTIONS_FILE.write_text(
        json.dumps({"key": key, "mentions": mentions}, ensure_ascii=False), encoding="utf-8"
    )
    return mentions


Ranked = tuple[Question, Ranking, list[Ranking]]


def rankings(searcher: Searcher, questions: list[Question]) -> list[Ranked]:
    """Each question's ranking and the rankings of its NLU procedure mentions."""
    mentions = nlu_mentions(questions)
    return [
        (question, searcher.rank(question.q), [searcher.rank(m) for m in mentions.get(question.q, [])])
        for question in questions
    ]


def tally(searcher: Searcher, ranked: list[Ranked], policy: AnswerPolicy) -> Tally:
    result = Tally()
    for question, ranking, mention_rankings in ranked:
        result.add(question, decide_ranking(searcher, ranking, policy, mention_rankings))
    return result


def fit(searcher: Searcher, questions: list[Question], max_wrong: float = MAX_WRONG) -> AnswerPolicy:
    """The thresholds answering the most train questions right, within the wrong-answer limits."""
    ranked = rankings(searcher, questions)
    best: tuple[tuple[int, int], AnswerPolicy, Tally] | None = None
    for probability, coverage, words in itertools.product(PROBABILITIES, COVERAGES, COVERED_WORDS):
        policy = AnswerPolicy(
            min_probability=probability, min_name_coverage=coverage, min_covered_words=words
        )
        result = tally(searcher, ranked, policy)
        shares = result.shares()  # per mille, as the goals are stated
        if shares["answered_directly_wrong"] > max_wrong:
            continue
        if shares["out_of_scope_answered"] > MAX_OUT_OF_SCOPE_ANSWERED:
            continue
        key = (result.direct - result.wrong, -result.wrong)
        if best is None or key > best[0]:
            best = (key, policy, result)
    assert best is not None  # answering nothing is always within the limits
    _, policy, result = best
    policy.fitted_on = {
        "date": date.today().isoformat(),
        "train_questions": len(questions),
        "max_wrong": max_wrong,
        "max_out_of_scope_answered": MAX_OUT_OF_SCOPE_ANSWERED,
        "train": result.shares(),
    }
    return policy


def first_answer_lengths(searcher: Searcher, ranked: list[Ranked]) -> list[int]:
    from knowledge.cards import render_first_answer
    from knowledge.catalogue import get_catalogue

    catalogue = get_catalogue()
    lengths = []
    for _, ranking, mention_rankings in ranked:
        decision = decide_ranking(searcher, ranking, mention_rankings=mention_rankings)
        if decision.kind == "answer" and decision.chosen is not None:
            procedure = catalogue.get(decision.chosen.code)
            if procedure is not None:
                lengths.append(len(render_first_answer(procedure)))
    return lengths


def percentile(values: list[int], share: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0


def report(searcher: Searcher) -> dict[str, dict[str, float]]:
    figures: dict[str, dict[str, float]] = {}
    every = splits()
    nlu_mentions([q for questions in every.values() for q in questions])  # one parse for both splits
    for name, questions in every.items():
        ranked = rankings(searcher, questions)
        shares: dict[str, float] = tally(searcher, ranked, load_policy()).shares()
        lengths = first_answer_lengths(searcher, ranked)
        shares["first_answer_median_chars"] = int(statistics.median(lengths)) if lengths else 0
        shares["first_answer_p95_chars"] = percentile(lengths, 0.95)
        shares["first_answer_max_chars"] = max(lengths, default=0)
        figures[name] = shares
    return figures


def main(argv: list[str] | None = None) -> None:
    argv = argv or []
    searcher = get_searcher()
    if argv[:1] == ["fit"]:
        every = splits()
        nlu_mentions([q for questions in every.values() for q in questions])
        policy = fit(searcher, every["train"], float(argv[1]) if len(argv) > 1 else MAX_WRONG)
        POLICY_FILE.write_text(policy.model_dump_json(indent=2) + "\n", encoding="utf-8")
        load_policy.cache_clear()
        print(f"wrote {POLICY_FILE}: {policy.model_dump_json()}")
        return
    figures = report(searcher)
    baseline = json.loads(BASELINE_FILE.read_text(encoding="utf-8")) if BASELINE_FILE.exists() else {}
    rows = list(next(iter(figures.values())))
    print("| figure | " + " | ".join(f"{s} (answer first) | {s} (before)" for s in figures) + " |")
    print("|---|" + "---|---|" * len(figures))
    for row in rows:
        cells = [f"{figures[s][row]} | {baseline.get(s, {}).get(row, '–')}" for s in figures]
        print(f"| {row} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
