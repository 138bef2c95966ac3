"""`tthc show` and `tthc catalogue report` through the installed `tthc` console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge.config import get_settings

TTHC = shutil.which("tthc", path=str(Path(sys.executable).parent)) or shutil.which("tthc")
pytestmark = [
    pytest.mark.skipif(TTHC is None, reason="the tthc console script is not installed (pip install -e .)"),
    pytest.mark.skipif(not get_settings().data_dir.is_dir(), reason="needs ../shared/data"),
]


def tthc(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TTHC_TODAY": "2026-11-23"}
    return subprocess.run([TTHC, *args], capture_output=True, text=True, env=env, timeout=600, check=False)


def fees(record: dict, kind: str, on: str = "2026-11-23") -> list[int | None]:
    """Amounts of a channel's general fee rules in force on a day; a dated rule replaces the standing one."""
    channel = next(c for c in record["channels"] if c["kind"] == kind)
    general = [
        f
        for f in channel["fees"]
        if not f["conditional"] and (f["valid_from"] or on) <= on <= (f["valid_to"] or on)
    ]
    dated = [f for f in general if f["valid_from"] or f["valid_to"]]
    return [f["amount"] for f in dated or general]


def test_show_json_residence_registration():
    result = tthc("show", "1.004222", "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["code"] == "1.004222"
    assert {c["kind"] for c in record["channels"]} <= {"truc_tiep", "truc_tuyen", "buu_chinh"}
    assert fees(record, "truc_tiep") == [20000]
    assert fees(record, "truc_tuyen") == [10000]
    for channel in record["channels"]:
        assert channel["time_limit"]["value"] == 7
        assert channel["time_limit"]["unit"] == "ngày làm việc"
        assert all(isinstance(f["amount"], int | None) for f in channel["fees"])
    assert set(record) >= {"source", "documents", "legal_basis", "online", "steps", "result", "notes"}


def test_show_json_driving_licence_fee_despite_free_column():
    record = json.loads(tthc("show", "3.000347", "--json").stdout)
    assert fees(record, "truc_tiep") == [115000]  # Thông tư 154/2025/TT-BTC from 01/01/2026
    assert fees(record, "truc_tuyen") == [115000]
    assert fees(record, "truc_tiep", on="2025-12-31") == [135000]


def test_show_birth_registration_card_lists_the_form_and_birth_certificate():
    result = tthc("show", "1.001193")
    assert result.returncode == 0, result.stderr
    assert "Tờ khai đăng ký khai sinh" in result.stdout
    assert "Giấy chứng sinh" in result.stdout
    assert "Nguồn: mã TTHC 1.001193" in result.stdout


def test_show_only_some_aspects():
    result = tthc("show", "1.004222", "--aspect", "fee")
    assert result.returncode == 0, result.stderr
    assert "20.000 đ" in result.stdout and "Hồ sơ cần chuẩn bị" not in result.stdout
    wrong = tthc("show", "1.004222", "--aspect", "price")
    assert wrong.returncode == 2 and "price" in wrong.stderr


@pytest.mark.parametrize("code", ["9.999999", "", "<script>", "1.004222' OR 1=1"])
def test_unknown_code_is_a_clear_error(code: str):
    result = tthc("show", code)
    assert result.returncode == 1
    assert "Không tìm thấy thủ tục" in result.stderr
    assert result.stdout == ""


def test_catalogue_report():
    result = tthc("catalogue", "report", "--limit", "3")
    assert result.returncode == 0, result.stderr
    assert "2864 imported" in result.stdout  # 2,849 crawled + 15 from the Vĩnh Bảo handbook
    for name in ("channels", "time_limit", "fees", "documents", "legal_basis", "steps", "result"):
        assert any(line.startswith(name) for line in result.stdout.splitlines()), name
    assert "Repairs made by the importers" in result.stdout


def test_export_is_every_record_in_the_show_json_shape(tmp_path: Path):
    out = tmp_path / "catalogue.jsonl"
    result = tthc("catalogue", "export", "--output", str(out))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) >= 2849
    assert [r["code"] for r in records] == sorted(r["code"] for r in records)
    shown = json.loads(tthc("show", "1.004222", "--json").stdout)
    assert next(r for r in records if r["code"] == "1.004222") == shown
