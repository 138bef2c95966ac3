"""The importers repair each defect listed in ../shared/data/README.md, shown on real records."""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from pathlib import Path

import pytest

from knowledge.cards import render_card
from knowledge.config import get_settings
from knowledge.importers import bqp, dvcqg
from knowledge.importers.common import NOTE_CMND, NOTE_DISTRICT, NOTE_POLICE_BHYT, ImportedRecord
from knowledge.importers.tables import parse_channels, parse_legal_basis, time_limit
from knowledge.importers.text import amounts_in
from knowledge.schema import ChannelKind, Procedure, TimeUnit

DATA = get_settings().data_dir
TODAY = date(2026, 11, 23)

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="needs ../shared/data")


@cache
def portal(code: str) -> ImportedRecord:
    (path,) = (DATA / "procedures-dvcqg" / "raw").glob(f"*/{code}.json")
    return dvcqg.load_file(path)


@cache
def raw_portal(code: str) -> dict:
    (path,) = (DATA / "procedures-dvcqg" / "raw").glob(f"*/{code}.json")
    return json.loads(path.read_text(encoding="utf-8"))


def fees_today(proc: Procedure, kind: ChannelKind, on: date = TODAY) -> list[int | None]:
    channel = proc.channel(kind)
    assert channel is not None, f"{proc.code} has no {kind.value} channel"
    return [fee.amount for fee in channel.fees_in_force(on)]


# --- Flattened channel table -------------------------------------------------------------------


def test_channel_table_is_cut_into_channels_with_time_and_fee():
    raw = raw_portal("1.004222")["cach_thuc_thuc_hien"]
    assert raw.startswith("Hình thức nộpThời gianPhí, lệ phíMô tả")
    proc = portal("1.004222").procedure
    assert [c.kind for c in proc.channels] == [ChannelKind.truc_tiep, ChannelKind.truc_tuyen]
    for channel in proc.channels:
        assert channel.time_limit.value == 7
        assert channel.time_limit.unit == TimeUnit.ngay_lam_viec
    assert fees_today(proc, ChannelKind.truc_tiep) == [20_000]
    assert fees_today(proc, ChannelKind.truc_tuyen) == [10_000]
    assert proc.channel(ChannelKind.truc_tuyen).fees[0].per == "lần đăng ký"


def test_amounts_become_integers_in_dong():
    assert amounts_in("thu 10.000 đồng/lần đăng ký") == [(10_000, "VND", "lần đăng ký")]
    assert amounts_in("Lệ phí: 135.000 đồng/lần.") == [(135_000, "VND", "lần")]
    assert amounts_in("1,500,000 VNĐ") == [(1_500_000, "VND", None)]
    assert amounts_in("145 USD/thẻ") == [(145, "USD", "thẻ")]
    channels = parse_channels(
        "Hình thức nộpThời gianPhí, lệ phíMô tảTrực tiếp7 Ngày làm việc10,000 Việt Nam Đồng", False
    ).value
    assert channels[0].fees[0].amount == 10_000


def test_free_column_with_an_amount_in_the_text_takes_the_amount():
    raw = raw_portal("3.000347")["cach_thuc_thuc_hien"]
    assert "Miễn phí(- Lệ phí cấp giấy phép lái xe: 135.000 đồng/lần" in raw
    record = portal("3.000347")
    proc = record.procedure
    assert fees_today(proc, ChannelKind.truc_tiep) == [135_000]
    assert fees_today(proc, ChannelKind.truc_tuyen) == [135_000]
    assert any("Miễn phí" in repair for repair in record.repairs)


def test_expired_online_discount_is_kept_bounded_and_not_in_force():
    online = portal("3.000347").procedure.channel(ChannelKind.truc_tuyen)
    discount = [fee for fee in online.fees if fee.valid_to]
    assert [(f.amount, f.valid_from, f.valid_to) for f in discount] == [
        (115_000, date(2023, 12, 1), date(2025, 12, 31))
    ]
    assert [f.amount for f in online.fees_in_force(date(2024, 6, 1))] == [115_000]
    assert [f.amount for f in online.fees_in_force(TODAY)] == [135_000]
    # The discount is about online filing only: the in-person channel never gets it.
    in_person = portal("3.000347").procedure.channel(ChannelKind.truc_tiep)
    assert all(fee.valid_to is None for fee in in_person.fees)


@pytest.mark.parametrize(
    ("code", "standing", "halved"), [("1.000889", 50_000, 25_000), ("1.000757", 70_000, 35_000)]
)
def test_id_card_fee_is_halved_until_end_of_2026(code: str, standing: int, halved: int):
    proc = portal(code).procedure
    channel = proc.channel(ChannelKind.truc_tiep)
    bounded = [fee for fee in channel.fees if fee.valid_to]
    assert any(f.valid_from == date(2025, 7, 1) and f.valid_to == date(2026, 12, 31) for f in bounded)
    assert fees_today(proc, ChannelKind.truc_tiep) == [halved]
    assert fees_today(proc, ChannelKind.truc_tiep, date(2027, 1, 1)) == [standing]


def test_civil_status_and_household_business_fees_are_set_by_the_province():
    for code in ("1.001022", "1.014034"):
        proc = portal(code).procedure
        for channel in proc.channels:
            assert channel.fees, f"{code} {channel.kind.value} lost its fee"
            assert all(fee.set_by_province and fee.amount is None for fee in channel.fees)


# --- Time limits -------------------------------------------------------------------------------


def test_bare_time_limit_gets_working_days_marked_as_inferred():
    assert "Trực tiếp1Miễn phí" in raw_portal("1.001193")["cach_thuc_thuc_hien"]
    proc = portal("1.001193").procedure
    limit = proc.channel(ChannelKind.truc_tiep).time_limit
    assert (limit.value, limit.unit, limit.unit_inferred) == (1, TimeUnit.ngay_lam_viec, True)
    assert any("ngày làm việc" in note for note in proc.editor_notes)
    assert "time_limit" in proc.unverified and not any("ngày làm việc" in note for note in proc.notes)


def test_missing_time_limit_has_no_value():
    assert "Trực tiếpKhông có thông tinKhông có thông tin" in raw_portal("1.001303")["cach_thuc_thuc_hien"]
    record = portal("1.001303")
    assert record.procedure.channels[0].time_limit.value is None
    assert any("no time limit" in p for p in record.problems["channels"])
    assert time_limit("").value is None
    assert time_limit("02 Giờ").unit == TimeUnit.gio


# --- Documents ---------------------------------------------------------------------------------


def test_documents_table_is_cut_into_cases_and_counts():
    proc = portal("1.001193").procedure
    names = [d.name for case in proc.documents for d in case.documents]
    assert any(n.startswith("Tờ khai đăng ký khai sinh") for n in names)
    assert any(n.startswith("Giấy chứng sinh") for n in names)
    cases = [case.case for case in proc.documents]
    assert "Giấy tờ phải nộp" in cases and "Giấy tờ phải xuất trình" in cases
    shown = next(case for case in proc.documents if case.case == "Giấy tờ phải xuất trình")
    assert all(d.present_only for d in shown.documents)
    for case in proc.documents:
        for document in case.documents:
            assert "Tên giấy tờ" not in document.name and not document.name.endswith("bản chính")


def test_original_and_copy_counts():
    documents = portal("3.000347").procedure.documents[0].documents
    assert (documents[0].originals, documents[0].copies) == (1, 0)
    last = documents[-1]
    assert last.name.startswith("Bản sao hoặc bản sao điện tử")
    assert (last.originals, last.copies) == (0, 1)


@pytest.mark.parametrize(("code", "form"), [("1.010028", "CT01"), ("1.010095", "DC02"), ("1.012549", "CC01")])
def test_form_codes_and_file_names_are_separated_from_titles(code: str, form: str):
    documents = [d for case in portal(code).procedure.documents for d in case.documents if d.form == form]
    assert documents, f"{code}: no document with form {form}"
    document = documents[0]
    assert document.form_file and document.form_file.endswith((".doc", ".docx"))
    assert not document.name.endswith((".doc", ".docx"))


# --- Legal basis, result, steps ----------------------------------------------------------------


def test_legal_basis_rows_are_title_and_number():
    refs = portal("1.004222").procedure.legal_basis
    pairs = {(ref.code, ref.title) for ref in refs}
    assert ("68/2020/QH14", "Luật Cư trú 2020") in pairs
    assert ("57/2021/TT-BCA", "Thông tư 57/2021/TT-BCA") in pairs
    expected = {"66.7/2025/NQ-CP", "154/2024/NĐ-CP", "58/2026/NĐ-CP", "53/2025/TT-BCA"}
    assert {ref.code for ref in refs} >= expected
    assert all(ref.code for ref in refs)


def test_legal_basis_with_prime_minister_decisions():
    refs = parse_legal_basis("Tên văn bản pháp lýMã văn bảnQuyết định số 09/2023/QĐ-TTg09/2023/QĐ-TTg").value
    assert [(r.code, r.title) for r in refs] == [("09/2023/QĐ-TTg", "Quyết định số 09/2023/QĐ-TTg")]


def test_website_text_is_stripped_from_the_result():
    assert "Chọn cơ quan thực hiện" in raw_portal("1.004222")["ket_qua_xu_ly"]
    result = portal("1.004222").procedure.result
    assert result == [
        "Cập nhật thông tin trong Cơ sở dữ liệu quốc gia về dân cư",
        "Thông báo kết quả giải quyết thủ tục về cư trú, hủy bỏ thủ tục về cư trú",
        "Phiếu từ chối tiếp nhận, giải quyết hồ sơ (lĩnh vực cư trú)",
        "Cập nhật thông tin trong Cơ sở dữ liệu về cư trú",
    ]
    assert portal("3.000347").procedure.result == ["Giấy phép lái xe"]


def test_steps_are_split_per_step():
    steps = portal("1.004222").procedure.steps
    assert len(steps) == 5
    assert [s[:6] for s in steps] == ["Bước 1", "Bước 2", "Bước 3", "Bước 4", "Bước 5"]


def test_phrase_moved_into_the_next_step_is_put_back():
    raw = raw_portal("1.001193")["trinh_tu_thuc_hien"]
    assert "đăng ký khai tâm Phục vụ" in raw and "hoàn tất việc sinh tại Trung \nnộp hồ sơ" in raw
    record = portal("1.001193")
    first, second = record.procedure.steps[:2]
    assert "nộp hồ sơ đăng ký khai sinh tại Trung tâm Phục vụ hành chính công có thẩm quyền" in first
    assert "hoàn tất việc nộp hồ sơ" in second and "sinh tại Trung" not in second
    assert any(r.startswith("steps: moved") for r in record.repairs)


def test_phrase_repair_leaves_clean_steps_alone():
    for code in ("1.004222", "3.000347", "1.000889", "1.001022"):
        assert not any(r.startswith("steps: moved") for r in portal(code).repairs), code


# --- Wording, police-force records, source ----------------------------------------------------


def test_district_level_wording_is_flagged_not_rewritten():
    raw = raw_portal("1.001303")
    record = portal("1.001303")
    assert "Công an quận, huyện" in raw["trinh_tu_thuc_hien"]
    assert NOTE_DISTRICT in record.procedure.notes
    assert record.procedure.name == raw["ten_thu_tuc"]  # titles are not silently altered
    assert NOTE_DISTRICT not in portal("1.004222").procedure.notes


@pytest.mark.parametrize("code", ["1.003116", "1.001294"])
def test_police_health_insurance_records_are_marked(code: str):
    proc = portal(code).procedure
    assert "Công an nhân dân" in proc.name
    assert proc.notes[0] == NOTE_POLICE_BHYT
    assert proc.summary and "không áp dụng cho người dân" in proc.summary


def test_source_and_online_link():
    raw = raw_portal("1.004222")
    proc = portal("1.004222").procedure
    assert proc.source.url == raw["detail_url"]
    assert proc.source.decision == "1523/QĐ-BCA-C06"
    assert proc.source.origin == "dvcqg" and proc.source.verified is None
    assert proc.online.url == raw["detail_url"]
    assert proc.levels == ["Cấp xã"]


# --- Defence-ministry crawl --------------------------------------------------------------------


def test_defence_record_military_service_registration():
    record = bqp.load_file(DATA / "procedures-bqp" / "raw" / "1.013133.json")
    proc = record.procedure
    assert proc.name == "Thủ tục đăng ký nghĩa vụ quân sự lần đầu"
    assert proc.source.decision == "6375/QĐ-BQP" and proc.source.origin == "bqp"
    assert proc.levels == ["Cấp xã"]
    in_person = proc.channel(ChannelKind.truc_tiep)
    assert (in_person.time_limit.value, in_person.time_limit.unit) == (1, TimeUnit.ngay_lam_viec)
    assert [f.amount for f in in_person.fees] == [0]
    online = proc.channel(ChannelKind.truc_tuyen)
    assert (online.time_limit.value, online.time_limit.unit) == (2, TimeUnit.gio)
    documents = proc.documents[0].documents
    assert [(d.originals, d.copies) for d in documents] == [(1, 0), (0, 1)]
    assert documents[1].name.startswith("Bản chụp Căn cước")
    codes = [ref.code for ref in proc.legal_basis]
    assert "78/2015/QH13" in codes and "104/2022/NĐ-CP" in codes  # '104' completed from the title
    assert proc.result == ["Giấy chứng nhận đăng ký nghĩa vụ quân sự"]
    assert len(proc.steps) == 3


# --- Every ministry, and bad input -------------------------------------------------------------


def test_a_sample_from_every_ministry_imports_with_channels_and_source():
    ministries = sorted(p for p in (DATA / "procedures-dvcqg" / "raw").iterdir() if p.is_dir())
    assert len(ministries) == 7
    for ministry in ministries:
        for path in sorted(ministry.glob("*.json"))[:15]:
            proc = dvcqg.load_file(path).procedure
            assert proc.code == path.stem
            assert proc.source.url and proc.source.url.startswith("https://dichvucong.gov.vn")
            for channel in proc.channels:
                for fee in channel.fees:
                    assert fee.amount is None or isinstance(fee.amount, int)


def test_bad_input_gives_a_clear_error(tmp_path: Path):
    broken = tmp_path / "x.json"
    broken.write_bytes(b"\x00\xff not json")
    with pytest.raises(ValueError, match=r"x\.json"):
        dvcqg.load_file(broken)
    wrong = tmp_path / "y.json"
    wrong.write_text('{"hello": 1}', encoding="utf-8")
    with pytest.raises(ValueError, match="missing"):
        dvcqg.load_file(wrong)
    with pytest.raises(ValueError, match="missing"):
        bqp.load_file(wrong)
    listing = tmp_path / "z.json"
    listing.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="JSON object"):
        bqp.load_file(listing)
    assert parse_channels("", False).value == []


# --- Repairs of the catalogue audit (issue 12) -------------------------------------------------


@pytest.mark.parametrize(
    ("code", "number", "invented"),
    [
        ("3.000522", "73/2021/QH14", "1473/2021/QH14"),
        ("1.012902", "29/2023/QH15", "1529/2023/QH15"),
        ("1.006468", "54/2014/QH13", "1354/2014/QH13"),
    ],
)
def test_a_number_ending_the_title_is_not_glued_into_a_new_number(code: str, number: str, invented: str):
    assert f"{number}{number}" in raw_portal(code)["can_cu_phap_ly"]
    numbers = [ref.code for ref in portal(code).procedure.legal_basis]
    assert number in numbers
    assert invented not in numbers
    assert len(numbers) == len(set(numbers))


def test_bare_and_glued_legal_titles_are_made_whole():
    refs = {ref.code: ref.title for ref in portal("1.003586").procedure.legal_basis}
    assert refs["18/2017/QH14"] == "Luật số 18/2017/QH14"  # the cells were 'Luật' + 'Luật 18/2017/QH14'
    assert refs["146/2025/QH15"].endswith("nông nghiệp và môi trường")  # no trailing 'Luật số'
    assert refs["02/2026/TT-BNNMT"] == "Thông tư số 02/2026/TT-BNNMT"
    refs = {ref.code: ref.title for ref in portal("1.001567").procedure.legal_basis}
    assert refs == {
        "32/2024/QH15": "Luật Các tổ chức tín dụng",
        "50/2025/TT-NHNN": "Thông tư số 50/2025/TT-NHNN",
    }
    refs = {ref.code: ref.title for ref in portal("1.000188").procedure.legal_basis}
    assert refs["32/2024/QH15"] == "Luật Các tổ chức tín dụng"
    assert refs["47/2025/TT-NHNN"].startswith("hướng dẫn thủ tục chấp thuận")


@pytest.mark.parametrize("code", ["3.000172", "1.014418", "1.000055"])
def test_steps_have_no_empty_step_and_no_stray_bullets(code: str):
    assert raw_portal(code)["trinh_tu_thuc_hien"].lstrip().startswith("-")
    steps = portal(code).procedure.steps
    assert steps and steps[0].startswith("Bước 1")
    for step in steps:
        assert step.strip(" -+.") and not step.endswith(("-", "+")) and not step.startswith(("-", "+"))


@pytest.mark.parametrize("code", ["1.004089", "1.000025", "1.013807"])
def test_results_keep_no_table_code(code: str):
    assert "Mã:" in raw_portal(code)["ket_qua_xu_ly"]
    assert not any("Mã:" in result for result in portal(code).procedure.result)


def test_document_names_are_not_cut_where_the_form_file_name_starts():
    first = portal("2.001263").procedure.documents[0].documents[0]
    assert (first.name, first.form_file) == ("Đơn xin nhận con nuôi;", "1.nxinnhnconnui.doc")
    names = [d.name for case in portal("1.000049").procedure.documents for d in case.documents]
    assert any(name.endswith("nền màu trắng.") for name in names), names


@pytest.mark.parametrize("code", ["1.014899", "1.014901", "1.014902", "1.014903", "1.014904", "1.014905",
                                  "1.014906"])
def test_a_reduction_until_a_date_without_a_start_is_in_force(code: str):
    assert "áp dụng đến hết ngày 31/12/2026" in raw_portal(code)["cach_thuc_thuc_hien"]
    proc = portal(code).procedure
    for channel in proc.channels:  # the post row names no reduction; it holds for every channel
        assert [f.amount for f in channel.fees_in_force(date(2026, 12, 1))] == [25_000], channel.kind
        assert [f.amount for f in channel.fees_in_force(date(2027, 1, 1))] == [50_000], channel.kind


def test_fees_by_case_are_not_summed_and_the_breakdown_is_not_a_place():
    raw = raw_portal("1.008904")["cach_thuc_thuc_hien"]
    assert "4,000,000 Việt Nam Đồng" in raw and "Bao gồm:" in raw
    record = portal("1.008904")
    for channel in record.procedure.channels:
        assert sorted(f.amount for f in channel.fees_in_force(date(2026, 12, 1))) == [500_000, 1_500_000]
        assert sorted(f.amount for f in channel.fees_in_force(date(2027, 1, 1))) == [1_000_000, 3_000_000]
        assert not channel.description or "đồng" not in channel.description


def test_star_bullets_each_carry_their_own_rule():
    raw = raw_portal("1.009523")["cach_thuc_thuc_hien"]
    assert "* Theo quy định tại  Thông tư 64/2025/TT-BTC" in raw
    channel = portal("1.009523").procedure.channel(ChannelKind.truc_tiep)
    assert [f.amount for f in channel.fees_in_force(date(2026, 12, 1))] == [3_000_000]
    assert [f.amount for f in channel.fees_in_force(date(2027, 1, 1))] == [6_000_000]


def test_no_absurd_amounts():
    # '40 Việt Nam Đồng' beside '40.000đ/giấy thông hành'; '1 Việt Nam Đồng' beside 'được miễn lệ phí'
    for code in ("1.001200", "1.013836", "1.002032"):
        amounts = [f.amount for c in portal(code).procedure.channels for f in c.fees if f.amount]
        assert all(amount >= 1000 for amount in amounts), (code, amounts)
    assert portal("1.001200").procedure.channel(ChannelKind.truc_tiep).fees[0].amount == 50_000
    defence = bqp.load_file(DATA / "procedures-bqp" / "raw" / "1.013199.json").procedure
    assert all(not f.amount or f.amount >= 1000 for c in defence.channels for f in c.fees)


def test_rows_of_one_channel_keep_every_time_limit_and_no_fee_twice():
    assert raw_portal("3.000228")["cach_thuc_thuc_hien"].count("Trực tiếp") >= 2
    limit = portal("3.000228").procedure.channel(ChannelKind.truc_tiep).time_limit
    assert [case.split(":")[0] for case in limit.by_case] == ["3 ngày làm việc", "7 ngày làm việc"]
    assert "chưa có thẻ" in limit.by_case[1]
    for channel in portal("1.001471").procedure.channels:
        assert sorted(f.amount for f in channel.fees) == [200_000, 400_000]


def defence(code: str) -> Procedure:
    return bqp.load_file(DATA / "procedures-bqp" / "raw" / f"{code}.json").procedure


def test_district_bodies_are_replaced_by_what_the_record_itself_names():
    assert raw_portal("1.011727")["co_quan_thuc_hien"] == "Công an huyện"
    police = portal("1.011727").procedure
    assert police.agency == "Công an cấp xã" and "agency" in police.unverified
    assert any("Công an huyện" in note and "cấp xã" in note for note in police.notes)
    insurance = portal("1.001521").procedure
    assert insurance.agency == "Bảo hiểm xã hội cấp Tỉnh"


def test_defence_agency_comes_from_the_body_the_steps_send_the_dossier_to():
    def named(code: str) -> str:
        raw = json.loads((DATA / "procedures-bqp" / "raw" / f"{code}.json").read_text(encoding="utf-8"))
        return raw["content"]["cơ_quan_thực_hiện"].strip()

    assert named("1.013533").startswith("Tổng cục Chính trị")
    assert defence("1.013533").agency == "Cục Quản lý Công nghệ/Tổng cục Công nghiệp quốc phòng"
    assert defence("1.013133").agency == named("1.013133")  # a body the record names elsewhere stays


@pytest.mark.parametrize("code", ["3.000167", "3.000168", "3.000169", "3.000170", "3.000171", "3.000172"])
def test_an_id_card_of_the_old_kind_gets_the_note_that_it_is_invalid(code: str):
    proc = portal(code).procedure
    assert any("chứng minh nhân dân" in d.name.lower() for case in proc.documents for d in case.documents)
    assert NOTE_CMND in proc.notes


@pytest.mark.parametrize(
    ("code", "form"),
    [("1.003586", "08.ĐKT"), ("1.008904", "10TP-TTTM-sđ"), ("1.014131", "Phụ lục 12.9"), ("1.008904", "09")],
)
def test_form_numbers_of_every_shape_are_recognised(code: str, form: str):
    assert form in {d.form for case in portal(code).procedure.documents for d in case.documents}


def test_a_time_limit_stated_only_in_the_text_is_kept():
    assert "Không có thông tin400,000" in raw_portal("2.001263")["cach_thuc_thuc_hien"]
    limit = portal("2.001263").procedure.channel(ChannelKind.truc_tiep).time_limit
    stages = " ".join(limit.by_case)
    assert "10 ngày" in stages and "15 ngày" in stages and "05 ngày" in stages


def test_the_full_text_is_kept_in_the_record():
    conditions = portal("1.014131").procedure.conditions
    assert any(c.endswith("từ ngày 01 tháng 8 năm 2026.") for c in conditions)


def test_a_fee_formula_is_one_rule_and_each_clause_keeps_its_own_note():
    channel = portal("1.003593").procedure.channel(ChannelKind.truc_tiep)
    assert [f.amount for f in channel.fees] == [None, None]
    assert "số tấn thủy sản x 15.000 đồng/tấn" in channel.fees[0].note
    fees = portal("1.004359").procedure.channel(ChannelKind.truc_tiep).fees
    assert [(f.amount, f.note) for f in fees] == [
        (40_000, "Lệ phí cấp mới 40.000đồng/lần"), (20_000, "lệ phí cấp lại 20.000 đồng/lần")
    ]


def test_a_case_number_after_an_empty_fee_cell_is_not_a_fee():
    table = raw_portal("1.014244")["cach_thuc_thuc_hien"]
    assert "Không có thông tin(1) Trường hợp" in table and "20,000,000 Việt Nam Đồng" in table
    proc = portal("1.014244").procedure
    for channel in proc.channels:
        assert [(f.amount, f.note[:21]) for f in channel.fees] == [(20_000_000, "theo quy định tại Thô")]
        assert channel.description.startswith("(1) Trường hợp")
    card = render_card(proc, today=TODAY)
    assert "chưa rõ mức phí" not in card and "20.000.000 đ" in card


def test_a_free_period_after_the_figures_leaves_the_figures_standing():
    table = raw_portal("1.002897")["cach_thuc_thuc_hien"]
    assert "Miễn phí(5.000.000 đồng/lần cấp" in table and "Miễ phí từ ngày 07/4/2026" in table
    proc = portal("1.002897").procedure
    for channel in proc.channels:
        in_force = channel.fees_in_force(date(2026, 12, 1))
        assert [f.amount for f in in_force] == [5_000_000, 30_000_000, 40_000_000]
        assert [f.amount for f in channel.fees_in_force(date(2026, 5, 1))] == [0]
        assert in_force[2].note == "Đối với cảng hàng không quốc tế" and in_force[2].per == "lần cấp"
    fees = portal("1.003917").procedure.channel(ChannelKind.truc_tiep).fees_in_force(date(2026, 12, 1))
    assert [(f.amount, f.note) for f in fees][::2] == [(250_000, "Sát hạch thực hành"),
                                                       (600_000, "Sát hạch cấp giấy phép lần đầu")]


def test_number_cells_glued_into_titles_end_their_rows():
    def refs(code: str) -> list[tuple[str | None, str]]:
        return [(ref.code, ref.title) for ref in portal(code).procedure.legal_basis]

    assert "NUÔI CON NUÔI10/2020/TT-BTPquy định" in raw_portal("1.000532")["can_cu_phap_ly"]
    nuoi = refs("1.000532")
    assert nuoi[0][0] == "10/2020/TT-BTP" and nuoi[0][1].endswith("MẪU GIẤY TỜ, HỒ SƠ NUÔI CON NUÔI")
    assert nuoi[1] == ("19/2011/NĐ-CP", "quy định chi tiết thi hành một số điều của Luật Nuôi con nuôi")
    assert next(title for code, title in nuoi if code == "11/2021/TT-BTP").startswith("Thông tư sửa đổi")
    assert ("171/2016/NĐ-CP", "Về đăng ký, xóa đăng ký và mua, bán, đóng mới tàu biển") in refs("1.002687")
    poverty = "về chương trình hỗ trợ giảm nghèo nhanh và bền vững đối với 61 huyện nghèo"
    assert ("30a/2008/NQ-CP", poverty) in refs("3.000044")
    assert dict(refs("1.011674"))["13/2012/QH13"].endswith("của Quốc hội nước CHXHCN Việt Nam")
    assert (None, "Nghị định số 85/2026: Về bảo hiểm hưu trí bổ sung") in refs("3.000038")


def test_a_cut_number_cell_is_neither_guessed_nor_given_to_the_next_title():
    assert "Luật Đầu tư côngLuật số 58Quy định" in raw_portal("1.013988")["can_cu_phap_ly"]
    legal = [(ref.code, ref.title) for ref in portal("1.013988").procedure.legal_basis]
    assert ("58/2024/QH15", "Luật số 58/2024/QH15 của Quốc hội: Luật Đầu tư công") in legal
    cut = [(code, title) for code, title in legal if "một cửa liên thông" in title]
    assert len(cut) == 1 and cut[0][0] is None
    assert cut[0][1].endswith("Dịch vụ công quốc gia (số hiệu trên Cổng bị cắt: 118/2025/NĐ-C)")
    assert [code for code, _ in legal].count("101/2024/NĐ-CP") == 1


def test_a_count_ending_in_a_full_stop_still_ends_its_row():
    assert "đã được cấp1 bản chính.Đơn đề nghị cấp lại" in raw_portal("1.007928")["thanh_phan_ho_so"]
    for case in portal("1.007928").procedure.documents[3:5]:
        names = [d.name for d in case.documents]
        assert "Bản chính Giấy chứng nhận đủ điều kiện sản xuất phân bón đã được cấp" in names
        assert any(name.startswith("Đơn đề nghị cấp lại") for name in names), case.case
        assert not any("bản chính" in (d.form_file or "") for d in case.documents)


def test_a_time_range_is_kept_with_the_unit_its_description_gives():
    assert defence("1.013629").channels[0].time_limit.note == "10-25 ngày kể từ ngày nhận được hồ sơ hợp lệ"
