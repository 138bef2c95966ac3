"""Facts other than fees re-verified for issue #12, as a citizen reads them on the card.

Each assertion is a fact read from a cited source (see the records' editor_notes); what was not read
still says 'chưa xác minh'.
"""

from __future__ import annotations

from datetime import date

from curated_records import record

from knowledge.cards import render_card, render_first_answer

TODAY = date(2026, 12, 1)


def test_unemployment_benefit_documents_are_those_of_decree_374_2025() -> None:
    card = render_card(record("TL.tro-cap-that-nghiep"), aspects=["documents"], today=TODAY)
    (documents,) = [block for block in card.split("\n\n") if block.startswith("Hồ sơ")]
    assert documents.startswith("Hồ sơ cần chuẩn bị:")  # no 'chưa xác minh' mark
    assert "Mẫu số 10" in documents and "Sổ bảo hiểm xã hội" in documents
    assert "xác nhận của người sử dụng lao động" in documents and "bản điện tử" in documents
    assert "từ đủ 1 tháng đến dưới 12 tháng" in documents


def test_unemployment_benefit_still_says_its_time_and_conditions_are_unchecked() -> None:
    proc = record("TL.tro-cap-that-nghiep")
    first = render_first_answer(proc, today=TODAY)
    assert "Hồ sơ:" in first and "Hồ sơ (chưa xác minh)" not in first
    conditions = render_card(proc, aspects=["conditions"], today=TODAY)
    assert "chưa xác minh" in conditions
    assert "đủ điều kiện hưởng lương hưu" in conditions and "đang hưởng lương hưu" not in conditions


def test_pension_documents_and_time_are_those_of_the_social_insurance_law_2024() -> None:
    proc = record("TL.luong-huu")
    card = render_card(proc, aspects=["documents", "time"], today=TODAY)
    (documents,) = [block for block in card.split("\n\n") if block.startswith("Hồ sơ")]
    assert documents.startswith("Hồ sơ cần chuẩn bị:")  # khoản 1, 2 Điều 77 and Điều 105, no 'chưa xác minh'
    assert documents.count("Sổ bảo hiểm xã hội") == 3 and "văn bản chấm dứt làm việc" in documents
    assert "Đơn đề nghị" not in documents and "Biên bản giám định mức suy giảm" in documents
    assert all(channel.time_limit.text() == "20 ngày" for channel in proc.channels)  # khoản 3 Điều 79
    assert "không tính ngày nghỉ lễ, tết" in proc.channels[0].time_limit.note.lower()
    assert "Cách nộp (chưa xác minh)" in render_card(proc, aspects=["place"], today=TODAY)


def test_certification_times_of_decree_23_2015_are_shown_and_say_they_are_unchecked() -> None:
    for code in ("2.000815", "2.000884"):
        line = render_card(record(code), aspects=["time"], today=TODAY).split("\n\n")[1].splitlines()[1]
        assert "Ngay trong ngày tiếp nhận yêu cầu; nhận sau 15 giờ" in line
        assert line.endswith("(chưa xác minh)")
    for code in ("2.000913", "2.001406"):
        card = render_card(record(code), aspects=["time"], today=TODAY)
        assert "• Trực tiếp, Trực tuyến, Bưu chính: 2 ngày làm việc (chưa xác minh)" in card


def test_monthly_allowance_below_pension_conditions_documents_and_time_of_articles_23_24() -> None:
    proc = record("TL.tro-cap-chua-du-dieu-kien-luong-huu")
    card = render_card(proc, aspects=["documents", "conditions"], today=TODAY)
    assert "Hồ sơ cần chuẩn bị:\n• Sổ bảo hiểm xã hội\n• Văn bản đề nghị hưởng trợ cấp hằng tháng" in card
    assert "Điều kiện:" in card and "chưa đủ điều kiện hưởng trợ cấp hưu trí xã hội" in card
    assert all(channel.time_limit.text() == "5 ngày làm việc" for channel in proc.channels)  # khoản 2 Điều 24
    assert "time_limit" not in proc.unverified and "fees" in proc.unverified


def test_household_health_insurance_no_longer_states_the_repealed_decree_as_a_checked_condition() -> None:
    proc = record("1.001939")
    conditions = render_card(proc, aspects=["conditions"], today=TODAY)
    assert "146/2018" not in conditions  # replaced by Nghị định 188/2025/NĐ-CP (Điều 70)
    assert "Điều kiện (chưa xác minh)" not in conditions
    card = render_card(proc, today=TODAY)
    assert "nay đã được thay bằng Nghị định 188/2025/NĐ-CP, mức giảm hiện hành chưa xác minh" in card
    assert "Điều 15 Luật Bảo hiểm y tế sửa đổi bởi Luật 51/2024/QH15" in card


def test_disability_assessment_documents_and_time_of_circular_01_2019() -> None:
    proc = record("1.001699")
    card = render_card(proc, aspects=["documents", "time"], today=TODAY)
    assert "Hồ sơ cần chuẩn bị:\n• Đơn đề nghị xác định" in card and "Mẫu số 01" in card  # Điều 4
    assert "kết luận của Hội đồng Giám định y khoa" in card and "trước ngày 01/6/2012" in card
    assert "• Trực tiếp: 25 ngày làm việc" in card and "chưa xác minh) thời hạn" not in card
    (channel,) = proc.channels
    assert "khoản 2 Điều 5" in channel.time_limit.note and "khoản 1 Điều 6" in channel.time_limit.note
    assert {"documents", "time_limit"}.isdisjoint(proc.unverified) and "legal_basis" in proc.unverified


def _block(card: str, title: str) -> str:
    (block,) = [part for part in card.split("\n\n") if part.startswith(title)]
    return block


def test_monthly_social_allowance_follows_decree_335_2026() -> None:
    proc = record("1.001776")
    card = render_card(proc, today=TODAY)
    assert "540.000 đồng/tháng (khoản 2 Điều 4 Nghị định 335/2026/NĐ-CP)" in card
    documents = _block(card, "Hồ sơ")
    assert documents.startswith("Hồ sơ cần chuẩn bị:")  # Điều 7, no 'chưa xác minh' mark
    assert "Mẫu số 01 Phụ lục Nghị định 335/2026/NĐ-CP" in documents and "Mẫu số 02" in documents
    assert "Giấy xác nhận khuyết tật" not in documents  # not in Điều 7
    assert all(channel.time_limit.text() == "7 ngày làm việc" for channel in proc.channels)  # khoản 2 Điều 8
    assert "bất kỳ Bộ phận Một cửa" in proc.agency and "niêm yết" not in card
    codes = [ref.code for ref in proc.legal_basis]
    assert "335/2026/NĐ-CP" in codes and "20/2021/NĐ-CP" not in codes  # khoản 2 Điều 32
    assert _block(card, "Căn cứ pháp lý").startswith("Căn cứ pháp lý:") and proc.unverified == ["fees"]


def test_monthly_social_allowance_states_the_coefficients_of_article_6_of_decree_335_2026() -> None:
    notes = _block(render_card(record("1.001776"), today=TODAY), "Lưu ý")
    assert "540.000 đồng × hệ số của nhóm (khoản 1 Điều 6" in notes
    assert "hệ số 2,5 (1.350.000 đồng) khi dưới 4 tuổi, 1,5 (810.000 đồng) từ đủ 4 tuổi" in notes  # điểm a
    assert "1,0 (540.000 đồng) cho mỗi con" in notes  # điểm d
    assert "2,0 (1.080.000 đồng) từ đủ 75 tuổi" in notes and "3,0 (1.620.000 đồng)" in notes  # điểm đ
    assert "Người khuyết tật đặc biệt nặng: hệ số 2,0" in notes  # điểm e
    assert "chỉ hưởng một mức cao nhất (khoản 2 Điều 6)" in notes and "…" not in notes


def test_funeral_support_follows_article_11_of_decree_335_2026() -> None:
    proc = record("1.001731")
    card = render_card(proc, today=TODAY)
    documents = _block(card, "Hồ sơ")
    assert documents == (
        "Hồ sơ cần chuẩn bị:\n• Tờ khai đề nghị hỗ trợ chi phí mai táng "
        "(1 bản chính; Mẫu số 03 Phụ lục Nghị định 335/2026/NĐ-CP)"
    )  # điểm a khoản 3 Điều 11: no copy of the death certificate any more
    assert all(channel.time_limit.text() == "3 ngày làm việc" for channel in proc.channels)  # điểm a khoản 3
    assert "tối thiểu 10.800.000 đồng" in card  # khoản 2 Điều 11 × khoản 2 Điều 4
    conditions = _block(card, "Điều kiện")
    assert conditions.startswith("Điều kiện:") and "từ đủ 75 tuổi" in conditions
    assert "80 tuổi" not in conditions
    assert "Miễn phí (chưa xác minh)" in card


def test_household_health_insurance_states_the_base_salary_of_decree_161_2026() -> None:
    proc = record("1.001939")
    card = render_card(proc, today=TODAY)
    assert "2.530.000 đồng/tháng (khoản 2 Điều 3 Nghị định 161/2026/NĐ-CP)" in card
    assert "2.340.000" not in card and "161/2026/NĐ-CP" in [ref.code for ref in proc.legal_basis]
    assert "fees" in proc.unverified  # the 4,5% and 70/60/50/40% of Nghị định 188/2025 were not read


def test_work_accident_and_occupational_disease_dossiers_and_time_of_articles_57_to_59() -> None:
    old_papers = {"TL.tai-nan-lao-dong": "Biên bản điều tra", "TL.benh-nghe-nghiep": "Biên bản đo"}
    for code, old_paper in old_papers.items():
        proc = record(code)
        documents = _block(render_card(proc, aspects=["documents"], today=TODAY), "Hồ sơ")
        assert "Sổ bảo hiểm xã hội" in documents and "trích sao hồ sơ bệnh án" in documents  # Điều 57, 58
        assert old_paper not in documents and "theo mẫu của Bảo hiểm xã hội Việt Nam" in documents
        assert all(channel.time_limit.text() == "10 ngày" for channel in proc.channels)  # khoản 2 Điều 59
        assert "30 ngày" in proc.channels[0].time_limit.note  # khoản 1 Điều 59
        assert "(Điều 48)" in proc.result[0] and "(Điều 49)" in proc.result[0]
        assert {"time_limit", "result"}.isdisjoint(proc.unverified) and "documents" in proc.unverified
    disease = render_card(record("TL.benh-nghe-nghiep"), aspects=["documents"], today=TODAY)
    assert "Giấy khám bệnh nghề nghiệp – Khi không điều trị nội trú" in disease


def test_emergency_housing_support_follows_articles_12_and_13_of_decree_335_2026() -> None:
    proc = record("TL.ho-tro-khan-cap")
    card = render_card(proc, today=TODAY)
    assert "làm nhà ở thấp nhất 40.000.000 đồng/hộ" in card and "sửa chữa nhà ở thấp nhất 20.000.000" in card
    assert "Tờ khai" not in card and "khoản 1 Điều 13" in card  # the commune draws up the list itself
    assert [ref.code for ref in proc.legal_basis] == ["335/2026/NĐ-CP"]  # Nghị định 20/2021 repealed
    assert "agency" not in proc.unverified and "channels" in proc.unverified


def test_social_pension_follows_article_31_of_decree_335_2026() -> None:
    proc = record("1.014027")
    card = render_card(proc, today=TODAY)
    assert "540.000 đồng/tháng" in card and "khoản 1 Điều 31 Nghị định 335/2026/NĐ-CP" in card
    assert "Mẫu số 01 Phụ lục Nghị định 335/2026/NĐ-CP" in _block(card, "Hồ sơ")  # not Nghị định 176
    assert all(channel.time_limit.text() == "7 ngày làm việc" for channel in proc.channels)  # was 10
    assert "từ đủ 75 tuổi" in _block(card, "Điều kiện").lower()  # khoản 1 Điều 21 Luật BHXH 2024
    assert proc.curated and proc.unverified == ["fees", "online"]


def test_social_pension_funeral_support_follows_article_31_of_decree_335_2026() -> None:
    proc = record("1.014028")
    card = render_card(proc, today=TODAY)
    assert "Mẫu số 03 Phụ lục Nghị định 335/2026/NĐ-CP" in _block(card, "Hồ sơ")  # was Mẫu số 02
    assert "tối thiểu 10.800.000 đồng" in card  # 20 × 540.000 đ
    assert all(channel.time_limit.text() == "3 ngày làm việc" for channel in proc.channels)
    assert "agency" in proc.unverified  # the index cuts the sentence before the deciding officer


VEHICLE_REGISTRATION = ("1.013067", "1.013076", "1.013079", "1.013082")
RESULT_WAYS = "qua Cổng dịch vụ công, qua bưu chính hoặc trực tiếp tại cơ quan đăng ký xe"
ARTICLE_1_OF_37_2026 = "khoản 6 Điều 3 Thông tư 79/2024/TT-BCA, sửa đổi bởi Điều 1 Thông tư 37/2026/TT-BCA"


def test_vehicle_registration_results_come_by_portal_post_or_in_person_per_circular_37_2026() -> None:
    for code in VEHICLE_REGISTRATION:
        proc = record(code)
        steps = _block(render_card(proc, aspects=["steps"], today=TODAY), "Các bước")
        assert f"{RESULT_WAYS}, tùy nhu cầu của chủ xe ({ARTICLE_1_OF_37_2026})." in steps, code
        assert "tại cơ quan đăng ký xe hoặc qua bưu chính" not in steps, code
        descriptions = [channel.description or "" for channel in proc.channels]
        assert any(f"nhận kết quả {RESULT_WAYS}." in text for text in descriptions), code
        assert not any("tại chỗ hoặc qua bưu chính" in text for text in descriptions), code


def test_vehicle_registration_certificate_data_sits_on_the_national_id_app_and_vnetraffic() -> None:
    for code in VEHICLE_REGISTRATION:
        card = render_card(record(code), today=TODAY)
        result = _block(card, "Kết quả")
        assert "dữ liệu điện tử tích hợp trên Ứng dụng định danh quốc gia và VNeTraffic" in result, code
        assert (
            "dữ liệu điện tử chứng nhận đăng ký xe được tích hợp trên Ứng dụng định danh quốc gia "
            f"và ứng dụng giao thông VNeTraffic của Bộ Công an ({ARTICLE_1_OF_37_2026})."
        ) in _block(card, "Lưu ý"), code
        assert "VNeID" not in result  # the circular names the app, not the brand


def test_transfer_registration_takes_the_portal_transfer_record_as_the_paper_one_per_article_2() -> None:
    proc = record("1.013076")
    transfer, register = proc.documents
    (paper,) = [doc for doc in register.documents if doc.name == "Chứng từ chuyển quyền sở hữu xe"]
    assert paper.condition == (
        "Nếu dữ liệu về tình trạng hôn nhân của chủ xe đã được cập nhật trên Cơ sở dữ liệu quốc gia "
        "về dân cư thì dữ liệu điện tử chuyển quyền sở hữu trên Cổng dịch vụ công có giá trị pháp lý "
        "như chứng từ chuyển quyền sở hữu bản giấy (điểm c khoản 2 Điều 16 Thông tư 79/2024/TT-BCA, "
        "sửa đổi bởi Điều 2 Thông tư 37/2026/TT-BCA)."
    )
    assert not any("37/2026" in (doc.condition or "") for doc in transfer.documents)  # khoản 1 is not amended
    documents = _block(render_card(proc, aspects=["documents"], today=TODAY), "Hồ sơ")
    assert documents.startswith("Hồ sơ cần chuẩn bị:") and "bản giấy (điểm c khoản 2 Điều 16" in documents


def test_vehicle_registration_legal_basis_names_circular_37_2026_and_stays_unchecked() -> None:
    for code in VEHICLE_REGISTRATION:
        proc = record(code)
        codes = [ref.code for ref in proc.legal_basis]
        assert codes.index("37/2026/TT-BCA") == codes.index("13/2025/TT-BCA") + 1, code
        assert "legal_basis" in proc.unverified and "steps" not in proc.unverified, code
    assert "37/2026/TT-BCA" not in [ref.code for ref in record("1.013065").legal_basis]  # nothing it changes
