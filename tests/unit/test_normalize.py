"""Normalisation of citizens' questions: cleaning, abbreviations, diacritic restoration."""

from __future__ import annotations

import pytest

from knowledge.normalize import (
    AbbreviationEntry,
    AbbreviationFile,
    Abbreviations,
    DiacriticRestorer,
    Normalizer,
    clean,
    default_abbreviations,
    document_words,
    has_diacritics,
    restoration_texts,
    strip_accents,
    underthesea_wordlist,
    words,
)

CATALOGUE_SAMPLE = [
    ("Thủ tục đăng ký khai sinh", 3.0),
    ("Đăng ký khai sinh có yếu tố nước ngoài", 3.0),
    ("Cấp giấy xác nhận tình trạng hôn nhân", 3.0),
    ("Cấp đổi thẻ căn cước khi đủ 25 tuổi", 3.0),
    ("Cấp lại thẻ căn cước khi bị mất", 3.0),
    ("Đăng ký thường trú", 3.0),
    ("Cấp phiếu lý lịch tư pháp số 2", 3.0),
    ("Cấp giấy chứng nhận quyền sử dụng đất lần đầu", 3.0),
]


@pytest.fixture(scope="module")
def abbreviations() -> Abbreviations:
    return default_abbreviations()


@pytest.fixture(scope="module")
def normalizer(abbreviations: Abbreviations) -> Normalizer:
    restorer = DiacriticRestorer.build(restoration_texts(CATALOGUE_SAMPLE, abbreviations))
    return Normalizer(abbreviations, restorer)


def test_strip_accents_covers_vietnamese_letters() -> None:
    assert strip_accents("Đăng ký khai sinh ở đâu") == "Dang ky khai sinh o dau"
    assert strip_accents("ỨỪỬỮỰ ữ ậ ỷ") == "UUUUU u a y"
    assert strip_accents("cccd 2025") == "cccd 2025"
    # decomposed input (combining marks) loses its marks too
    assert strip_accents("ho\u0302\u0323") == "ho"


def test_has_diacritics() -> None:
    assert has_diacritics("khai sinh ở đâu")
    assert not has_diacritics("lam khai sinh o dau")


def test_clean_applies_nfc_tone_placement_lowercase_and_drops_control_characters() -> None:
    decomposed = "Hoa\u0300 gia\u0309i"  # NFD input; 'hoà' with the old tone placement
    assert clean("  Thủ tục  HOÀ giải\x00\x07 ") == "thủ tục hòa giải"
    assert clean(decomposed) == clean("Hoà giải")
    assert clean("") == ""
    assert clean("\x00\x01\n\t") == ""
    assert len(clean("a" * 50_000)) <= 1000


def test_cleaning_and_sentences_do_not_import_transformers_through_underthesea() -> None:
    import json
    import os
    import subprocess
    import sys

    from knowledge.config import PROJECT_ROOT

    script = (
        "import json, sys\n"
        "from knowledge.normalize import clean\n"
        "from knowledge.query import sentences\n"
        "cleaned, split = clean('Hoà Bình'), sentences('Tôi mất CCCD. Làm lại ở đâu?')\n"
        "heavy = 'transformers' in sys.modules\n"
        "import underthesea.pipeline.translate\n"  # still importable by name, when one wants it
        "print(json.dumps([cleaned, split, heavy]))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    cleaned, split, heavy = json.loads(done.stdout.splitlines()[-1])
    assert (cleaned, split) == ("hòa bình", ["Tôi mất CCCD.", "Làm lại ở đâu?"])
    assert not heavy


def test_words_drop_punctuation() -> None:
    assert words(clean("Mất CCCD, làm lại ở đâu???")) == ["mất", "cccd", "làm", "lại", "ở", "đâu"]
    assert document_words("Cấp đổi thẻ Căn cước") == ["cap", "doi", "the", "can", "cuoc"]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("mất cccd làm lại", "mất thẻ căn cước làm lại"),
        ("mat cccd lam lai", "mat thẻ căn cước lam lai"),
        ("đổi cmnd sang căn cước", "đổi thẻ căn cước sang căn cước"),
        ("cấp lại bằng lái", "cấp lại giấy phép lái xe"),
        ("đổi GPLX hết hạn", "đổi giấy phép lái xe hết hạn"),
        ("xin lltp", "xin phiếu lý lịch tư pháp"),
        ("dang ky mst ca nhan", "dang ky mã số thuế ca nhan"),
        ("làm passport", "làm hộ chiếu phổ thông"),
        ("thẻ bhyt cho bé", "thẻ bảo hiểm y tế cho bé"),
        ("rút bhxh", "rút bảo hiểm xã hội"),
        ("xin giấy chứng tử cho bố", "xin đăng ký khai tử cho bố"),
        ("xin xác nhận độc thân", "xin xác nhận tình trạng hôn nhân"),
        ("nộp ở ủy ban huyện", "nộp ở cấp xã"),
    ],
)
def test_abbreviations_are_replaced_by_catalogue_terms(
    abbreviations: Abbreviations, question: str, expected: str
) -> None:
    assert " ".join(abbreviations.expand(words(clean(question)))) == expected


@pytest.mark.parametrize(
    ("question", "must_contain"),
    [
        ("làm sổ đỏ lần đầu", "sổ đỏ giấy chứng nhận quyền sử dụng đất"),
        ("so hong bi mat", "sổ hồng giấy chứng nhận quyền sử dụng đất"),
        ("chuyển hộ khẩu về quê", "chuyển hộ khẩu đăng ký thường trú"),
        ("nhap khau cho con", "nhập khẩu đăng ký thường trú"),
        ("cắt khẩu khi đi nước ngoài", "xóa đăng ký thường trú"),
        ("thi bằng B ở đâu", "thi bằng b giấy phép lái xe ở đâu"),
        ("thi bang b2", "bằng b2 giấy phép lái xe"),
        ("len tho cu can gi", "lên thổ cư chuyển mục đích sử dụng đất"),
    ],
)
def test_slang_kept_beside_the_catalogue_term(
    abbreviations: Abbreviations, question: str, must_contain: str
) -> None:
    assert must_contain in " ".join(abbreviations.expand(words(clean(question))))


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("tctn duoc bao lau", "trợ cấp thất nghiệp duoc bao lau"),
        ("đóng bhtn", "đóng bảo hiểm thất nghiệp"),
        ("xin gp ld cho nguoi nuoc ngoai", "xin giấy phép lao động cho nguoi nuoc ngoai"),
        ("gia hạn gplđ", "gia hạn giấy phép lao động"),
        ("gp xd nha o", "giấy phép xây dựng nha o"),
        ("mất blx", "mất giấy phép lái xe"),
        ("bang lai oto", "giấy phép lái xe ô tô"),
        ("đổi bằng hạng A1", "đổi giấy phép lái xe hạng a1"),
        ("dang ky hkd", "dang ky hộ kinh doanh"),
        ("gp kd ho ca the", "đăng ký kinh doanh ho ca the"),
        ("thanh lập công ty tnhh", "thanh lập công ty trách nhiệm hữu hạn"),
        ("mat qsd dat", "mat quyền sử dụng dat"),
        ("lam dkx xe may", "lam đăng ký xe xe may"),
        ("tro cap btxh", "tro cap bảo trợ xã hội"),
        ("che do ncc", "che do người có công"),
        ("rut bhxh 1 lan", "hưởng bảo hiểm xã hội một lần"),
        ("mat so bh", "mat sổ bảo hiểm xã hội"),
        ("lam gks cho con", "lam giấy khai sinh cho con"),
        ("ho so di nghia vu", "ho so nghĩa vụ quân sự"),
    ],
)
def test_citizens_shorthand_is_spelt_out(abbreviations: Abbreviations, question: str, expected: str) -> None:
    assert " ".join(abbreviations.expand(words(clean(question)))) == expected


def test_short_shorthand_needs_its_own_word(abbreviations: Abbreviations) -> None:
    # "bằng" alone (a diploma, or "by") and a licence class letter inside a word stay as typed
    assert abbreviations.expand(["bằng", "tốt", "nghiệp"]) == ["bằng", "tốt", "nghiệp"]
    assert abbreviations.expand(["bằng", "b2x"]) == ["bằng", "b2x"]
    assert abbreviations.expand(["gpkdx", "tctnn"]) == ["gpkdx", "tctnn"]


def test_abbreviations_match_whole_words_only(abbreviations: Abbreviations) -> None:
    assert abbreviations.expand(["cccdx", "mstt"]) == ["cccdx", "mstt"]
    # a term typed with different accents is a different word: 'sơ đồ' (diagram) is not 'sổ đỏ'
    assert abbreviations.expand(["sơ", "đồ"]) == ["sơ", "đồ"]


def test_abbreviation_file_is_validated() -> None:
    with pytest.raises(ValueError):
        AbbreviationFile.model_validate({"entries": [{"kind": "nickname", "terms": ["x"], "means": "y"}]})
    with pytest.raises(ValueError):
        AbbreviationFile.model_validate({"entries": [{"kind": "slang", "terms": [], "means": "y"}]})


def test_underthesea_wordlist_is_found() -> None:
    wordlist = underthesea_wordlist()
    assert len(wordlist) > 50_000
    assert {"làm", "khai sinh", "hộ chiếu"} <= set(wordlist)


@pytest.mark.parametrize(
    ("typed", "restored"),
    [
        ("lam giay khai sinh cho be o dau", "làm giấy khai sinh cho bé ở đâu"),
        ("xin giay xac nhan tinh trang hon nhan", "xin giấy xác nhận tình trạng hôn nhân"),
        ("doi the can cuoc khi du 25 tuoi", "đổi thẻ căn cước khi đủ 25 tuổi"),
        ("cap phieu ly lich tu phap so 2", "cấp phiếu lý lịch tư pháp số 2"),
        ("dang ky thuong tru cho con", "đăng ký thường trú cho con"),
    ],
)
def test_diacritics_are_restored(normalizer: Normalizer, typed: str, restored: str) -> None:
    result = normalizer.normalize(typed)
    assert result.text == restored
    assert not result.typed_with_diacritics
    assert result.unaccented == typed.split()


def test_restoration_keeps_typed_accents_and_unknown_words(normalizer: Normalizer) -> None:
    # a word typed with accents constrains the choice and is never changed
    assert normalizer.normalize("đăng ky khai sinh").text == "đăng ký khai sinh"
    assert normalizer.normalize("khai sinh qwzx vneidx").text == "khai sinh qwzx vneidx"
    assert normalizer.normalize("Thủ tục đăng ký khai sinh").typed_with_diacritics


def test_restorer_round_trips_through_json(tmp_path, normalizer: Normalizer) -> None:
    restorer = normalizer.restorer
    assert restorer is not None
    path = tmp_path / "restore.json"
    restorer.save(path)
    loaded = DiacriticRestorer.load(path)
    tokens = ["lam", "giay", "khai", "sinh"]
    assert loaded.restore(tokens) == restorer.restore(tokens)
    assert loaded.table == restorer.table
    assert loaded.forms("khai sinh")[0] == ("khai sinh", restorer.forms("khai sinh")[0][1])
    assert loaded.forms("qwzx") == []
    again = tmp_path / "again.json"
    loaded.save(again)
    assert again.read_bytes() == path.read_bytes()


@pytest.mark.parametrize("garbage", ["", "   ", "\x00\x01", "???!!!", "😀😀", "a" * 20_000, "\udcff"])
def test_garbage_does_not_crash(normalizer: Normalizer, garbage: str) -> None:
    result = normalizer.normalize(garbage)
    assert isinstance(result.text, str)
    assert len(result.unaccented) <= 1000


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # an import, not hộ khẩu: the words around "nhập khẩu" say so
        ("đăng ký xe ô tô nhập khẩu", "đăng ký xe ô tô nhập khẩu"),
        ("thủ tục nhập khẩu xe máy cũ", "thủ tục nhập khẩu xe máy cũ"),
        ("nộp thuế nhập khẩu", "nộp thuế nhập khẩu"),
        ("giấy phép xuất nhập khẩu", "giấy phép xuất nhập khẩu"),
        ("trích lục bản đồ địa chính", "trích lục bản đồ địa chính"),
        ("làm biển số nhà", "làm biển số nhà"),
        # and where nothing around says otherwise, the list still applies
        ("nhập khẩu cho con về nhà ông bà", "nhập khẩu đăng ký thường trú cho con về nhà ông bà"),
        ("xin trích lục kết hôn", "xin trích lục cấp bản sao trích lục hộ tịch kết hôn"),
        ("mất biển số xe", "mất biển số biển số xe xe"),
    ],
)
def test_a_term_is_left_as_typed_where_its_context_means_something_else(
    abbreviations: Abbreviations, question: str, expected: str
) -> None:
    assert " ".join(abbreviations.expand(words(clean(question)))) == expected


def test_context_exceptions_match_unaccented_words_too() -> None:
    entry = AbbreviationEntry(
        kind="outdated", terms=["nhập khẩu"], means="đăng ký thường trú",
        not_after=["ô tô"], not_before=["xe"],
    )
    expander = Abbreviations(AbbreviationFile(entries=[entry]))
    assert expander.expand(words(clean("o to nhap khau"))) == ["o", "to", "nhap", "khau"]
    assert expander.expand(words(clean("nhap khau xe"))) == ["nhap", "khau", "xe"]
    assert expander.expand(words(clean("nhap khau cho be"))) == ["đăng", "ký", "thường", "trú", "cho", "be"]
