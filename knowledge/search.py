"""Hybrid search: dense (e5 + faiss) and BM25 rankings fused by reciprocal rank, reranked, plus a confidence.

`search(query)` normalises the question (knowledge.normalize), ranks every procedure both ways, fuses
the two rankings with reciprocal-rank fusion and a small general prior (curated citizen records and
commune-level procedures first when the evidence ties). For a long message it does so twice, for the
whole text and for its asking clause (knowledge.query), and a trained second stage (knowledge.rerank,
knowledge/data/reranker.json) reorders the top candidates of both and says whether the top answer is
confident. Without the reranker file, the hybrid ranking and the confidence model of
knowledge/data/confidence.json (`python -m knowledge.calibrate`) answer.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import threading
import types
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, Field

from knowledge.config import get_settings
from knowledge.normalize import NormalizedText, Normalizer, default_abbreviations

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from knowledge.embeddings import QueryEncoder
    from knowledge.index import LoadedIndex
    from knowledge.rerank import RerankerModel, Trees, View

logger = logging.getLogger(__name__)

CONFIDENCE_FILE = Path(__file__).with_name("data") / "confidence.json"
Mode = Literal["reranked", "hybrid", "dense", "bm25"]
MAX_TOP_K = 50


class FusionParams(BaseModel):
    rrf_k: float = 10.0
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    curated_prior: float = 0.01
    commune_prior: float = 0.004
    variant_penalty: float = 0.01
    depth: int = 60


class ConfidenceModel(BaseModel):
    """Logistic model over the features of `Features.vector`, fitted by knowledge.calibrate."""

    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    threshold: float = 0.5
    fusion: FusionParams = Field(default_factory=FusionParams)
    fitted_on: dict = Field(default_factory=dict)

    def probability(self, values: dict[str, float]) -> float:
        x = np.array([values[name] for name in self.features], dtype=np.float64)
        z = float(np.dot((x - self.mean) / self.scale, self.coef) + self.intercept)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


class SearchHit(BaseModel):
    code: str
    name: str
    score: float


class SearchResponse(BaseModel):
    query: str
    confident: bool
    results: list[SearchHit]


@dataclass
class Ranking:
    """One query's ranking with everything the confidence model and the benchmark need."""

    normalized: NormalizedText
    order: list[int]  # record indices, best first
    scores: list[float]
    features: dict[str, float]
    probability: float | None = None  # the reranker's confidence that the first result is right


FEATURES = ["fused_top", "fused_margin", "dense_top", "dense_margin", "bm25_top", "bm25_margin",
            "coverage", "agree", "query_words"]


def _top_two(values: np.ndarray) -> tuple[float, float]:
    if values.size == 0:
        return 0.0, 0.0
    if values.size == 1:
        return float(values[0]), 0.0
    top = np.partition(values, -2)[-2:]
    return float(top[1]), float(top[0])


class Searcher:
    def __init__(self, index: LoadedIndex, model: SentenceTransformer | QueryEncoder,
                 confidence: ConfidenceModel | None = None, reranker: RerankerModel | None = None) -> None:
        """`model`: the embedding model, or its query encoder (`load_query_encoder`)."""
        from knowledge.embeddings import QueryEncoder

        self.index = index
        self.query_encoder = model if isinstance(model, QueryEncoder) else QueryEncoder(model)
        self.normalizer = Normalizer(default_abbreviations(), index.restorer)
        self.confidence = confidence
        self.fusion = confidence.fusion if confidence else FusionParams()
        self.reranker = reranker
        self._encode_lock = threading.Lock()
        records = index.records
        self._curated = np.array([r.curated for r in records], dtype=np.float32)
        self._commune = np.array([r.commune_level for r in records], dtype=np.float32)
        self._variant = np.array([r.variant for r in records], dtype=np.float32)
        self._vocab = index.bm25.vocab_dict

    # --- the two rankers ---
    def dense_scores(self, text: str) -> np.ndarray:
        """Per procedure: the best cosine over its passages (0 for those outside the top rows)."""
        with self._encode_lock:
            vector = self.query_encoder.encode(text or " ")
        rows = min(self.index.dense.ntotal, self.fusion.depth * 4)
        sims, ids = self.index.dense.search(vector, rows)
        scores = np.zeros(len(self.index.records), dtype=np.float32)
        owners = self.index.dense_rows[ids[0][ids[0] >= 0]]
        np.maximum.at(scores, owners, sims[0][: owners.size])
        return scores

    def bm25_scores(self, tokens: list[str]) -> np.ndarray:
        from knowledge.index import with_bigrams

        ids = [self._vocab[t] for t in with_bigrams(tokens) if t in self._vocab]
        if not ids:
            return np.zeros(len(self.index.records), dtype=np.float32)
        return np.asarray(self.index.bm25.get_scores(ids), dtype=np.float32)

    # --- fusion ---
    def scores(self, normalized: NormalizedText, mode: Mode = "hybrid") -> tuple[np.ndarray, np.ndarray]:
        """Dense and BM25 score of every procedure (zeros for the ranker a mode leaves out)."""
        n = len(self.index.records)
        if not normalized.unaccented:
            return np.zeros(n, np.float32), np.zeros(n, np.float32)
        dense = self.dense_scores(normalized.text) if mode != "bm25" else np.zeros(n, np.float32)
        bm25 = self.bm25_scores(normalized.unaccented) if mode != "dense" else np.zeros(n, np.float32)
        return dense, bm25

    def fuse(self, normalized: NormalizedText, dense: np.ndarray, bm25: np.ndarray, mode: Mode = "hybrid",
             fusion: FusionParams | None = None) -> Ranking:
        fusion = fusion or self.fusion
        if not normalized.unaccented:
            return Ranking(normalized, [], [], dict.fromkeys(FEATURES, 0.0))
        prior = (
            fusion.curated_prior * self._curated
            + fusion.commune_prior * self._commune
            - fusion.variant_penalty * self._variant
        )
        if mode == "dense":
            fused = dense + prior * 0.1
        elif mode == "bm25":
            fused = bm25 / (1.0 + bm25.max()) + prior * 0.1
        else:
            fused = prior.copy()
            for scores, weight in ((dense, fusion.dense_weight), (bm25, fusion.bm25_weight)):
                top = np.argsort(-scores, kind="stable")[: fusion.depth]
                top = top[scores[top] > 0]
                fused[top] += weight / (fusion.rrf_k + 1.0 + np.arange(top.size))
        order = np.argsort(-fused, kind="stable")[:MAX_TOP_K]
        words = normalized.unaccented
        known = sum(1 for t in words if t in self._vocab)
        fused_top, fused_second = _top_two(fused)
        dense_top, dense_second = _top_two(dense)
        bm25_top, bm25_second = _top_two(bm25)
        features = {
            "fused_top": fused_top,
            "fused_margin": fused_top - fused_second,
            "dense_top": dense_top,
            "dense_margin": dense_top - dense_second,
            "bm25_top": bm25_top / (1.0 + len(words)),
            "bm25_margin": (bm25_top - bm25_second) / (1.0 + bm25_top),
            "coverage": known / len(words),
            "agree": float(mode == "hybrid" and int(np.argmax(dense)) == int(np.argmax(bm25))),
            "query_words": float(min(len(words), 30)),
        }
        return Ranking(normalized, [int(i) for i in order], [float(fused[i]) for i in order], features)

    def views(self, query: str) -> tuple[View, View]:
        """The whole message and its asking clause, each normalised and ranked (one view if short)."""
        from knowledge.query import asking_clause
        from knowledge.rerank import View

        normalized = self.normalizer.normalize(query)
        dense, bm25 = self.scores(normalized)
        full = View(normalized, dense, bm25, self.fuse(normalized, dense, bm25), self.index.records)
        clause = asking_clause(query)
        if clause == " ".join(query.split()):
            return full, full
        normalized = self.normalizer.normalize(clause)
        dense, bm25 = self.scores(normalized)
        return full, View(normalized, dense, bm25, self.fuse(normalized, dense, bm25), self.index.records)

    def rerank(self, query: str) -> Ranking:
        from knowledge.rerank import candidate_features

        assert self.reranker is not None
        full, ask = self.views(query)
        candidates, rows = candidate_features(self, full, ask, self.reranker.candidates, self.reranker.asked)
        if not candidates:
            return full.ranking
        return reranked(full, candidates, rows, self.reranker.ranker.logits(rows), self.reranker.confidence)

    def rank(self, query: str, mode: Mode | None = None) -> Ranking:
        mode = mode or ("reranked" if self.reranker else "hybrid")
        if mode == "reranked" and self.reranker is not None:
            return self.rerank(query)
        normalized = self.normalizer.normalize(query)
        mode = "hybrid" if mode == "reranked" else mode
        dense, bm25 = self.scores(normalized, mode)
        return self.fuse(normalized, dense, bm25, mode)

    def is_confident(self, ranking: Ranking) -> bool:
        if not ranking.order:
            return False
        if ranking.probability is not None and self.reranker is not None:
            exact = ranking.features.get("rerank_exact") == 1.0  # typed the procedure's name or an alias
            return exact or ranking.probability >= self.reranker.threshold
        if self.confidence is None:  # uncalibrated: a cautious fixed rule
            return ranking.features["dense_top"] >= 0.88 and ranking.features["agree"] == 1.0
        return self.confidence.probability(ranking.features) >= self.confidence.threshold

    def search(self, query: str, top_k: int = 5) -> SearchResponse:
        query = "" if query is None else str(query)
        top_k = max(1, min(int(top_k), MAX_TOP_K))
        ranking = self.rank(query)
        records = self.index.records
        results = [
            SearchHit(code=records[i].code, name=records[i].name, score=round(score, 6))
            for i, score in zip(ranking.order[:top_k], ranking.scores[:top_k], strict=False)
        ]
        return SearchResponse(query=query, confident=self.is_confident(ranking), results=results)

    def probability(self, ranking: Ranking) -> float | None:
        """The probability that the ranking's first result is right (None when uncalibrated or empty)."""
        if ranking.probability is not None or not ranking.order:
            return ranking.probability
        return self.confidence.probability(ranking.features) if self.confidence else None


def reranked(full: View, candidates: list[int], rows: np.ndarray, logits: np.ndarray, confidence: Trees
             ) -> Ranking:
    """The ranking the reranker's logits give the candidates, with its confidence (the search's own, and
    the out-of-fold rankings of knowledge.rerank, made by trees and confidence that did not see them)."""
    from knowledge.rerank import confidence_features, sigmoid

    order = np.argsort(-logits, kind="stable")
    chosen = [candidates[j] for j in order]
    rest = [i for i in full.ranking.order if i not in set(chosen)]
    features = confidence_features(logits, rows, full, full.ranking.features["coverage"], candidates)
    probability = sigmoid(float(confidence.logits(np.array([[features[n] for n in confidence.features]]))[0]))
    scores = [sigmoid(float(logits[j])) for j in order] + [0.0] * len(rest)
    return Ranking(full.normalized, (chosen + rest)[:MAX_TOP_K], scores[:MAX_TOP_K],
                   {**full.ranking.features, **{f"rerank_{k}": v for k, v in features.items()}},
                   probability=probability)


def load_reranker() -> RerankerModel | None:
    from knowledge.rerank import load_reranker as load

    return load()


def load_confidence(path: Path = CONFIDENCE_FILE) -> ConfidenceModel | None:
    try:
        return ConfidenceModel.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        logger.warning("no confidence calibration at %s; using a cautious fixed rule", path)
        return None


_searcher: Searcher | None = None
_searcher_lock = threading.Lock()


def get_searcher() -> Searcher:
    """The process-wide searcher, loaded on first use (index built first if missing or stale).

    With a current index, queries are encoded by the trace saved beside it; the sentence-transformers
    model is loaded only to build the index or when that trace is missing or stale."""
    global _searcher
    if _searcher is None:
        with _searcher_lock:
            if _searcher is None:
                from knowledge.catalogue import get_catalogue
                from knowledge.embeddings import QueryEncoder, load_model, load_query_encoder
                from knowledge.index import build_index, is_current, load_index

                settings = get_settings()
                model_name, index_dir = settings.embedding_model, settings.index_dir
                # The process's catalogue (the actions read it too), not a second copy for the check.
                catalogue = get_catalogue()
                encoder = None
                if is_current(index_dir, catalogue.content_hash, model_name):
                    # The saved trace: neither sentence-transformers nor transformers is imported.
                    encoder = load_query_encoder(index_dir, model_name)
                if encoder is None:
                    model = load_model(model_name)
                    build_index(catalogue=catalogue, model=model, progress=False)  # saves the trace too
                    encoder = load_query_encoder(index_dir, model_name) or QueryEncoder(model)
                _searcher = Searcher(load_index(index_dir), encoder, load_confidence(), load_reranker())
    return _searcher


def ready() -> bool:
    """True once the searcher is loaded (for /healthz); never triggers loading."""
    return _searcher is not None


def search(query: str, top_k: int = 5) -> SearchResponse:
    return get_searcher().search(query, top_k=top_k)


class _CallableModule(types.ModuleType):
    """`knowledge.search(...)` must keep working after `import knowledge.search` has replaced the
    package attribute (the function in knowledge/__init__.py) with this module."""

    def __call__(self, query: str, top_k: int = 5) -> SearchResponse:
        return search(query, top_k=top_k)


sys.modules[__name__].__class__ = _CallableModule
