"""Second-stage reranker over the hybrid search's top candidates, and its confidence model.

The first stage ranks every procedure twice: for the whole message and for its asking clause
(knowledge.query). The union of both top lists is scored by gradient-boosted trees over per-candidate
features: dense and BM25 scores of both texts (and their gap to the best), the two fused ranks, how
much of the procedure's name and best alias the texts contain (plain and weighted by how rare each
word is among procedure names), how much of the asking clause the name explains, its level, whether
citizens file it, whether it is a curated record, and the variant flag. Among the candidates it also
sees each one's family: whether a more general procedure is listed, how much of what its name adds
to that one (the qualifier: "lại", "có yếu tố nước ngoài", "cấp tỉnh") the question asks, and how
many variants of it are listed, so that a special case wins only when the question names its case.
And it sees how often citizens ask for each procedure: how many of the citizen-worded training lines it
answers (`asked`, a prior learned from those lines, stored with the model; when a fold's trees are
fitted, the counts come from that fold's training lines only).
A second model (gradient-boosted trees too, smaller) over the reranked top (its score, the margin to the
second, the ranker scores, how often citizens ask for the top two) says whether the answer is right:
the confidence, recalibrated on the new score. The confidence is fitted on rankings made by trees that
did not see the question (out of fold), and its threshold on probabilities from confidence models that
did not see the question either, so the precision they promise is the one a new question gets.

Both are trained on data, never on a test split: questions generated from the catalogue
(knowledge.calibrate), the train splits of the two eval sets and the train-only citizen set
(knowledge.evalsets) and the out-of-scope calibration lines. The result is a small committed file rebuilt by

    python -m knowledge.rerank        # writes knowledge/data/reranker.json
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from knowledge.normalize import NormalizedText
    from knowledge.search import Ranking, Searcher

logger = logging.getLogger(__name__)

RERANKER_FILE = Path(__file__).with_name("data") / "reranker.json"
CANDIDATES = 30
# Of confident answers on out-of-fold rankings of citizens' and out-of-scope lines: the issue's 95%. It was
# 0.97 while the out-of-fold precision promised far more than the test splits gave (0.97 vs 0.946); with
# the larger citizen sets the gap is a question or two of the short test split's confident ones.
TARGET_PRECISION = 0.95
EVAL_WEIGHT = 3.0  # eval train lines are citizens' wording: they count more than generated questions
# Generated in-scope questions are often a variant's name cut down to the general procedure's name
# ("khai sinh" from "khai sinh có yếu tố nước ngoài"): their "wrong" answers teach the confidence that
# every short question is doubtful, so they count less there.
GENERATED_CONFIDENCE_WEIGHT = 0.5
# The confidence learns from rankings of questions the ranker did not see: each fold's questions are
# ranked by trees fitted on the other folds (in-sample rankings are right more often than new ones, so
# a threshold set on them promises more precision than citizens get).
FOLDS = 3
# The encodings of the training questions (and of the passages it re-embeds) change in their last
# bits with torch's thread count, and the fitted file with them: training always encodes with one.
TRAINING_TORCH_THREADS = 1

CANDIDATE_FEATURES = [
    "dense_full", "dense_ask", "dense_gap_full", "dense_gap_ask", "bm25_full", "bm25_ask",
    "rrf_full", "rrf_ask", "name_full", "name_ask", "alias_full", "alias_ask",
    "curated", "variant", "commune", "province", "ministry", "citizen", "citizen_long",
    "name_idf_full", "name_idf_ask", "explained_ask", "general_listed", "qualifier_asked", "variants_listed",
    "asked",
]
ASKED = CANDIDATE_FEATURES.index("asked")
# the first stage's own confidence features (knowledge.search.FEATURES) of the whole message
FIRST_STAGE_FEATURES = ["fused_top", "fused_margin", "dense_top", "dense_margin", "bm25_top", "bm25_margin",
                        "agree", "query_words"]
CONFIDENCE_FEATURES = ["top", "margin", "top_probability", "probability_margin", "dense_full", "dense_ask",
                       "name_ask", "alias_ask", "coverage", "long", "same_as_hybrid", "name_idf_ask",
                       "explained_ask", "qualifier_asked", "asked_top", "asked_second", *FIRST_STAGE_FEATURES]
# The confidence's trees: slower-learning and with larger leaves than the ranker's (one row a question,
# not thirty). Compared on cross-validated out-of-fold rows of the citizen lines, they were confident on
# more of the in-scope ones at 95% precision than the logistic model they replaced, on every split tried.
CONFIDENCE_TREES = {"n_estimators": 150, "max_depth": 3, "learning_rate": 0.05, "min_samples_leaf": 30}


class Trees(BaseModel):
    """Gradient-boosted regression trees (scikit-learn's GradientBoostingClassifier, log loss), stored
    as plain arrays so the committed file needs no pickle: logit = init + rate × Σ tree leaf values."""

    features: list[str]
    init: float
    rate: float
    feature: list[list[int]]
    threshold: list[list[float]]
    left: list[list[int]]
    right: list[list[int]]
    value: list[list[float]]

    def model_post_init(self, context: object) -> None:
        """All trees as padded arrays [tree, node], so that one pass walks every tree at once."""
        width = max(len(nodes) for nodes in self.left)

        def padded(rows: list[list], fill: float) -> np.ndarray:
            return np.array([row + [fill] * (width - len(row)) for row in rows])

        self._arrays = (padded(self.feature, 0).astype(np.int64).clip(min=0), padded(self.threshold, 0.0),
                        padded(self.left, -1).astype(np.int64), padded(self.right, -1).astype(np.int64),
                        padded(self.value, 0.0))

    def logits(self, x: np.ndarray) -> np.ndarray:
        feature, threshold, left, right, value = self._arrays
        trees = np.arange(feature.shape[0])[:, None]
        rows = np.arange(x.shape[0])[None, :]
        node = np.zeros((feature.shape[0], x.shape[0]), dtype=np.int64)
        while True:
            inner = left[trees, node] >= 0
            if not inner.any():
                break
            goes_left = x[rows, feature[trees, node]] <= threshold[trees, node]
            node = np.where(inner, np.where(goes_left, left[trees, node], right[trees, node]), node)
        return self.init + self.rate * value[trees, node].sum(axis=0)

    @classmethod
    def fit(cls, features: list[str], x: np.ndarray, y: np.ndarray, weights: np.ndarray,
            n_estimators: int = 150, max_depth: int = 3, learning_rate: float = 0.1,
            min_samples_leaf: int = 20) -> Trees:
        from sklearn.ensemble import GradientBoostingClassifier

        model = GradientBoostingClassifier(n_estimators=n_estimators, max_depth=max_depth,
                                           learning_rate=learning_rate, subsample=0.8,
                                           min_samples_leaf=min_samples_leaf, random_state=0)
        model.fit(x, y, sample_weight=weights)
        prior = float(np.average(y, weights=weights))
        trees = [estimator[0].tree_ for estimator in model.estimators_]
        result = cls(
            features=features, init=math.log(prior / (1.0 - prior)), rate=model.learning_rate,
            feature=[t.feature.tolist() for t in trees], threshold=[t.threshold.tolist() for t in trees],
            left=[t.children_left.tolist() for t in trees], right=[t.children_right.tolist() for t in trees],
            value=[t.value[:, 0, 0].tolist() for t in trees],
        )
        sample = x[:200]
        if not np.allclose(result.logits(sample), model.decision_function(sample), atol=1e-6):
            raise RuntimeError("exported trees do not reproduce scikit-learn's decision function")
        return result


class RerankerModel(BaseModel):
    candidates: int = CANDIDATES
    # procedure code -> how many citizen-worded training lines it answers (the `asked` feature)
    asked: dict[str, int] = Field(default_factory=dict)
    ranker: Trees
    confidence: Trees
    threshold: float
    fitted_on: dict = Field(default_factory=dict)


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def load_reranker(path: Path = RERANKER_FILE) -> RerankerModel | None:
    try:
        return RerankerModel.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        logger.warning("no reranker at %s; search uses the hybrid ranking", path)
        return None


# --- features ---------------------------------------------------------------------------------------


def _share(words: list[str], present: set[str]) -> float:
    return sum(1 for w in words if w in present) / len(words) if words else 0.0


_IDF: dict[Callable, tuple[int, dict[str, float]]] = {}


def word_idf(records: list, words_of: Callable[[Any], Iterable[str]]) -> dict[str, float]:
    """Inverse document frequency of each word over the records, their words given by `words_of`
    (cached per function for the last list of records it was asked about)."""
    cached = _IDF.get(words_of)
    if cached is None or cached[0] != id(records):
        counts = Counter(word for record in records for word in set(words_of(record)))
        total = len(records)
        cached = (id(records), {word: math.log((1 + total) / (1 + count)) for word, count in counts.items()})
        _IDF[words_of] = cached
    return cached[1]


def _name_words(record) -> Iterable[str]:
    return record.name_words


def name_idf(records: list) -> dict[str, float]:
    """Inverse document frequency of each word over the procedure names (common words such as "cấp",
    "đăng ký" weigh little, distinctive ones such as "kết hôn", "lại", "nước ngoài" much)."""
    return word_idf(records, _name_words)


def _weighted_share(words: set[str], present: set[str], idf: dict[str, float]) -> float:
    # Summed in a fixed order: a set's order changes with the hash seed, and so would the last bits of
    # the features, the fitted models and the committed file.
    ordered = sorted(words)
    total = sum(idf.get(w, 0.0) for w in ordered)
    return sum(idf.get(w, 0.0) for w in ordered if w in present) / total if total else 0.0


def _family(records: list, candidates: list[int], words_ask: set[str], idf: dict[str, float]
            ) -> tuple[list[float], list[float], list[float]]:
    """Per candidate, among the candidates: whether a more general one is listed (its name words a
    strict subset), how much of what its name adds to that general one the question asks (the
    qualifier: "lại", "có yếu tố nước ngoài", "cấp tỉnh"), and how many variants of it are listed."""
    names = [frozenset(records[i].name_words) for i in candidates]
    general = [0.0] * len(candidates)
    asked = [1.0] * len(candidates)
    variants = [0.0] * len(candidates)
    for a, name_a in enumerate(names):
        best: frozenset[str] | None = None
        for b, name_b in enumerate(names):
            if a != b and name_b and name_b < name_a:
                variants[b] += 1.0
                if best is None or len(name_b) > len(best):
                    best = name_b
        if best is not None:
            general[a] = 1.0
            asked[a] = _weighted_share(set(name_a - best), words_ask, idf)
    return general, asked, [min(v, 3.0) for v in variants]


@dataclass
class View:
    """One text of the question (whole message or asking clause) with both rankers' scores."""

    normalized: NormalizedText
    dense: np.ndarray
    bm25: np.ndarray
    ranking: Ranking
    records: list = field(default_factory=list)  # the index's records (RecordInfo), for exact matches

    @property
    def words(self) -> set[str]:
        return set(self.normalized.unaccented)


def _asked_feature(asked: dict[str, int], code: str) -> float:
    """The `asked` column of a candidate: the same at training and at search."""
    return math.log1p(asked.get(code, 0))


def candidate_features(searcher: Searcher, full: View, ask: View, limit: int = CANDIDATES,
                       asked: dict[str, int] | None = None) -> tuple[list[int], np.ndarray]:
    """The candidates (union of both views' top lists) and one feature row per candidate; `asked` gives
    each procedure's count of citizen training lines (none given: zero, for training to fill in)."""
    seen: dict[int, None] = {}
    for i in (*full.ranking.order[:limit], *ask.ranking.order[:limit]):
        seen.setdefault(i, None)
    candidates = list(seen)
    if not candidates:
        return [], np.zeros((0, len(CANDIDATE_FEATURES)))
    records = searcher.index.records
    rank_full = {i: r for r, i in enumerate(full.ranking.order)}
    rank_ask = {i: r for r, i in enumerate(ask.ranking.order)}
    words_full, words_ask = full.words, ask.words
    long_query = min(len(full.normalized.unaccented), 60) / 60.0
    dense_max = (float(full.dense.max()), float(ask.dense.max()))
    bm25_max = (float(full.bm25.max()) or 1.0, float(ask.bm25.max()) or 1.0)
    idf = name_idf(records)
    general, qualifier, variants = _family(records, candidates, words_ask, idf)
    vocabulary_ask = {w for w in words_ask if w in idf}
    rows = []
    for k, i in enumerate(candidates):
        record = records[i]
        aliases = record.alias_words or [[]]
        name = set(record.name_words)
        rows.append([
            full.dense[i], ask.dense[i], full.dense[i] - dense_max[0], ask.dense[i] - dense_max[1],
            full.bm25[i] / bm25_max[0], ask.bm25[i] / bm25_max[1],
            1.0 / (5.0 + rank_full.get(i, 60)), 1.0 / (5.0 + rank_ask.get(i, 60)),
            _share(record.name_words, words_full), _share(record.name_words, words_ask),
            max(_share(a, words_full) for a in aliases), max(_share(a, words_ask) for a in aliases),
            float(record.curated), float(record.variant), float(record.level == "commune"),
            float(record.level == "province"), float(record.level == "ministry"), float(record.citizen),
            float(record.citizen) * long_query,
            _weighted_share(name, words_full, idf), _weighted_share(name, words_ask, idf),
            _weighted_share(vocabulary_ask, name, idf), general[k], qualifier[k], variants[k],
            _asked_feature(asked or {}, record.code),
        ])
    return candidates, np.asarray(rows, dtype=np.float64)


def _names(words: list[str], typed: list[str]) -> bool:
    """The typed words are the name, or its object: a suffix of at least half of it ("khai sinh" of
    "đăng ký khai sinh"; not "cấp lại" of "cấp lại giấy phép lái xe")."""
    return len(typed) * 2 >= len(words) and words[len(words) - len(typed):] == typed


def _record_named(record, typed: list[str]) -> bool:
    return any(_names(words, typed) for words in (record.name_words, *record.alias_words))


def confidence_features(logits: np.ndarray, rows: np.ndarray, full: View, known_share: float,
                        candidates: list[int]) -> dict[str, float]:
    order = np.argsort(-logits, kind="stable")
    top = order[0]
    second = float(logits[order[1]]) if order.size > 1 else float(logits[top]) - 5.0
    column = {name: j for j, name in enumerate(CANDIDATE_FEATURES)}
    top_probability, second_probability = sigmoid(float(logits[top])), sigmoid(second)
    record = full.records[candidates[top]] if candidates and full.records else None
    typed = list(full.normalized.unaccented)
    same_as_hybrid = bool(full.ranking.order) and candidates[top] == full.ranking.order[0]
    records = full.records
    others = [j for j in order[1:10] if records and _names(records[candidates[j]].name_words, typed)]
    exact = (record is not None and same_as_hybrid and not record.variant and len(typed) >= 2
             and _record_named(record, typed) and not others)  # no other procedure has that name
    return {
        # the message names the general procedure both stages put first (its name or an alias);
        # kept out of the model: is_confident takes it as confident on its own
        "exact": float(exact),
        **{name: full.ranking.features.get(name, 0.0) for name in FIRST_STAGE_FEATURES},
        "top": float(logits[top]),
        "margin": float(logits[top]) - second,
        "top_probability": top_probability,
        "probability_margin": top_probability - second_probability,
        "same_as_hybrid": float(same_as_hybrid),
        "dense_full": float(rows[top, column["dense_full"]]),
        "dense_ask": float(rows[top, column["dense_ask"]]),
        "name_ask": float(rows[top, column["name_ask"]]),
        "alias_ask": float(rows[top, column["alias_ask"]]),
        "name_idf_ask": float(rows[top, column["name_idf_ask"]]),
        "explained_ask": float(rows[top, column["explained_ask"]]),
        "qualifier_asked": float(rows[top, column["qualifier_asked"]]),
        "asked_top": float(rows[top, ASKED]),
        "asked_second": float(rows[order[1], ASKED]) if order.size > 1 else 0.0,
        "coverage": known_share,
        "long": min(len(full.normalized.unaccented), 60) / 60.0,
    }


# --- training ---------------------------------------------------------------------------------------


@dataclass
class TrainingQuestion:
    q: str
    codes: list[str]
    names: list[str]
    weight: float

    @property
    def out_of_scope(self) -> bool:
        return not self.codes and not self.names

    def is_hit(self, code: str, name: str) -> bool:
        import re

        return code in self.codes or any(re.search(p, name.lower()) for p in self.names)


def training_questions(catalogue) -> list[TrainingQuestion]:
    from knowledge.calibrate import calibration_questions
    from knowledge.evalsets import training_questions as eval_train

    questions = [
        TrainingQuestion(q.q, [q.code] if q.code else [], [f"^{_escape(q.name)}$"] if q.name else [], 1.0)
        for q in calibration_questions(list(catalogue))
    ]
    questions += [TrainingQuestion(q.q, q.codes, q.names, EVAL_WEIGHT) for q in eval_train()]
    return questions


def _escape(name: str) -> str:
    import re

    return re.escape(name.lower())


@dataclass
class Prepared:
    """One training question ranked by the first stage: its candidates, their features and labels."""

    number: int
    question: TrainingQuestion
    full: View
    candidates: list[int]
    x: np.ndarray
    hits: np.ndarray


def prepare(searcher: Searcher, questions: list[TrainingQuestion], progress: bool = True) -> list[Prepared]:
    from tqdm import tqdm

    records = searcher.index.records
    prepared = []
    ranked = tqdm(questions, desc="reranker: ranking", unit="q", disable=not progress)
    for number, question in enumerate(ranked):
        full, ask = searcher.views(question.q)
        candidates, x = candidate_features(searcher, full, ask)
        if candidates:
            hits = np.array([question.is_hit(records[i].code, records[i].name) for i in candidates])
            prepared.append(Prepared(number, question, full, candidates, x, hits))
    return prepared


def asked_counts(prepared: list[Prepared], records: list) -> dict[str, int]:
    """Per procedure code, how many of the citizen-worded lines among `prepared` it answers."""
    counts: Counter[str] = Counter()
    for p in prepared:
        if p.question.weight == EVAL_WEIGHT:
            counts.update({records[i].code for i, hit in zip(p.candidates, p.hits, strict=True) if hit})
    return dict(sorted(counts.items()))


def with_asked(p: Prepared, asked: dict[str, int], records: list) -> np.ndarray:
    """The prepared rows with the `asked` column filled from these counts."""
    x = p.x.copy()
    x[:, ASKED] = [_asked_feature(asked, records[i].code) for i in p.candidates]
    return x


@dataclass
class Fold:
    """Trees fitted on some of the prepared questions, with the counts of asked procedures they saw."""

    trees: Trees
    asked: dict[str, int]


def _fit_fold(prepared: list[Prepared], records: list) -> Fold:
    asked = asked_counts(prepared, records)
    rows = [p for p in prepared if not p.question.out_of_scope]
    x = np.vstack([with_asked(p, asked, records) for p in rows])
    y = np.concatenate([p.hits.astype(int) for p in rows])
    w = np.concatenate([np.full(len(p.candidates), p.question.weight) for p in rows])
    return Fold(Trees.fit(CANDIDATE_FEATURES, x, y, w), asked)


def _fit_folds(prepared: list[Prepared], records: list) -> list[Fold]:
    return [_fit_fold([p for p in prepared if p.number % FOLDS != f], records) for f in range(FOLDS)]


def fit(prepared: list[Prepared], records: list) -> RerankerModel:
    """The ranker on every prepared question, the confidence on out-of-fold rankings."""
    ranker = _fit_fold(prepared, records)
    fold_rankers = _fit_folds(prepared, records)
    cx, cy, cw = _confidence_rows(prepared, fold_rankers, records)
    oos = [p.question.out_of_scope for p in prepared]
    top1 = [bool(label) for label, out in zip(cy, oos, strict=True) if not out]
    confidence = _fit_confidence(cx, cy, cw)
    folds = _folds(prepared)
    probabilities = np.zeros(len(prepared))
    for f, held_out in enumerate(_held_out_confidences(cx, cy, cw, folds)):
        probabilities[folds == f] = 1.0 / (1.0 + np.exp(-held_out.logits(cx[folds == f])))
    # The threshold is set on citizens' wording (the eval train lines) and every out-of-scope line: the
    # generated questions are easier to be sure about than what citizens write.
    citizens = np.asarray([p.question.weight == EVAL_WEIGHT or p.question.out_of_scope for p in prepared])
    threshold = _threshold(probabilities[citizens], cy[citizens], np.ones(int(citizens.sum())))
    oos_mask = np.asarray(oos)
    confident = probabilities >= threshold
    fitted_on = {
        "questions": len(prepared),
        "eval_train_questions": int(sum(p.question.weight == EVAL_WEIGHT for p in prepared)),
        "confidence_on": f"out-of-fold rankings ({FOLDS} folds)",
        "out_of_scope": int(oos_mask.sum()),
        "top1_right_in_scope_out_of_fold": round(float(np.mean(top1)), 4),
        "confident_in_scope": round(float(confident[~oos_mask].mean()), 4),
        "precision_when_confident": round(float(cy[confident].mean()), 4) if confident.any() else None,
        "confident_out_of_scope": round(float(confident[oos_mask].mean()), 4) if oos_mask.any() else None,
    }
    return RerankerModel(asked=ranker.asked, ranker=ranker.trees, confidence=confidence, threshold=threshold,
                         fitted_on=fitted_on)


def _fit_confidence(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> Trees:
    return Trees.fit(CONFIDENCE_FEATURES, x, y, weights, **CONFIDENCE_TREES)


def _folds(prepared: list[Prepared]) -> np.ndarray:
    return np.asarray([p.number % FOLDS for p in prepared])


def _held_out_confidences(cx: np.ndarray, cy: np.ndarray, cw: np.ndarray, folds: np.ndarray) -> list[Trees]:
    """Per fold, the confidence fitted on the other folds' rows."""
    return [_fit_confidence(cx[folds != f], cy[folds != f], cw[folds != f]) for f in range(FOLDS)]


def _confidence_rows(prepared: list[Prepared], fold_rankers: list[Fold], records: list
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per prepared question, the confidence features of its out-of-fold ranking, whether that ranking's
    top is right, and the question's weight in the confidence fit."""
    rows, labels, weights = [], [], []
    for p in prepared:
        fold = fold_rankers[p.number % FOLDS]
        x = with_asked(p, fold.asked, records)
        logits = fold.trees.logits(x)
        features = confidence_features(logits, x, p.full, p.full.ranking.features["coverage"], p.candidates)
        rows.append([features[name] for name in CONFIDENCE_FEATURES])
        labels.append(int(bool(p.hits[int(np.argmax(logits))]) and not p.question.out_of_scope))
        generated_in_scope = p.question.weight != EVAL_WEIGHT and not p.question.out_of_scope
        weights.append(GENERATED_CONFIDENCE_WEIGHT if generated_in_scope else p.question.weight)
    return np.asarray(rows), np.asarray(labels), np.asarray(weights)


def out_of_fold_rankings(searcher: Searcher) -> dict[str, Ranking]:
    """The rankings a reranker trained as `train` trains it gives the eval train lines it did not see.

    Each fold's questions are ranked by trees fitted on the other folds (the trees `fit` fits for the
    confidence), and their confidence comes from confidence trees fitted on the other folds' out-of-fold rows
    (the committed confidence saw every row). The dialogue's answer-first thresholds are fitted on these:
    in-sample rankings of train lines are right more often than a new question's. Depends on the index
    and the training data, not on knowledge/data/reranker.json, so it stays valid when that is refitted.
    """
    from knowledge.catalogue import get_catalogue
    from knowledge.search import Searcher, reranked

    first_stage = Searcher(searcher.index, searcher.query_encoder, searcher.confidence, reranker=None)
    prepared = prepare(first_stage, training_questions(get_catalogue()))
    records = searcher.index.records
    fold_rankers = _fit_folds(prepared, records)
    cx, cy, cw = _confidence_rows(prepared, fold_rankers, records)
    result: dict[str, Ranking] = {}
    for f, confidence in enumerate(_held_out_confidences(cx, cy, cw, _folds(prepared))):
        for p in (p for p in prepared if p.number % FOLDS == f and p.question.weight == EVAL_WEIGHT):
            fold = fold_rankers[f]
            x = with_asked(p, fold.asked, records)
            result[p.question.q] = reranked(p.full, p.candidates, x, fold.trees.logits(x), confidence)
    return result


def train(output: Path = RERANKER_FILE) -> RerankerModel:
    import torch

    from knowledge.catalogue import load_catalogue
    from knowledge.embeddings import load_model
    from knowledge.index import build_index, load_index
    from knowledge.search import Searcher, load_confidence

    model = load_model()
    torch.set_num_threads(TRAINING_TORCH_THREADS)
    build_index(model=model)
    searcher = Searcher(load_index(), model, load_confidence(), reranker=None)
    result = fit(prepare(searcher, training_questions(load_catalogue())), searcher.index.records)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
    logger.info("reranker written to %s: %s", output, result.fitted_on)
    return result


def _threshold(probabilities: np.ndarray, right: np.ndarray, weights: np.ndarray) -> float:
    """The lowest threshold whose confident answers are right TARGET_PRECISION of the time (weighted)."""
    order = np.argsort(-probabilities, kind="stable")
    hits = np.cumsum(right[order] * weights[order])
    total = np.cumsum(weights[order])
    precise = np.nonzero(hits / total >= TARGET_PRECISION)[0]
    if precise.size == 0:
        return 0.99
    return max(0.5, float(probabilities[order[precise[-1]]]))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    train()
