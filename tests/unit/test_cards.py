"""Answer cards, rendered from records imported from the real crawl (not curated, so they are stable)."""

from __future__ import annotations

from datetime import date
from functools import cache

import pytest
from curated_records import record

from knowledge.cards import ASPECTS, render_card, render_first_answer, render_summary
from knowledge.catalogue import get_catalogue
from knowledge.config import get_settings
from knowledge.importers import dvcqg
from knowledge.importers.common import NOTE_POLICE_BHYT
from knowledge.schema import Procedure

DATA = get_settings().data_dir
TODAY = date(2026, 11, 23)
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="needs ../shared/data")


@cache
def imported(code: str) -> Procedure:
    (path,) = (DATA / "procedures-dvcqg" / "raw").glob(f"*/{code}.json")
    return dvcqg.load_file(path).procedure


def test_full_card_has_every_part_and_the_source():
    proc = imported("1.004222")
    card = render_card(proc, today=TODAY)
    assert card.startswith("Đăng ký thường trú (mã 1.004222)")
    parts = ("Hồ sơ cần chuẩn bị:", "Cách nộp – thời hạn – lệ phí", "Kết quả:", "Căn cứ pháp lý:", "Các bước")
    assert all(part in card for part in parts)
    assert "• Trực tiếp: 7 ngày làm việc; 20.000 đ" in card
    assert "• Trực tuyến: 7 ngày làm việc; 10.000 đ/lần đăng ký" in card
    assert "• 68/2020/QH14 – Luật Cư trú 2020" in card
    last = card.splitlines()[-1]
    assert last.startswith(
        "Nguồn: mã TTHC 1.004222 · Quyết định 1523/QĐ-BCA-C06 · https://dichvucong.gov.vn/"
    )
    assert last.endswith("chưa kiểm tra thủ công")
    assert "Mã: KQ" not in card and "Từ khóa" not in card


def test_fee_shown_is_the_one_in_force_on_the_day():
    proc = imported("1.000889")
    today = render_card(proc, aspects=["fee"], today=TODAY)
    assert "25.000 đ" in today and "áp dụng đến hết 31/12/2026" in today
    assert "50.000 đ" not in today
    next_year = render_card(proc, aspects=["fee"], today=date(2027, 1, 2))
    assert "50.000 đ" in next_year and "25.000 đ" not in next_year


def test_expired_discount_is_not_shown_and_free_column_is_not_believed():
    card = render_card(imported("3.000347"), aspects=["fee"], today=TODAY)
    assert "• Trực tiếp, Trực tuyến: 135.000 đ/lần" in card
    assert "115.000" not in card and "Miễn phí" not in card


def test_fee_set_by_the_province_is_labelled():
    card = render_card(imported("1.001022"), aspects=["fee", "time"], today=TODAY)
    assert "do HĐND tỉnh quy định" in card
    assert "3 ngày làm việc" in card


def test_documents_checklist_has_cases_counts_and_forms():
    card = render_card(imported("1.001193"), aspects=["documents"], today=TODAY)
    assert "Tờ khai đăng ký khai sinh" in card and "Giấy chứng sinh" in card
    assert "Trường hợp Giấy tờ phải xuất trình:" in card
    assert "xuất trình)" in card
    copies = render_card(imported("3.000347"), aspects=["documents"], today=TODAY)
    assert "(1 bản sao)" in copies and "0 bản chính" not in copies
    forms = render_card(imported("1.010095"), aspects=["documents", "forms"], today=TODAY)
    assert "mẫu DC02" in forms and "• DC02:" in forms


def test_long_cards_are_cut_with_a_link_but_keep_the_source():
    proc = imported("1.001193")
    total = sum(len(case.documents) for case in proc.documents)
    assert total > 14
    card = render_card(proc, aspects=["documents"], today=TODAY)
    assert f"… còn {total - 14} mục, xem đầy đủ tại {proc.source.url}" in card
    assert card.splitlines()[-1].startswith("Nguồn: mã TTHC 1.001193")


def test_notes_are_shown():
    card = render_card(imported("1.003116"), aspects=["result"], today=TODAY)
    assert NOTE_POLICE_BHYT in card
    assert "Công an nhân dân" in card.splitlines()[0]


def test_aspect_cards_keep_only_the_caveats_about_the_aspect():
    proc = imported("1.003116").model_copy(
        update={"notes": ["Lệ phí do Hội đồng nhân dân tỉnh quy định.", "Mẫu tờ khai TK1-TS."]}
    )
    fee_card = render_card(proc, aspects=["fee"], today=TODAY)
    assert "Hội đồng nhân dân tỉnh" in fee_card and "TK1-TS" not in fee_card
    assert "TK1-TS" in render_card(proc, aspects=["documents"], today=TODAY)
    assert all(note in render_card(proc, today=TODAY) for note in proc.notes)


def test_place_card_names_every_way_of_filing():
    proc = imported("1.004222")
    card = render_card(proc, aspects=["place"], today=TODAY)
    assert "Cơ quan giải quyết:" in card and "Cách nộp:" in card
    kinds = [channel.kind.label for channel in proc.channels]
    assert len(kinds) >= 2
    for kind in kinds:
        assert f"• {kind}: " in card
    assert "• Trực tuyến: Cổng Dịch vụ công quốc gia https://" in card
    assert "Hồ sơ cần chuẩn bị" not in card


def test_aspects_select_parts_and_unknown_aspects_are_refused():
    proc = imported("1.004222")
    card = render_card(proc, aspects=["time"], today=TODAY)
    assert "Thời hạn giải quyết:" in card and "Hồ sơ cần chuẩn bị" not in card and "20.000" not in card
    assert "Nguồn: mã TTHC 1.004222" in card
    for aspect in ASPECTS:
        assert render_card(proc, aspects=[aspect], today=TODAY).splitlines()[-1].startswith("Nguồn:")
    with pytest.raises(ValueError, match="unknown aspect"):
        render_card(proc, aspects=["price"], today=TODAY)


def test_verified_date_is_shown_for_checked_records():
    proc = imported("1.004222")
    source = proc.source.model_copy(update={"verified": date(2026, 11, 20)})
    checked = proc.model_copy(update={"source": source})
    assert render_card(checked, aspects=["fee"], today=TODAY).endswith("kiểm tra ngày 20/11/2026")


def test_a_record_with_little_data_still_renders_honestly():
    proc = Procedure.model_validate({"code": "9.000001", "name": "Thủ tục thử", "source": {}})
    card = render_card(proc, today=TODAY)
    assert "nguồn không liệt kê giấy tờ; xem https://dichvucong.gov.vn" in card
    assert "nguồn không có thông tin" in card
    source = "Nguồn: mã TTHC 9.000001 · https://dichvucong.gov.vn · chưa kiểm tra thủ công"
    assert card.splitlines()[-1] == source


def test_summary_is_one_short_line():
    line = render_summary(imported("1.004222"), today=TODAY)
    assert line == "Đăng ký thường trú (1.004222) · 7 ngày làm việc · 20.000 đ"
    assert "\n" not in render_summary(imported("1.001193"), today=TODAY)


def test_a_remark_header_in_the_document_table_is_not_a_case():
    card = render_card(imported("2.001263"), aspects=["documents"])
    assert "Trường hợp Lưu ý" not in card
    assert "Lưu ý:" in card


@pytest.mark.parametrize(
    ("code", "exemption"),
    [
        ("2.001263", "Miễn lệ phí đăng ký nuôi con nuôi trong nước"),
        ("1.004873", "Miễn lệ phí cho người thuộc gia đình có công"),
        ("1.000080", "Miễn lệ phí cho người thuộc gia đình có công"),
    ],
)
def test_an_exemption_is_shown_even_when_one_fee_applies(code: str, exemption: str):
    card = render_card(imported(code), aspects=["fee"], today=date(2026, 12, 1))
    assert exemption in card


def test_time_limits_of_each_case_are_shown():
    card = render_card(imported("3.000228"), aspects=["time"], today=TODAY)
    assert "3 ngày làm việc" in card and "7 ngày làm việc" in card


def test_editor_notes_never_reach_the_card_and_unverified_facts_are_marked():
    proc = imported("1.004222").model_copy(
        update={"editor_notes": ["Cần kiểm tra lại nguồn"], "unverified": ["fees", "agency"]}
    )
    card = render_card(proc, today=TODAY)
    assert "Cần kiểm tra" not in card
    marked = [line for line in card.splitlines() if "chưa xác minh" in line]
    assert any(line.startswith("• Trực tiếp") and "phí" in line.lower() for line in marked), card
    assert any(line.startswith("Cơ quan giải quyết") for line in marked), card
    assert "chưa xác minh" not in render_card(proc, aspects=["documents"], today=TODAY)


def test_display_cuts_keep_whole_sentences_and_the_dated_fact():
    card = render_card(imported("1.014131"), aspects=["conditions"], today=TODAY)
    assert "từ ngày 01 tháng 8 năm 2026" in card
    card = render_card(imported("2.001263"), aspects=["documents"], today=TODAY)
    assert "Đơn xin nhận con nuôi" in card and "con nu " not in card


def test_first_answer_is_short_with_documents_filing_fee_time_and_source():
    from knowledge.cards import render_first_answer

    catalogue = get_catalogue()
    for procedure in catalogue:
        if procedure.curated:
            text = render_first_answer(procedure, today=date(2026, 7, 1))
            assert len(text) <= 1000, procedure.code
            assert text.startswith(procedure.name[:40]) and "Nguồn:" in text
    birth = render_first_answer(catalogue.get("1.001193"), today=date(2026, 7, 1))
    assert "Hồ sơ:" in birth and "Nộp:" in birth and "Lệ phí" in birth and "Thời hạn" in birth
    assert birth.count("Lưu ý") <= 1


def test_editor_notes_never_reach_a_card():
    from knowledge.cards import render_first_answer

    record = get_catalogue().get("1.001193").model_copy(update={"editor_notes": ["Cần kiểm tra lại mẫu XYZ"]})
    for text in (render_first_answer(record), render_card(record), render_card(record, aspects=["forms"])):
        assert "XYZ" not in text


def test_no_first_answer_of_any_record_is_long_or_shows_an_editors_note():
    """Over every catalogue record, imported or curated: the first answer stays short (issue #10: about
    1,200 characters at most) and neither it nor the full card quotes one of the record's editors' notes."""
    from knowledge.cards import render_first_answer

    with_notes = 0
    for procedure in get_catalogue():
        first = render_first_answer(procedure, today=date(2026, 7, 1))
        assert len(first) <= 1200, (procedure.code, len(first))
        notes = [" ".join(note.split())[:40] for note in procedure.editor_notes]
        with_notes += bool(notes)
        if notes:
            full = " ".join(render_card(procedure, today=date(2026, 7, 1)).split())
            for note in notes:
                assert note not in " ".join(first.split()) and note not in full, (procedure.code, note)
    assert with_notes >= 100  # the catalogue's editors' notes are really checked


def test_other_cases_list_the_cases_beyond_the_common_one():
    text = render_card(get_catalogue().get("1.001193"), aspects=["cases"])
    assert "Các trường hợp khác:" in text and "Trường hợp" in text


def test_first_answer_marks_each_unchecked_fact():
    from knowledge.cards import UNVERIFIED, render_first_answer

    checked = 0
    for procedure in get_catalogue():
        if not procedure.channels or not {"fees", "time_limit"} & set(procedure.unverified):
            continue
        lines = render_first_answer(procedure, today=date(2026, 12, 1)).splitlines()
        for field, label in (("fees", "Lệ phí"), ("time_limit", "Thời hạn")):
            if field in procedure.unverified:
                line = next(x for x in lines if x.startswith(label))
                assert UNVERIFIED in line.lower(), (procedure.code, line)
                checked += 1
    assert checked >= 3
    reissue = render_first_answer(get_catalogue().get("2.001194"), today=date(2026, 12, 1))
    assert any(x.startswith("Thời hạn") and UNVERIFIED in x for x in reissue.splitlines())


def test_a_form_already_named_mau_so_is_not_called_mau_twice():
    proc = record("TL.tro-cap-that-nghiep")
    card = render_card(proc, aspects=["documents"], today=TODAY)
    for text in (card, render_first_answer(proc, today=TODAY)):
        assert "(1 bản chính; Mẫu số 10)" in text and "mẫu Mẫu" not in text
    forms = render_card(imported("1.010095"), aspects=["documents"], today=TODAY)
    assert "mẫu DC02" in forms
