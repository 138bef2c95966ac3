"""The analytics' pure parts: the window's parsing and days, CSV cells, the eval-set export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from connectors.console.analytics import DEFAULT_LOW_CONFIDENCE, Window, WindowError, parse_window
from connectors.console.analytics_api import csv_text, eval_yaml

NOW = datetime(2026, 12, 1, 5, 30, tzinfo=UTC)


def test_the_default_window_is_the_last_30_days() -> None:
    window = parse_window(None, None, now=NOW)
    assert (window.since, window.until) == (NOW - timedelta(days=30), NOW)
    assert window.low_confidence == DEFAULT_LOW_CONFIDENCE
    assert len(window.days) == 31 and window.days[-1] == "2026-12-01"  # 12:30 in Vietnam


def test_dates_are_midnight_in_vietnam_and_offsets_are_kept() -> None:
    window = parse_window("2026-11-01", "2026-11-08")
    assert window.since == datetime(2026, 10, 31, 17, tzinfo=UTC)
    assert window.until == datetime(2026, 11, 7, 17, tzinfo=UTC)
    assert window.days == [f"2026-11-0{day}" for day in range(1, 8)]
    moments = parse_window("2026-11-01T08:00", "2026-11-01T10:00:00+00:00")
    assert moments.since == datetime(2026, 11, 1, 1, tzinfo=UTC)  # no offset: Vietnam's time
    assert moments.until == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert moments.days == ["2026-11-01"]


@pytest.mark.parametrize(
    ("since", "until", "low", "message"),
    [
        ("01/11/2026", None, None, "since"),
        ("2026-11-02", "2026-11-01", None, "since phải trước until"),
        ("2026-11-01", "2026-11-01", None, "since phải trước until"),
        ("2024-01-01", "2026-01-01", None, "400 ngày"),
        (None, None, "-0.1", "low_confidence"),
        (None, None, "cao", "low_confidence"),
    ],
)
def test_windows_that_make_no_sense_are_refused(
    since: str | None, until: str | None, low: str | None, message: str
) -> None:
    with pytest.raises(WindowError, match=message):
        parse_window(since, until, low, now=NOW)


def test_csv_has_a_bom_and_no_cell_a_spreadsheet_would_run() -> None:
    table = {
        "columns": ["Câu hỏi", "Số"],
        "rows": [["=1+1", 3], ["+84 912", None], ["-x", 0], ["@SUM(A1)", 1.5], ["bình thường", 2]],
    }
    text = csv_text(table)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows == [
        ["Câu hỏi", "Số"],
        ["'=1+1", "3"],
        ["'+84 912", ""],
        ["'-x", "0"],
        ["'@SUM(A1)", "1.5"],
        ["bình thường", "2"],
    ]


def test_the_eval_export_loads_as_an_eval_set_without_duplicates() -> None:
    window = Window(NOW - timedelta(days=1), NOW)
    item = {"channel": "web", "procedure": None, "reason": None, "comment": None, "confidence": None}
    items = [
        {**item, "kind": "not_found", "text": 'Làm "sổ đỏ": ở đâu?  # cần gấp'},
        {**item, "kind": "feedback_down", "text": 'làm  "sổ đỏ": ở đâu?  # CẦN GẤP', "reason": "outdated"},
        {**item, "kind": "out_of_scope", "text": "- giá vàng"},
        {**item, "kind": "feedback_down", "text": None},
    ]
    text = eval_yaml(items, window)
    assert text.startswith("#") and "codes" in text.split("questions:")[0]
    assert yaml.safe_load(text) == {
        "questions": [
            {"q": 'Làm "sổ đỏ": ở đâu? # cần gấp', "codes": []},
            {"q": "- giá vàng", "codes": []},
        ]
    }
