"""Answer-first benchmark and the fit of its thresholds.

Question sets: the train lines are the shared dev set, the train splits of eval/questions.yaml (a
stable hash of each question) and eval/narrative_questions.yaml and the train-only eval/citizen_train.yaml
(knowledge.evalsets, the lines the search reranker trains on); the test lines are the two test
splits, only measured. The reranker saw the eval train lines, so they are ranked OUT OF FOLD
(knowledge.rerank.out_of_fold_rankings: trees and confidence fitted without them, as a new question
meets them); the dev set, never trained on, is
ranked by the committed search. As in the bot, each question is decided with the procedure mentions
the trained NLU model finds in it (parsed once per model in .venv-rasa, cached in var/bench/); without
a trained model the questions alone are decided.

Figures, per set, for answer first (knowledge/data/answer_first.json) and the previous design
(main 87189b7: answer when `Searcher.is_confident`, else ask back; first answer = the documents, time
and fee card, the Decree 63 notice for birth and death, the follow-up hint), both on today's search:

- answered directly: in-scope questions answered at once (no question back);
- directly but wrong (strict): answered at once with a top procedure that is not a right one;
- directly, right one among its buttons: of those wrong, the ones whose variant buttons hold a right one;
- asked back: close rival (different procedures with close evidence) / not confident;
- out of scope answered: out-of-scope questions answered at once with a procedure;
- median, 95th percentile and max length of the first answer's text, in characters.

    python -m benchmarks.dialogue          # the report (make bench)
    python -m benchmarks.dialogue fit      # refit knowledge/data/answer_first.json, print the frontier
    python -m benchmarks.dialogue fit 0.05 # the same with another limit on wrong direct answers
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from benchmarks.search import Question, question_sets
from bot.places import resolve_place
from bot.rasa_server import DEFAULT_MODEL, PROJECT_ROOT, RASA_VENV
from knowledge.answer_first import (
    POLICY_FILE,
    AnswerPolicy,
    Decision,
    Evidence,
    combine,
    decide_evidence,
    evidence,
    load_policy,
)
from knowledge.evalsets import (
    CITIZEN_TRAIN_SET,
    NARRATIVE_SET,
    SHORT_SET,
    load_questions,
    training_questions,
)
from knowledge.search import Ranking, Searcher, get_searcher

log = logging.getLogger(__name__)

MENTIONS_FILE = PROJECT_ROOT / "var" / "bench" / "mentions.json"
OUT_OF_FOLD_FILE = PROJECT_ROOT / "var" / "bench" / "out_of_fold"
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
# Answered directly but wrong (strict: top not a right one), share of in-scope train questions. The
# issue's goal is 0.03; with today's search (its out-of-fold top is wrong for 18% of the train lines)
# the rule fitted within it is one confidence threshold (p >= 0.7: `sure_probability` under it, so
# close rivals are never looked at) and answers 60%. 0.04 is the strictest limit at which the fitted
# rule has the form (a fairly confident top is answered unless a different procedure is
# close): 65% answered. `fit 0.03` gives the other one; refit after the reranker changes.
MAX_WRONG = 0.04
MAX_OUT_OF_SCOPE_ANSWERED = 0.10
FRONTIER = (0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.12)
GRID = {
    "min_probability": [0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95,
                        1.01],
    "min_rival_ratio": [0.3, 0.5, 0.7, 0.8, 0.9, 1.01],
    "sure_probability": [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.01],
    "min_family_overlap": [0.5, 0.67, 0.8, 1.0],
    # a name is "stated" when the question holds (nearly) all its words: at lower shares generic words
    # ("cấp lại", "giấy") state a name by chance
    "min_name_coverage": [0.8, 1.0, 1.01],
    "answer_typed_name": [True, False],
    "mention_probability": [0.5, 0.7, 0.8, 0.9, 0.95, 1.01],
}
# previous design (git show 87189b7:bot/actions/procedures.py): the texts it added to the card
BEFORE_HINT = "Bạn có thể hỏi tiếp: lệ phí bao nhiêu, nộp ở đâu, mất bao lâu, làm online được không…"
BEFORE_NOTICE = {
    **dict.fromkeys(("1.001193", "2.000986", "2.001023"), (
        "Theo Nghị định 63/2024/NĐ-CP, khai sinh có thể làm liên thông với đăng ký thường trú và cấp thẻ "
        "BHYT cho trẻ dưới 6 tuổi: nộp một bộ hồ sơ tại một nơi (hoặc trên Cổng Dịch vụ công/VNeID).")),
    **dict.fromkeys(("1.000656", "1.003197"), (
        "Theo Nghị định 63/2024/NĐ-CP, đăng ký khai tử, xóa đăng ký thường trú và hưởng mai táng phí/tử "
        "tuất được giải quyết liên thông: nộp một bộ hồ sơ tại một nơi (hoặc trên Cổng Dịch vụ "
        "công/VNeID).")),
}


def question_splits() -> dict[str, list[Question]]:
    """Train: the dev set, both train splits and the train-only citizen lines; test: both test splits
    (short and narrative apart)."""
    dev = load_questions(question_sets()["dev"][0])
    short, narrative = load_questions(SHORT_SET), load_questions(NARRATIVE_SET)
    return {
        "train": dev + training_questions(),
        "test short": [q for q in short if q.split == "test"],
        "test narrative": [q for q in narrative if q.split == "test"],
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


@dataclass
class Ranked:
    question: Question
    ranking: Ranking
    mentions: list[Ranking]
    found: Evidence
    mention_found: list[Evidence]


def out_of_fold(searcher: Searcher) -> dict[str, Ranking]:
    """knowledge.rerank.out_of_fold_rankings, cached in var/bench/ per index content, training data and
    reranker code (a few minutes to compute; knowledge/data/reranker.json plays no part in it)."""
    from knowledge import calibrate, rerank

    inputs = [Path(rerank.__file__), Path(calibrate.__file__), SHORT_SET, NARRATIVE_SET]
    inputs += [CITIZEN_TRAIN_SET] if CITIZEN_TRAIN_SET.is_file() else []
    manifest = searcher.index.manifest
    digest = hashlib.sha256(f"{manifest.content_hash} {manifest.model} {manifest.normalisation}".encode())
    for path in inputs:
        digest.update(path.read_bytes())
    cache = OUT_OF_FOLD_FILE.with_suffix(f".{digest.hexdigest()[:16]}.pickle")
    if cache.is_file():
        with cache.open("rb") as handle:
            return pickle.load(handle)
    rankings = rerank.out_of_fold_rankings(searcher)
    cache.parent.mkdir(parents=True, exist_ok=True)
    for old in cache.parent.glob(f"{OUT_OF_FOLD_FILE.stem}.*.pickle"):
        old.unlink()
    with cache.open("wb") as handle:
        pickle.dump(rankings, handle)
    return rankings


def rank_splits(searcher: Searcher) -> dict[str, list[Ranked]]:
    """Every question ranked (eval train lines out of fold), with its mentions, and its evidence for
    every family-overlap threshold of the grid."""
    every = question_splits()
    mentions = nlu_mentions([q for questions in every.values() for q in questions])
    unseen = out_of_fold(searcher)
    policy, overlaps = AnswerPolicy(), tuple(GRID["min_family_overlap"])
    result: dict[str, list[Ranked]] = {}
    for name, questions in every.items():
        rows = []
        for q in questions:
            ranking = unseen[q.q] if name == "train" and q.q in unseen else searcher.rank(q.q)
            mention_rankings = [searcher.rank(m) for m in mentions.get(q.q, [])]
            found = [evidence(searcher, r, policy, overlaps) for r in (ranking, *mention_rankings)]
            rows.append(Ranked(q, ranking, mention_rankings, found[0], found[1:]))
        result[name] = rows
        if name == "train":
            log.info("train: %d of %d lines ranked out of fold", sum(q.q in unseen for q in questions),
                     len(questions))
    return result


def decision(row: Ranked, policy: AnswerPolicy) -> Decision:
    """What knowledge.answer_first.decide_ranking decides, from the evidence computed once."""
    alone = decide_evidence(row.found, policy)
    return combine(alone, [decide_evidence(m, policy) for m in row.mention_found], policy)


@dataclass
class Tally:
    in_scope: int = 0
    direct: int = 0
    wrong: int = 0
    right_in_buttons: int = 0
    close_rival: int = 0
    not_confident: int = 0
    out_of_scope: int = 0
    out_of_scope_answered: int = 0

    def add(self, question: Question, answered: bool, chosen: list[tuple[str, str]], reason: str) -> None:
        """`chosen`: the answered procedure first, then its variant buttons (code, name)."""
        if question.out_of_scope:
            self.out_of_scope += 1
            self.out_of_scope_answered += answered
            return
        self.in_scope += 1
        if not answered:
            self.close_rival += reason == "close rival"
            self.not_confident += reason != "close rival"
            return
        self.direct += 1
        if not question.is_hit(*chosen[0]):
            self.wrong += 1
            self.right_in_buttons += any(question.is_hit(*c) for c in chosen[1:])

    def shares(self) -> dict[str, float]:
        def share(a: int, b: int) -> float:
            return round(a / b, 3) if b else 0.0

        return {
            "in_scope_questions": self.in_scope,
            "answered_directly": share(self.direct, self.in_scope),
            "directly_but_wrong_strict": share(self.wrong, self.in_scope),
            "directly_wrong_but_right_in_buttons": share(self.right_in_buttons, self.in_scope),
            "asked_back_close_rival": share(self.close_rival, self.in_scope),
            "asked_back_not_confident": share(self.not_confident, self.in_scope),
            "out_of_scope_answered": share(self.out_of_scope_answered, self.out_of_scope),
        }


def tally(rows: list[Ranked], policy: AnswerPolicy) -> Tally:
    result = Tally()
    for row in rows:
        d = decision(row, policy)
        answered = d.kind == "answer" and d.chosen is not None
        chosen = [(c.code, c.name) for c in ([d.chosen, *d.variants] if answered else [])]
        result.add(row.question, answered, chosen, d.reason)
    return result


def tally_before(searcher: Searcher, rows: list[Ranked]) -> Tally:
    """The previous design: answer the top when the search is confident (no variant buttons)."""
    result = Tally()
    records = searcher.index.records
    for row in rows:
        answered = searcher.is_confident(row.ranking)
        top = records[row.ranking.order[0]] if row.ranking.order else None
        chosen = [(top.code, top.name)] if answered and top is not None else []
        result.add(row.question, answered, chosen, "not confident")
    return result


def _grid() -> list[AnswerPolicy]:
    names = list(GRID)
    values = itertools.product(*GRID.values())
    return [AnswerPolicy(**dict(zip(names, row, strict=True))) for row in values]


def _vectors(rows: list[Ranked]) -> dict:
    """The evidence as arrays, so that every policy of the grid is tallied at once."""
    overlaps = GRID["min_family_overlap"]
    q_count = len(rows)
    out = {"oos": np.array([r.question.out_of_scope for r in rows])}
    out["empty"] = np.array([not r.found.candidates for r in rows])
    out["right"] = np.array([bool(r.found.candidates) and not r.question.out_of_scope
                             and r.question.is_hit(r.found.candidates[0].code, r.found.candidates[0].name)
                             for r in rows])
    owner, agrees, mention = [], [], []
    for k, r in enumerate(rows):
        for m in r.mention_found:
            if m.candidates and r.found.candidates:
                owner.append(k)
                agrees.append(m.candidates[0].code == r.found.candidates[0].code)
                mention.append(m)
    out["owner"], out["agrees"] = np.array(owner, dtype=int), np.array(agrees, dtype=bool)
    for key, found in (("q", [r.found for r in rows]), ("m", mention)):
        out[key] = {
            "p": np.array([f.probability for f in found]),
            "cov": np.array([f.coverage for f in found]),
            "typed": np.array([f.typed_name for f in found], dtype=bool),
            "ratio": {o: np.array([f.rival_ratios.get(o, 0.0) for f in found]) for o in overlaps},
        }
    out["n"] = q_count
    return out


def _answered(v: dict, policy: AnswerPolicy) -> np.ndarray:
    def alone(e: dict) -> np.ndarray:
        p, ratio = e["p"], e["ratio"][policy.min_family_overlap]
        confident = p >= policy.min_probability
        return (e["typed"] & policy.answer_typed_name) | (e["cov"] >= policy.min_name_coverage) | (
            confident & ((p >= policy.sure_probability) | (ratio < policy.min_rival_ratio)))

    answered = alone(v["q"]) & ~v["empty"]
    if v["owner"].size:
        agree = np.zeros(v["n"], dtype=bool)
        np.logical_or.at(agree, v["owner"], alone(v["m"]) & v["agrees"]
                         & (v["m"]["p"] >= policy.mention_probability))
        answered |= agree & ~v["empty"]
    return answered


def _fast_shares(v: dict, answered: np.ndarray) -> tuple[float, float, float]:
    in_scope = ~v["oos"]
    n_in, n_out = max(1, int(in_scope.sum())), max(1, int(v["oos"].sum()))
    direct = (answered & in_scope).sum() / n_in
    wrong = (answered & in_scope & ~v["right"]).sum() / n_in
    return float(direct), float(wrong), float((answered & v["oos"]).sum() / n_out)


def fit(rows: list[Ranked], max_wrong: float = MAX_WRONG) -> tuple[AnswerPolicy, list[dict]]:
    """The thresholds answering the most train questions directly within the wrong-answer limits, and the
    frontier (the best policy at each limit of FRONTIER)."""
    v = _vectors(rows)
    scored = []
    for policy in _grid():
        direct, wrong, oos = _fast_shares(v, _answered(v, policy))
        if oos <= MAX_OUT_OF_SCOPE_ANSWERED:
            scored.append((direct, wrong, policy))

    def best(limit: float) -> tuple[float, float, AnswerPolicy]:
        within = [s for s in scored if s[1] <= limit + 1e-9]
        return max(within, key=lambda s: (s[0], -s[1]))  # answering nothing is always within

    frontier = [{"max_wrong": limit, "policy": best(limit)[2]} for limit in sorted({*FRONTIER, max_wrong})]
    direct, wrong, policy = best(max_wrong)
    check = tally(rows, policy).shares()
    if abs(check["answered_directly"] - round(direct, 3)) > 1e-9:
        raise RuntimeError("the vectorised fit disagrees with knowledge.answer_first")
    policy.fitted_on = {
        "date": date.today().isoformat(),
        "train_questions": len(rows),
        "rankings": "eval train lines out of fold (knowledge.rerank.out_of_fold_rankings), dev as searched",
        "max_wrong": max_wrong,
        "max_out_of_scope_answered": MAX_OUT_OF_SCOPE_ANSWERED,
        "train": check,
    }
    return policy, frontier


def first_answers(searcher: Searcher, rows: list[Ranked], policy: AnswerPolicy
                  ) -> tuple[list[int], list[int]]:
    """Lengths of the first answer's text: answer first's short card; the previous design's card."""
    from knowledge.cards import render_card, render_first_answer
    from knowledge.catalogue import get_catalogue

    catalogue = get_catalogue()
    now, before = [], []
    records = searcher.index.records
    for row in rows:
        d = decision(row, policy)
        if d.kind == "answer" and d.chosen is not None and (procedure := catalogue.get(d.chosen.code)):
            now.append(len(render_first_answer(procedure)))
        top = records[row.ranking.order[0]].code if searcher.is_confident(row.ranking) else None
        if top is not None and (procedure := catalogue.get(top)):
            parts = [render_card(procedure, aspects=["documents", "time", "fee"]),
                     BEFORE_NOTICE.get(procedure.code), BEFORE_HINT]
            before.append(len("\n\n".join(p for p in parts if p)))
    return now, before


def percentile(values: list[int], share: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0


def lengths(values: list[int]) -> dict[str, int]:
    return {
        "first_answer_median_chars": int(statistics.median(values)) if values else 0,
        "first_answer_p95_chars": percentile(values, 0.95),
        "first_answer_max_chars": max(values, default=0),
    }


def report(searcher: Searcher, ranked: dict[str, list[Ranked]], policy: AnswerPolicy) -> dict[str, dict]:
    figures: dict[str, dict] = {}
    every = {**ranked, "test": ranked["test short"] + ranked["test narrative"]}
    for name, rows in every.items():
        now, before = first_answers(searcher, rows, policy)
        label = "train (out of fold)" if name == "train" else name
        figures[label] = {"answer first": {**tally(rows, policy).shares(), **lengths(now)},
                          "before": {**tally_before(searcher, rows).shares(), **lengths(before)}}
    return figures


def print_table(figures: dict[str, dict]) -> None:
    sets = list(figures)
    rows = list(figures[sets[0]]["answer first"])
    print("| figure | " + " | ".join(f"{s}: answer first | {s}: before" for s in sets) + " |")
    print("|---|" + "---|---|" * len(sets))
    for row in rows:
        cells = [f"{figures[s]['answer first'][row]} | {figures[s]['before'][row]}" for s in sets]
        print(f"| {row} | " + " | ".join(cells) + " |")


def print_frontier(ranked: dict[str, list[Ranked]], frontier: list[dict]) -> None:
    test = ranked["test short"] + ranked["test narrative"]
    print("\n| wrong limit (train) | policy | train OOF direct | train OOF wrong | test direct "
          "| test wrong |")
    print("|---|---|---|---|---|---|")
    for point in frontier:
        p: AnswerPolicy = point["policy"]
        train, held = tally(ranked["train"], p).shares(), tally(test, p).shares()
        knobs = (f"p≥{p.min_probability} rival≥{p.min_rival_ratio} sure≥{p.sure_probability} "
                 f"family≥{p.min_family_overlap} name≥{p.min_name_coverage} typed={p.answer_typed_name} "
                 f"mention≥{p.mention_probability}")
        print(f"| {point['max_wrong']} | {knobs} | {train['answered_directly']} | "
              f"{train['directly_but_wrong_strict']} | {held['answered_directly']} | "
              f"{held['directly_but_wrong_strict']} |")


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    argv = argv or []
    searcher = get_searcher()
    ranked = rank_splits(searcher)
    if argv[:1] == ["fit"]:
        policy, frontier = fit(ranked["train"], float(argv[1]) if len(argv) > 1 else MAX_WRONG)
        POLICY_FILE.write_text(policy.model_dump_json(indent=2) + "\n", encoding="utf-8")
        load_policy.cache_clear()
        print(f"wrote {POLICY_FILE}: {policy.model_dump_json()}")
        print_frontier(ranked, frontier)
        return
    print_table(report(searcher, ranked, load_policy()))


if __name__ == "__main__":
    main(sys.argv[1:])
