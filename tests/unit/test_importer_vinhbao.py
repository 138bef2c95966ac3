"""The Vĩnh Bảo handbook importer on its real records: each PDF-extraction defect is repaired."""

from __future__ import annotations

import json
import unicodedata
from functools import cache

import pytest

from knowledge.config import get_settings
from knowledge.importers import vinhbao
from knowledge.importers.common import ImportedRecord
from knowledge.schema import ChannelKind, TimeUnit

DATA = get_settings().data_dir
HANDBOOK = vinhbao.handbook_file(DATA)

pytestmark = pytest.mark.skipif(not HANDBOOK.is_file(), reason="needs ../shared/data/procedures-vinhbao")


@cache
def records() -> dict[str, ImportedRecord]:
    return {record.procedure.code: record for record in vinhbao.load_file(HANDBOOK)}


@cache
def raw(code: str) -> dict:
    return next(r for r in json.loads(HANDBOOK.read_text(encoding="utf-8")) if r["code"] == code)


def all_text(record: ImportedRecord) -> str:
    return record.procedure.model_dump_json()


def test_every_record_is_imported_at_commune_level_with_the_handbook_as_source() -> None:
    assert len(records()) == 51
    pension = records()["1.014027"].procedure
    assert pension.name == "Thực hiện, điều chỉnh, thôi hưởng trợ cấp hưu trí xã hội"
    assert pension.levels == ["Cấp xã"]
    assert pension.source.origin == "vinhbao"
    assert pension.source.url == raw("1.014027")["online"]
    assert pension.online.level == "toàn trình"
    assert any("Vĩnh Bảo" in note for note in pension.editor_notes)


# --- misplaced tone marks ---------------------------------------------------------------------------


def test_tone_marks_go_back_on_the_vowel_and_split_syllables_are_joined() -> None:
    assert "hoăc̣ Ứ ng duṇ g" in unicodedata.normalize("NFC", raw("1.001193")["detail"]["sequence"])
    text = all_text(records()["1.001193"])
    assert "Cổng dịch vụ công quốc gia hoặc Ứng dụng định danh quốc gia" in text
    assert "Cơ sở dữ liệu hộ tịch điện tử" in text
    assert "Trường hợp giấy tờ tùy thân sử dụng là: Hộ chiếu" in text
    decomposed = unicodedata.normalize("NFD", text)
    tone_after_consonant = [
        i for i, char in enumerate(decomposed)
        if char in vinhbao.TONES and decomposed[i - 1].lower() in "bcdđghklmnpqrstvx"
    ]
    assert tone_after_consonant == []


def test_correct_text_is_left_as_it_is() -> None:
    for text in ("hòa giải", "hoà bình", "người có công", "thủy", "quốc gia", "giữa", "Quý", "khuyết tật"):
        assert vinhbao.repair_tone_marks(text) == text
    assert vinhbao.repair_tone_marks("ca\u0301c ho\u0302\u0323") == "các hộ"  # decomposed → NFC


# --- hard line breaks -------------------------------------------------------------------------------


def test_hard_line_breaks_inside_sentences_and_words_are_removed() -> None:
    steps = records()["1.014027"].procedure.steps
    assert steps[0].startswith("Bước 1: Người đề nghị trợ cấp hưu trí xã hội có văn bản đề nghị")
    assert "\n" not in steps[0]
    assert "Mẫu số 01 ban hành kèm theo Nghị định số 176/2025/NĐ-CP ngày 30/6/2025" in steps[0]
    monthly = all_text(records()["1.001776"])
    assert "để giải quyết thủ tục hành chính, cung cấp dịch vụ công" in monthly  # "hàn" / "h chính"
    birth = all_text(records()["1.001193"])
    assert "Cơ sở dữ liệu quốc gia về dân cư, Cơ sở dữ liệu hộ tịch" in birth  # "gia v" / "ề dân cư"


# --- column-wrapped tables -------------------------------------------------------------------------


def test_wrapped_time_cell_is_rebuilt_and_descriptions_are_not_repeated() -> None:
    record = records()["1.014027"]
    online = record.procedure.channel(ChannelKind.truc_tuyen)
    assert online is not None and online.time_limit is not None
    # "10 ngày làm" / "việc"
    assert (online.time_limit.value, online.time_limit.unit) == (10, TimeUnit.ngay_lam_viec)
    assert online.description == (
        "10 (mười) ngày làm việc kể từ ngày nhận được văn bản đề nghị hưởng trợ cấp hưu trí xã hội."
    )
    assert [fee.amount for fee in online.fees] == [0]
    assert {c.kind for c in record.procedure.channels} == set(ChannelKind)  # "Qua bưu điện" = post
    assert any("time cell wrapped" in repair for repair in record.repairs)


def test_two_rows_for_one_channel_keep_both_time_limits() -> None:
    channel = records()["2.000286"].procedure.channel(ChannelKind.truc_tiep)
    assert channel is not None and channel.time_limit is not None
    assert channel.time_limit.value == 10
    assert "15 ngày làm việc" in (channel.time_limit.note or "")


def test_time_stated_again_in_the_description_leaves_the_place() -> None:
    worship = records()["1.010803"].procedure.channel(ChannelKind.buu_chinh)
    assert worship is not None
    assert worship.description == (
        "Trực tuyến hoặc qua dịch vụ bưu chính hoặc trực tiếp đến Trung tâm Phục vụ hành chính công."
    )
    care = records()["2.000286"].procedure.channel(ChannelKind.truc_tiep)
    assert care is not None and care.time_limit is not None
    assert care.description is None  # the cell held only the time, per case, three times over
    assert [case[:17] for case in care.time_limit.by_case] == ["10 ngày làm việc ", "15 ngày làm việc "]
    assert care.time_limit.by_case[1].endswith("thuộc phạm vi Ủy ban nhân dân cấp tỉnh quản lý")


def test_fee_figures_are_read_from_the_fee_column() -> None:
    copy = records()["2.001406"].procedure.channel(ChannelKind.truc_tiep)
    assert copy is not None and [fee.amount for fee in copy.fees] == [50000]
    assert copy.time_limit is not None and copy.time_limit.value is None  # "Không xác định"


def test_counts_and_form_files_are_taken_out_of_wrapped_document_names() -> None:
    (case,) = records()["1.014027"].procedure.documents
    (document,) = case.documents
    assert document.name == (
        "Văn bản đề nghị hưởng trợ cấp hưu trí xã hội (theo Mẫu số 01 ban hành kèm theo Nghị định số "
        "176/2025/NĐ-CP)"
    )
    assert document.form_file == "Bieu mau 01; 1.014027.docx"
    assert (document.originals, document.copies) == (1, 0)


def test_documents_keep_their_cases_and_every_form_file() -> None:
    cases = records()["1.001776"].procedure.documents
    assert [c.case.split(":")[0] for c in cases if c.case] == ["Trường hợp 1", "Trường hợp 2", "Trường hợp 3"]
    assert cases[0].documents[0].present_only  # "cần xuất trình"
    declaration = cases[2].documents[0]
    assert declaration.name.startswith("Tờ khai của đối tượng ( theo Mẫu số 1a, 1b, 1c, 1d, 1đ")
    assert declaration.form_file == "Mus1.docx; Mus1a.docx; Mus1b.docx; Mus1c.docx; Mus1d.docx"
    assert "Nghị định số 20/2021/NĐ-CP" in declaration.name  # "20/2021" / "/NĐ-CP" glued back


def test_count_cell_and_file_name_wrapped_onto_the_next_line() -> None:
    documents = records()["1.010824"].procedure.documents[0].documents
    assert len(documents) == 2  # "12 bản sao" is "Mẫu số 12" + the wrapped end of "1 bản chính, 1"
    first = documents[0]
    assert first.form_file == "Mauso12_ND131_2021.docx"  # ".do" / "cx"
    assert (first.originals, first.copies) == (1, 1)
    assert "Nghị định số 131/2021/NĐ-CP. - Bản sao được chứng thực từ giấy báo tử" in first.name
    assert documents[1].name.startswith("b) Trợ cấp tuất hằng tháng, trợ cấp tuất nuôi dưỡng hằng tháng")


def test_rows_without_a_count_are_remarks_for_editors_not_papers() -> None:
    procedure = records()["1.001193"].procedure
    names = [d.name for case in procedure.documents for d in case.documents]
    assert not any(name.startswith("Cơ quan đăng ký hộ tịch từ chối") for name in names)
    assert any("Cơ quan đăng ký hộ tịch từ chối" in note for note in procedure.editor_notes)
    assert any(name.startswith("Giấy chứng sinh") for name in names)


def test_legal_rows_keep_numbers_cut_across_lines() -> None:
    legal = {ref.code: ref.title for ref in records()["1.010824"].procedure.legal_basis}
    assert legal["131/2021/NĐ-CP"] == (
        "QUY ĐỊNH CHI TIẾT VÀ BIỆN PHÁP THI HÀNH PHÁP LỆNH ƯU ĐÃI NGƯỜI CÓ CÔNG VỚI CÁCH MẠNG"
    )
    assert "25/2025/NĐ-CP" in legal  # "Nghị định số 25/2025/NĐ-" / "CP"
    pension = {ref.code for ref in records()["1.014027"].procedure.legal_basis}
    assert pension == {"42/2025/NĐ-CP", "41/2024/QH15"}


def test_records_without_extracted_text_are_kept_with_their_problem() -> None:
    record = records()["2.002481"]  # chuyển trường THCS: empty detail
    assert record.procedure.name == "Chuyển trường đối với học sinh trung học cơ sở"
    assert record.problems["documents"]
    assert record.procedure.documents == []


def test_bad_handbook_files_name_the_problem(tmp_path) -> None:
    path = tmp_path / "procedures.json"
    path.write_text('{"code": "1.000001"}', encoding="utf-8")
    with pytest.raises(ValueError, match="JSON array"):
        vinhbao.load_file(path)
    path.write_text('[{"id": 7, "code": "x"}]', encoding="utf-8")
    with pytest.raises(ValueError, match="record 0"):
        vinhbao.load_file(path)


def test_catalogue_keeps_the_national_record_where_a_crawl_has_the_code() -> None:
    from knowledge.catalogue import load_catalogue

    catalogue = load_catalogue()
    assert catalogue.imported.origins["1.010824"] == "vinhbao"
    assert catalogue.imported.origins["1.011609"] == "dvcqg"  # in the handbook too: the portal's record
    assert catalogue["1.010824"].source.origin == "vinhbao"
