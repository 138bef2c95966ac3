"""The reports export: dates as Vietnam's days, CSV cells that a spreadsheet would run are defused."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from fastapi import HTTPException

from connectors.console.reports import parse_moment, reports_csv, safe_cell


def test_a_date_is_a_day_in_vietnam_and_until_includes_it() -> None:
    assert parse_moment("2025-11-30") == datetime(2025, 11, 29, 17, 0, tzinfo=UTC)
    assert parse_moment("2025-11-30", end_of_day=True) == datetime(2025, 11, 30, 17, 0, tzinfo=UTC)
    assert parse_moment("2025-11-30T08:00:00+07:00") == datetime(2025, 11, 30, 1, 0, tzinfo=UTC)
    assert parse_moment("2025-11-30T08:00:00Z") == datetime(2025, 11, 30, 8, 0, tzinfo=UTC)
    assert parse_moment("") is None and parse_moment(None) is None
    with pytest.raises(HTTPException) as wrong:
        parse_moment("30/11/2025")
    assert wrong.value.status_code == 422


@pytest.mark.parametrize("value", ["=1+1", "+84912", "-2", "@SUM(A1)", "\t=x", "\r=x"])
def test_formula_cells_are_prefixed(value: str) -> None:
    assert safe_cell(value) == "'" + value


def test_plain_cells_stay() -> None:
    assert safe_cell("bản sao sổ hộ khẩu") == "bản sao sổ hộ khẩu"
    assert safe_cell(None) == "" and safe_cell("1.004194") == "1.004194"


def test_csv_has_a_bom_vietnamese_headers_and_quotes_what_needs_it() -> None:
    report = {
        "reference": "PA-251201-K7M2Q", "at": "2025-12-01T03:00:00+00:00", "channel": "zalo",
        "procedure_code": "1.004194", "procedure_name": "Đăng ký tạm trú", "province": "Thành phố Hà Nội",
        "commune": "Phường Hoàn Kiếm", "place_text": 'P. Hàng Trống, "Q. Hoàn Kiếm"',
        "asked": "=HYPERLINK(\"http://x\")\nvà bản sao",
    }  # fmt: skip
    text = reports_csv([report])
    assert text.startswith("\ufeff")
    header, row = list(csv.reader(io.StringIO(text[1:])))
    assert header[0] == "Mã phản ánh" and header[-1] == "Giấy tờ bị yêu cầu thêm"
    assert row[1] == "2025-12-01 10:00"  # Vietnam time
    assert row[7] == 'P. Hàng Trống, "Q. Hoàn Kiếm"'
    assert row[8] == '\'=HYPERLINK("http://x")\nvà bản sao'
