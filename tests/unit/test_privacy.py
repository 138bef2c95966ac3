"""Masking of personal numbers in citizens' texts and in log records."""

from __future__ import annotations

import logging

import pytest

from connectors.privacy import ACCOUNT, CCCD, CMND, EMAIL, PHONE, MaskingFilter, install_log_masking, mask


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Số điện thoại của tôi là 0912 345 678, gọi giúp.", f"Số điện thoại của tôi là {PHONE}, gọi giúp."),
        ("sdt: 0912.345.678", f"sdt: {PHONE}"),
        ("gọi 0912-345-678.", f"gọi {PHONE}."),
        ("sdt0987654321 nhé", f"sdt{PHONE} nhé"),
        ("Liên hệ +84 912 345 678 hoặc (+84) 387654321", f"Liên hệ {PHONE} hoặc {PHONE}"),
        ("số 84912345678 của con tôi", f"số {PHONE} của con tôi"),
        ("máy bàn (028) 3823 4567", f"máy bàn {PHONE}"),
        ("gọi 024.3825.1234 giờ hành chính", f"gọi {PHONE} giờ hành chính"),
        ("0912345678 hoặc 0987 654 321", f"{PHONE} hoặc {PHONE}"),
        ("tài khoản VNeID của tôi đăng ký bằng 0987654321", f"tài khoản VNeID của tôi đăng ký bằng {PHONE}"),
    ],
)
def test_vietnamese_phone_numbers_are_masked(text: str, expected: str) -> None:
    assert mask(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CCCD của tôi 001099012345 cấp ngày 01/07/2021", f"CCCD của tôi {CCCD} cấp ngày 01/07/2021"),
        ("căn cước 0010 9901 2345 bị mất", f"căn cước {CCCD} bị mất"),
        ("số định danh: 079203001234.", f"số định danh: {CCCD}."),
        ("CMND 123456789 hết hạn thì làm sao", f"CMND {CMND} hết hạn thì làm sao"),
        ("cmnd cũ 012.345.678", f"cmnd cũ {CMND}"),
    ],
)
def test_identity_numbers_are_masked(text: str, expected: str) -> None:
    assert mask(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("email nguyen.van.a@gmail.com nhé", f"email {EMAIL} nhé"),
        ("gửi về tran_thi-b+hoso@so-tu-phap.hanoi.gov.vn giúp em", f"gửi về {EMAIL} giúp em"),
        ("email 0912345678@yahoo.com", f"email {EMAIL}"),
    ],
)
def test_emails_are_masked(text: str, expected: str) -> None:
    assert mask(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stk 1903 6543 2109 87 techcombank", f"stk {ACCOUNT} techcombank"),
        ("chuyển vào tài khoản Vietcombank 0071000123456", f"chuyển vào tài khoản Vietcombank {ACCOUNT}"),
        ("STK: 12345678 ngân hàng BIDV", f"STK: {ACCOUNT} ngân hàng BIDV"),
        ("Agribank số 1500205123456 chủ tk Nguyễn Văn A", f"Agribank số {ACCOUNT} chủ tk Nguyễn Văn A"),
        ("mã giao dịch 123456789012345 bị lỗi", f"mã giao dịch {ACCOUNT} bị lỗi"),
    ],
)
def test_bank_accounts_and_long_digit_runs_are_masked(text: str, expected: str) -> None:
    assert mask(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Thủ tục 1.001193 đăng ký khai sinh lệ phí 50.000 đồng",
        "Mã 2.000748 và 1.004194 khác nhau thế nào?",
        "phí 1.500.000 đồng, 150.000.000 đồng hay 150000000đ, 2.000.000 VNĐ",
        "nộp 100,000 vnd hay 1,5 triệu",
        "từ năm 2025, ngày 01.07.2025 hoặc 2025-07-01, hoặc 01/07/2025, 1-7-2025",
        "Nghị định 123/2015/NĐ-CP, Điều 5 khoản 2, Thông tư 04/2020/TT-BTP",
        "tôi 35 tuổi có 2 con, cần 3 bản sao trong 5 ngày làm việc",
        "hotline 1900 1234 hoặc 1800 1091",
        "Đăng ký tạm trú ở Hoàn Kiếm cần giấy tờ gì?",
        "giờ làm việc 7:30 - 17:00 thứ 2 đến thứ 6",
        "",
    ],
)
def test_codes_dates_money_and_years_are_left_alone(text: str) -> None:
    assert mask(text) == text


def test_a_year_next_to_a_phone_number_stays() -> None:
    assert mask("sinh năm 1990 0912345678") == f"sinh năm 1990 {PHONE}"


def test_a_realistic_report_is_masked_and_keeps_what_matters() -> None:
    text = (
        "Cán bộ phường Hàng Trống bắt nộp thêm bản sao sổ hộ khẩu khi đăng ký tạm trú (1.004194), "
        "thu 200.000 đồng, ngày 15/11/2025. Tôi là Nguyễn Văn A, CCCD 001099012345, "
        "ĐT 0912 345 678, email a.nguyen@gmail.com, nhận tiền qua STK 0071000123456 Vietcombank."
    )
    masked = mask(text)
    for kept in ("1.004194", "200.000 đồng", "15/11/2025", "Hàng Trống", "Nguyễn Văn A"):
        assert kept in masked
    for gone in ("001099012345", "0912", "a.nguyen", "0071000123456"):
        assert gone not in masked
    assert all(placeholder in masked for placeholder in (CCCD, PHONE, EMAIL, ACCOUNT))


def _record(msg: str, args: object, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("connectors.test", logging.WARNING, __file__, 1, msg, args, exc_info)  # type: ignore[arg-type]


def test_the_filter_masks_message_and_arguments_in_place() -> None:
    record = _record("Citizen %s wrote %r (%d chars)", ("0912345678", "CCCD 001099012345", 12))
    assert MaskingFilter().filter(record)
    assert record.getMessage() == f"Citizen {PHONE} wrote '{'CCCD ' + CCCD}' (12 chars)"
    # uvicorn's access formatter unpacks the arguments: they stay a tuple of the same length.
    access = _record('%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5000", "GET", "/x?q=0912345678", "1.1", 200))
    MaskingFilter().filter(access)
    assert access.args == ("127.0.0.1:5000", "GET", f"/x?q={PHONE}", "1.1", 200)


def test_the_filter_masks_tracebacks() -> None:
    try:
        raise ValueError("bad input 001099012345")
    except ValueError as error:
        record = _record("failed", (), (type(error), error, error.__traceback__))
    MaskingFilter().filter(record)
    assert "001099012345" not in record.exc_text and CCCD in record.exc_text


def test_installed_masking_covers_every_logger_and_handler(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_log_masking()
    install_log_masking()
    # Other tests start uvicorn, which stops its loggers propagating; caplog listens at the root.
    monkeypatch.setattr(logging.getLogger("uvicorn.error"), "propagate", True)
    with caplog.at_level(logging.INFO), caplog.at_level(logging.INFO, logger="uvicorn.error"):
        logging.getLogger("uvicorn.error").info("from %s", "nguyen@gmail.com")
        logging.getLogger("some.library").warning("call 0912 345 678 or CMND %s", "123456789")
    assert caplog.messages == [f"from {EMAIL}", f"call {PHONE} or CMND {CMND}"]
    assert "0912" not in caplog.text
