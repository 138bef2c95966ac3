"""The search index over every procedure: dense vectors (faiss) and BM25 (bm25s), saved to disk.

Files under `settings.index_dir`:
- `manifest.json`: what the index was built from (catalogue content hash, model, normalisation
  version); the index is rebuilt only when one of these changes.
- `records.json`: per procedure, its code, name, curated flag, level, whether citizens file it
  (knowledge.performers) and the unaccented words of its name and aliases, in index order.
- `dense.faiss` + `dense_rows.npy`: one vector per passage (each procedure's description, and each
  curated alias), inner product of L2-normalised vectors = cosine; rows map to procedures.
  `passages.json` + `dense_vectors.npy` keep the texts and vectors, so that a rebuild after a small
  catalogue change embeds only the passages whose text changed.
- `bm25/`: BM25 over unaccented syllables and syllable bigrams of name, aliases, summary, field, with
  the catalogue's own abbreviations spelt out ("sổ BHXH" reads as a question's "sổ bảo hiểm xã hội").
- `restore.json`: the diacritic-restoration table learned from the catalogue's text.
- `query_encoder.pt` + `query_encoder.json`: the model's transformer traced with TorchScript and what
  it was traced from (knowledge.embeddings), so that the search loads queries' encoder without
  sentence-transformers; rewritten when the model's fingerprint or torch changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from pydantic import BaseModel

from knowledge.config import get_settings
from knowledge.embeddings import model_identity, query_encoder_is_current
from knowledge.normalize import (
    ABBREVIATIONS_FILE,
    Abbreviations,
    DiacriticRestorer,
    default_abbreviations,
    document_words,
    expanded_document_words,
    restoration_texts,
)
from knowledge.schema import Procedure

if TYPE_CHECKING:
    import bm25s
    import faiss
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)
logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # it logs every CPU variant it tries

INDEX_FORMAT = 6  # bump when the tokens, record fields or file layout change
PASSAGE_FORMAT = 0  # bump when the dense passage text changes (old vectors are then not reused)
PASSAGE_BATCH = 32
PASSAGE_MAX_TOKENS = 64
MAX_PASSAGE_ALIASES = 12
INDEX_FILES = ("records.json", "dense.faiss", "dense_rows.npy", "bm25", "restore.json")


class CatalogueLike(Protocol):
    content_hash: str

    def __iter__(self): ...

    def __len__(self) -> int: ...


class RecordInfo(BaseModel):
    code: str
    name: str
    curated: bool
    commune_level: bool
    variant: bool = False  # its name extends another procedure's name: a special case of it
    level: str = "other"  # "commune", "province", "ministry" or "other": the lowest level that files it
    citizen: bool = True  # filed by citizens or households (not only by businesses, organisations, officials)
    name_words: list[str] = []  # unaccented words of the name (without "thủ tục"), for the reranker
    alias_words: list[list[str]] = []  # unaccented words of each alias


class Manifest(BaseModel):
    format: int
    passage_format: int = 0
    content_hash: str
    model: str
    normalisation: str
    records: int
    passages: int
    embedded: int = 0  # passages embedded by this build (the rest reused from the previous index)
    build_seconds: float
    built_at: float


@dataclass
class IndexInfo:
    records: int
    model: str
    state: str  # "built", "up to date" or "up to date, query encoder saved"
    seconds: float


# --- what gets indexed ------------------------------------------------------------------------------


def passage_text(procedure: Procedure) -> str:
    """The one passage that describes a procedure to the dense model: short, so the build stays fast."""
    parts = [procedure.name]
    if procedure.summary:
        parts.append(procedure.summary)
    if procedure.field:
        parts.append(f"Lĩnh vực: {procedure.field}")
    return ". ".join(part.strip().rstrip(".") for part in parts if part and part.strip())


def alias_passages(procedure: Procedure) -> list[str]:
    """Each alias as its own passage: citizens' wording matched to citizens' wording."""
    return [alias for alias in procedure.aliases[:MAX_PASSAGE_ALIASES] if alias.strip()]


def with_bigrams(tokens: list[str]) -> list[str]:
    return tokens + [f"{a}_{b}" for a, b in itertools.pairwise(tokens)]


def bm25_tokens(procedure: Procedure) -> list[str]:
    tokens: list[str] = []
    for text in (procedure.name, *procedure.aliases, procedure.summary or "", procedure.field or ""):
        tokens.extend(with_bigrams(expanded_document_words(text)))  # bigrams never span two texts
    return tokens


def catalogue_texts(procedures: Iterable[Procedure]) -> Iterable[tuple[str, float]]:
    """Catalogue text for the diacritic restorer: names and aliases count more than body text."""
    for p in procedures:
        yield p.name, 3.0
        for alias in p.aliases:
            yield alias, 3.0
        for text in (p.summary, p.field, p.audience):
            if text:
                yield text, 1.0
        for case in p.documents[:3]:
            for document in case.documents[:10]:
                yield document.name[:300], 1.0


def _core_name(name: str) -> tuple[str, ...]:
    words = document_words(name)
    while words[:2] == ["thu", "tuc"]:
        words = words[2:]
    return tuple(words)


def variant_flags(procedures: list[Procedure], min_words: int = 3) -> list[bool]:
    """True for a procedure whose name contains another procedure's whole name ("đăng ký khai sinh có
    yếu tố nước ngoài" contains "đăng ký khai sinh"): a special case, which should not win a tie
    against the general procedure when the question does not mention what makes it special."""
    cores = [_core_name(p.name) for p in procedures]
    known = {core for core in cores if len(core) >= min_words}
    flags = []
    for core in cores:
        spans = (
            core[i:j]
            for i in range(len(core))
            for j in range(i + min_words, len(core) + 1)
            if j - i < len(core)
        )
        flags.append(any(span in known for span in spans))
    return flags


def normalisation_version() -> str:
    digest = hashlib.sha256(ABBREVIATIONS_FILE.read_bytes())
    digest.update(f"format={INDEX_FORMAT}".encode())
    return digest.hexdigest()[:16]


def is_commune_level(procedure: Procedure) -> bool:
    return any("xã" in level.lower() for level in procedure.levels)


def level_of(procedure: Procedure) -> str:
    levels = " ".join(procedure.levels).lower()
    for word, level in (("xã", "commune"), ("tỉnh", "province"), ("bộ", "ministry")):
        if word in levels:
            return level
    return "other"


def record_info(procedure: Procedure, variant: bool) -> RecordInfo:
    from knowledge.performers import infer_performers, serves_citizens

    return RecordInfo(
        code=procedure.code, name=procedure.name, curated=procedure.curated,
        commune_level=is_commune_level(procedure), variant=variant, level=level_of(procedure),
        citizen=serves_citizens(infer_performers(procedure)),
        name_words=[w for w in expanded_document_words(procedure.name) if w not in ("thu", "tuc")],
        alias_words=[expanded_document_words(alias) for alias in procedure.aliases[:MAX_PASSAGE_ALIASES]],
    )


# --- building ----------------------------------------------------------------------------------


def _load_catalogue() -> CatalogueLike:
    from knowledge.catalogue import load_catalogue

    return load_catalogue()


def _read_manifest(index_dir: Path) -> Manifest | None:
    try:
        return Manifest.model_validate_json((index_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_current(index_dir: Path, content_hash: str, model: str) -> bool:
    manifest = _read_manifest(index_dir)
    return bool(
        manifest
        and manifest.format == INDEX_FORMAT
        and manifest.content_hash == content_hash
        and manifest.model == model_identity(model)
        and manifest.normalisation == normalisation_version()
        and all((index_dir / name).exists() for name in INDEX_FILES)
    )


def build_index(
    force: bool = False,
    catalogue: CatalogueLike | None = None,
    model: SentenceTransformer | None = None,
    model_name: str | None = None,
    index_dir: Path | None = None,
    progress: bool = True,
) -> IndexInfo:
    """Build the index unless the one on disk was built from the same catalogue and model."""
    started = time.perf_counter()
    settings = get_settings()
    index_dir = Path(index_dir or settings.index_dir)
    model_name = model_name or settings.embedding_model
    catalogue = catalogue if catalogue is not None else _load_catalogue()
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock(index_dir):  # a concurrent build of the same index waits, then finds it current
        if not force and is_current(index_dir, catalogue.content_hash, model_name):
            logger.info("index at %s is up to date", index_dir)
            state = "up to date"
            if not query_encoder_is_current(index_dir, model_name):
                from knowledge.embeddings import load_model, save_query_encoder

                if save_query_encoder(model or load_model(model_name), index_dir, model_name):
                    state += ", query encoder saved"
            return IndexInfo(len(catalogue), model_name, state, time.perf_counter() - started)
        return _build(catalogue, model, model_name, index_dir, progress, started)


@contextlib.contextmanager
def _build_lock(index_dir: Path):
    import fcntl

    with open(index_dir.with_name(index_dir.name + ".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(
    catalogue: CatalogueLike,
    model: SentenceTransformer | None,
    model_name: str,
    index_dir: Path,
    progress: bool,
    started: float,
) -> IndexInfo:
    from knowledge.embeddings import load_model, save_query_encoder

    procedures = list(catalogue)
    if not procedures:
        raise ValueError("the catalogue is empty: nothing to index")
    model = model or load_model(model_name)
    staging = index_dir.with_name(f"{index_dir.name}.building-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)

    variants = variant_flags(procedures)
    records = [record_info(p, variant) for p, variant in zip(procedures, variants, strict=True)]
    (staging / "records.json").write_text(
        json.dumps([r.model_dump() for r in records], ensure_ascii=False), encoding="utf-8"
    )

    abbreviations = default_abbreviations()
    _build_restorer(procedures, abbreviations).save(staging / "restore.json")
    _build_bm25(procedures).save(str(staging / "bm25"))
    reuse = _previous_vectors(index_dir, model_name)
    passages, embedded = _build_dense(procedures, model, staging, progress, reuse)
    save_query_encoder(model, staging, model_name)

    manifest = Manifest(
        format=INDEX_FORMAT,
        passage_format=PASSAGE_FORMAT,
        content_hash=catalogue.content_hash,
        model=model_identity(model_name),
        normalisation=normalisation_version(),
        records=len(records),
        passages=passages,
        embedded=embedded,
        build_seconds=round(time.perf_counter() - started, 2),
        built_at=time.time(),
    )
    (staging / "manifest.json").write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    retired = index_dir.with_name(f"{index_dir.name}.old-{os.getpid()}")
    if index_dir.exists():
        index_dir.rename(retired)
    staging.rename(index_dir)
    shutil.rmtree(retired, ignore_errors=True)
    logger.info("index built: %d procedures, %d passages in %.1f s", len(records), passages,
                manifest.build_seconds)
    return IndexInfo(len(records), model_name, "built", manifest.build_seconds)


def _build_restorer(procedures: list[Procedure], abbreviations: Abbreviations) -> DiacriticRestorer:
    return DiacriticRestorer.build(restoration_texts(catalogue_texts(procedures), abbreviations))


def _build_bm25(procedures: list[Procedure]) -> bm25s.BM25:
    import bm25s

    corpus = [bm25_tokens(p) or ["_"] for p in procedures]
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    return retriever


def _previous_vectors(index_dir: Path, model_name: str) -> dict[str, np.ndarray]:
    """Vectors of the index being replaced, by passage text, when built with the same model."""
    manifest = _read_manifest(index_dir)
    stale = manifest is None or manifest.model != model_identity(model_name)
    if stale or manifest.passage_format != PASSAGE_FORMAT:
        return {}
    try:
        texts = json.loads((index_dir / "passages.json").read_text(encoding="utf-8"))
        vectors = np.load(index_dir / "dense_vectors.npy")
    except (OSError, ValueError):
        return {}
    if len(texts) != len(vectors):
        return {}
    return dict(zip(texts, vectors, strict=True))


def _build_dense(
    procedures: list[Procedure],
    model: SentenceTransformer,
    target: Path,
    progress: bool,
    reuse: dict[str, np.ndarray],
) -> tuple[int, int]:
    import faiss
    from tqdm import tqdm

    from knowledge.embeddings import encode_passages

    texts: list[str] = []
    rows: list[int] = []
    for i, procedure in enumerate(procedures):
        for text in (passage_text(procedure), *alias_passages(procedure)):
            texts.append(text)
            rows.append(i)
    vectors = np.zeros((len(texts), model.get_embedding_dimension() or 384), dtype=np.float32)
    missing = []
    for j, text in enumerate(texts):
        if text in reuse:
            vectors[j] = reuse[text]
        else:
            missing.append(j)
    if len(missing) < len(texts):
        logger.info("reusing %d passage vectors; embedding %d", len(texts) - len(missing), len(missing))
    # Shortest first keeps padding low; long passages are cut at PASSAGE_MAX_TOKENS.
    missing.sort(key=lambda j: len(texts[j]))
    max_length = model.max_seq_length
    model.max_seq_length = min(max_length or PASSAGE_MAX_TOKENS, PASSAGE_MAX_TOKENS)
    try:
        with tqdm(total=len(missing), desc="index: embedding", unit="passage", disable=not progress) as bar:
            for start in range(0, len(missing), PASSAGE_BATCH * 4):
                chunk = missing[start : start + PASSAGE_BATCH * 4]
                vectors[chunk] = encode_passages(model, [texts[j] for j in chunk], batch_size=PASSAGE_BATCH)
                bar.update(len(chunk))
    finally:
        model.max_seq_length = max_length
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    faiss.write_index(index, str(target / "dense.faiss"))
    np.save(target / "dense_rows.npy", np.asarray(rows, dtype=np.int32))
    np.save(target / "dense_vectors.npy", vectors)
    (target / "passages.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    return len(texts), len(missing)


# --- loading -----------------------------------------------------------------------------------


@dataclass
class LoadedIndex:
    manifest: Manifest
    records: list[RecordInfo]
    dense: faiss.Index
    dense_rows: np.ndarray
    bm25: bm25s.BM25
    restorer: DiacriticRestorer


def load_index(index_dir: Path | None = None) -> LoadedIndex:
    import bm25s
    import faiss

    index_dir = Path(index_dir or get_settings().index_dir)
    manifest = _read_manifest(index_dir)
    if manifest is None:
        raise FileNotFoundError(f"no search index at {index_dir}: run `tthc index build`")
    records = [
        RecordInfo.model_validate(r)
        for r in json.loads((index_dir / "records.json").read_text(encoding="utf-8"))
    ]
    return LoadedIndex(
        manifest=manifest,
        records=records,
        dense=faiss.read_index(str(index_dir / "dense.faiss")),
        dense_rows=np.load(index_dir / "dense_rows.npy"),
        bm25=bm25s.BM25.load(str(index_dir / "bm25")),
        restorer=DiacriticRestorer.load(index_dir / "restore.json"),
    )
