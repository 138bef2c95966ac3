"""Search benchmark: quality (BM25 alone, dense alone, hybrid, reranked), latency, build time, memory.

Question sets: ../shared/eval/dev_questions.yaml (development, every line), eval/questions.yaml (short
questions) and eval/narrative_questions.yaml (narrative questions), both on their TEST split only
(knowledge.evalsets): the reranker and its confidence are trained on the train splits. Format:
`{q, codes}` (any listed code is a hit), `names` (regexes on the lower-cased procedure name),
`codes: []` = out of scope. Prints markdown tables. Environment: TTHC_BENCH_BUILD=0 skips the
timed full index build (then the last build's recorded time is shown).

    python -m benchmarks.search                # the test splits (the figures)
    python -m benchmarks.search --split train  # the train splits (what the reranker learnt from)
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from knowledge.config import get_settings
from knowledge.evalsets import NARRATIVE_SET, SHORT_SET, EvalQuestion, load_questions
from knowledge.normalize import has_diacritics
from knowledge.search import Mode, Ranking, Searcher, get_searcher

MODES: tuple[Mode, ...] = ("reranked", "hybrid", "bm25", "dense")
Question = EvalQuestion


def question_sets(split: str = "test") -> dict[str, tuple[Path, bool]]:
    """Name -> (file, one split only)."""
    settings = get_settings()
    return {
        "dev": (settings.shared_dir / "eval" / "dev_questions.yaml", False),
        f"short ({split} split)": (SHORT_SET, True),
        f"narrative ({split} split)": (NARRATIVE_SET, True),
    }


@dataclass
class Scores:
    n: int = 0
    hits1: int = 0
    hits5: int = 0
    rr: float = 0.0
    oos: int = 0
    oos_rejected: int = 0
    in_scope_confident: int = 0
    confident: int = 0
    confident_right: int = 0

    def add(self, question: Question, ranks_hit: int | None, confident: bool) -> None:
        self.confident += confident
        if question.out_of_scope:
            self.oos += 1
            self.oos_rejected += not confident
            return
        self.n += 1
        self.in_scope_confident += confident
        self.confident_right += confident and ranks_hit == 1
        if ranks_hit is not None:
            self.hits1 += ranks_hit == 1
            self.hits5 += ranks_hit <= 5
            self.rr += 1.0 / ranks_hit

    def row(self, label: str, with_confidence: bool) -> str:
        def ratio(a: float, b: int) -> str:
            return f"{a / b:.3f}" if b else "–"

        oos = f"{ratio(self.oos_rejected, self.oos)} ({self.oos})" if with_confidence else "–"
        confident = ratio(self.in_scope_confident, self.n) if with_confidence else "–"
        precision = ratio(self.confident_right, self.confident) if with_confidence else "–"
        return (
            f"| {label} | {self.n} | {ratio(self.hits1, self.n)} | {ratio(self.hits5, self.n)} "
            f"| {ratio(self.rr, self.n)} | {confident} | {precision} | {oos} |"
        )


def first_hit(searcher: Searcher, question: Question, order: list[int]) -> int | None:
    records = searcher.index.records
    for rank, i in enumerate(order[:50], 1):
        if question.is_hit(records[i].code, records[i].name):
            return rank
    return None


def rankings(searcher: Searcher, question: Question) -> dict[Mode, Ranking]:
    """The ranking of every mode for one question (the rankers' scores computed once)."""
    normalized = searcher.normalizer.normalize(question.q)
    dense, bm25 = searcher.scores(normalized, "hybrid")
    found: dict[Mode, Ranking] = {
        mode: searcher.fuse(normalized, dense, bm25, mode) for mode in ("hybrid", "bm25", "dense")
    }
    if searcher.reranker is not None:
        found["reranked"] = searcher.rerank(question.q)
    return found


def evaluate(searcher: Searcher, questions: list[Question]) -> dict[tuple[Mode, str], Scores]:
    table: dict[tuple[Mode, str], Scores] = {}
    for question in questions:
        split = "with diacritics" if has_diacritics(question.q) else "without diacritics"
        for mode, ranking in rankings(searcher, question).items():
            confident = searcher.is_confident(ranking) if mode in ("hybrid", "reranked") else False
            rank = first_hit(searcher, question, ranking.order)
            for part in ("all", split):
                table.setdefault((mode, part), Scores()).add(question, rank, confident)
    return table


def latency(searcher: Searcher, queries: list[str], rounds: int = 2) -> tuple[float, float]:
    """p50 and p95 of `search` over every question, each round in order (the searcher caches no
    query, so a repeated question costs what it cost the first time)."""
    for query in queries[:5]:
        searcher.search(query)
    timings = []
    for _ in range(rounds):
        for query in queries:
            started = time.perf_counter()
            searcher.search(query)
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[min(len(timings) - 1, int(0.95 * len(timings)))]


def timed_full_build() -> tuple[float, float] | None:
    """A full index build in a child process (fresh index dir): seconds and the child's peak RSS (MB)."""
    if os.environ.get("TTHC_BENCH_BUILD", "1") == "0":
        return None
    with tempfile.TemporaryDirectory(prefix="tthc-bench-index-") as tmp:
        env = dict(os.environ, TTHC_INDEX_DIR=str(Path(tmp) / "index"))
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "knowledge.cli", "index", "build", "--force"],
            env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak_mb


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.search", description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("test", "train"), default="test",
                        help="the eval sets' split to measure (default: test)")
    split = parser.parse_args(argv or []).split
    started = time.perf_counter()
    searcher = get_searcher()
    load_seconds = time.perf_counter() - started
    timed: dict[str, list[str]] = {"short": [], "narrative": []}
    for name, (path, one_split) in question_sets(split).items():
        if not path.is_file():
            print(f"\n(question set {name}: {path} not found, skipped)")
            continue
        questions = [q for q in load_questions(path) if q.split == split or not one_split]
        timed["narrative" if path == NARRATIVE_SET else "short"].extend(q.q for q in questions)
        table = evaluate(searcher, questions)
        print(f"\n### Search quality: {name} ({path.name}, {len(questions)} questions)\n")
        print("| ranker / questions | n | recall@1 | recall@5 | MRR | in-scope confident | "
              "confident answers right | out-of-scope not confident |")
        print("|---|---|---|---|---|---|---|---|")
        for mode in MODES:
            for part in ("all", "with diacritics", "without diacritics"):
                scores = table.get((mode, part))
                if scores:
                    print(scores.row(f"{mode}, {part}", with_confidence=mode in ("hybrid", "reranked")))
    load_before = os.getloadavg()[0]
    speeds = {kind: latency(searcher, queries) for kind, queries in timed.items() if queries}
    load_after = os.getloadavg()[0]
    search_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    build = timed_full_build()
    manifest = searcher.index.manifest
    mode = "reranked" if searcher.reranker else "hybrid"
    print("\n### Search speed and size\n")
    print("| measure | value |")
    print("|---|---|")
    print(f"| procedures indexed | {manifest.records} ({manifest.passages} dense passages) |")
    for kind, (p50, p95) in speeds.items():
        print(f"| warm query latency p50 / p95 ({mode}, {kind} questions, {len(timed[kind]) * 2} queries) | "
              f"{p50:.1f} ms / {p95:.1f} ms |")
    print(f"| machine load average (1 min) before / after the latency run | "
          f"{load_before:.1f} / {load_after:.1f} |")
    print(f"| searcher load (model + index) | {load_seconds:.1f} s |")
    print(f"| peak memory, search process | {search_peak_mb:.0f} MB |")
    if build:
        print(f"| full index build (fresh, child process) | {build[0]:.1f} s |")
        print(f"| peak memory, index build | {build[1]:.0f} MB |")
    else:
        print(f"| last index build ({manifest.embedded} of {manifest.passages} passages embedded) | "
              f"{manifest.build_seconds:.1f} s |")
    encoder = "TorchScript, frozen" if searcher.query_encoder.traced else "SentenceTransformer.encode"
    if searcher.query_encoder.saved:
        encoder += ", saved beside the index (no sentence-transformers)"
    print(f"| query encoder | {encoder} |")
    print(f"| CPU threads (torch) | {os.environ.get('TTHC_TORCH_THREADS', '1')} of {os.cpu_count()} |")


if __name__ == "__main__":
    main(sys.argv[1:])
