"""The catalogue audit: its checks find the faults they name, and no count rises above the baseline."""

from __future__ import annotations

from datetime import date

import pytest

from knowledge import audit
from knowledge.catalogue import get_catalogue
from knowledge.config import get_settings
from knowledge.schema import Channel, ChannelKind, Fee, LegalRef, Procedure, Source

TODAY = date(2026, 12, 1)


def test_a_number_glued_to_the_end_of_a_title_is_not_in_the_raw_text():
    raw = "Luật Bảo vệ môi trường số 72/2020/QH1472/2020/QH14Nghị định 08/2022/NĐ-CP"
    assert audit.number_in_text("72/2020/QH14", raw)
    assert not audit.number_in_text("1472/2020/QH14", raw)
    assert audit.number_in_text("08/2022/NĐ-CP", raw)
    assert audit.number_in_text("68/2020/QH14", "Luật Cư trú 202068/2020/QH14")
    assert not audit.number_in_text("8/2020/QH14", "Luật Cư trú 68/2020/QH14")


def _record(**fields) -> Procedure:
    base = {"code": "9.999999", "name": "Thủ tục thử", "source": Source(url="https://dichvucong.gov.vn")}
    return Procedure(**{**base, **fields})


def test_each_invariant_finds_its_fault_on_a_small_record():
    proc = _record(
        agency="Công an huyện",
        steps=["-", "Nộp hồ sơ -"],
        channels=[Channel(kind=ChannelKind.truc_tiep, fees=[Fee(amount=40)])],
        legal_basis=[LegalRef(code="51/2019/QH14", title="Luật")],
        result=["Giấy phépMã: KQ.G01.000251"],
    )
    found = audit.audit([proc], {}, TODAY).counts()
    for name in ("district_body", "step_empty", "step_stray_mark", "fee_below_1000", "legal_title_bare",
                 "result_code_residue"):
        assert found[name] == 1, name
    assert found["no_agency"] == 0
    assert found["no_source"] == 0
    clean = audit.audit([_record(agency="UBND cấp xã", steps=["Nộp hồ sơ."])], {}, TODAY).counts()
    assert clean["district_body"] == clean["step_empty"] == clean["step_stray_mark"] == 0


def test_the_baseline_only_goes_down(tmp_path):
    path = tmp_path / "baseline.json"
    path.write_text('{"step_empty": 5}', encoding="utf-8")
    assert audit.write_baseline({"step_empty": 9, "no_agency": 3}, path) == {"step_empty": 5, "no_agency": 3}
    assert audit.rises({"step_empty": 6}, {"step_empty": 5}, with_raw=True) == {"step_empty": (6, 5)}
    assert audit.rises({"legal_number_not_in_raw": 9}, {}, with_raw=False) == {}


def test_no_audit_count_rises_above_the_committed_baseline():
    settings = get_settings()
    raw = audit.load_raw(settings) if settings.data_dir.is_dir() else {}
    result = audit.audit(get_catalogue(), raw, TODAY, audit.read_exceptions())
    risen = audit.rises(result.counts(), audit.read_baseline(), result.with_raw)
    examples = {name: sorted(result.findings[name].items())[:3] for name in risen}
    assert not risen, f"audit counts above the baseline {risen}; e.g. {examples}"
    assert not result.stale, f"listed exceptions no longer found: {result.stale}"


def test_a_listed_exception_does_not_count_and_a_stale_one_is_reported(tmp_path):
    proc = _record(agency="Công an huyện")
    reason = "the source names this body and no other; nothing else in the record names a place"
    path = tmp_path / "exceptions.yaml"
    path.write_text(f"district_body:\n  '9.999999': {reason}\n  '1.000001': {reason}\n", encoding="utf-8")
    result = audit.audit([proc], {}, TODAY, audit.read_exceptions(path))
    assert result.counts()["district_body"] == 0
    assert result.excepted["district_body"] == {"9.999999": reason}
    assert result.stale == [("district_body", "1.000001")]
    assert "+1 listed as exceptions" in result.render() and "STALE" in result.render()
    for text in ("district_body:\n  '9.999999': ''\n", "no_such_check:\n  '9.999999': " + reason, "[1, 2"):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(audit.ExceptionsError):
            audit.read_exceptions(path)


@pytest.mark.parametrize("name", audit.CHECK_NAMES)
def test_every_check_has_a_baseline(name: str):
    assert name in audit.read_baseline()


def test_an_ellipsis_the_source_wrote_is_no_cut_and_an_automatic_answer_is_a_time():
    catalogue = {proc.code: proc for proc in get_catalogue()}
    found = audit.audit([catalogue["1.007859"], catalogue["1.012921"], catalogue["1.009824"]], {}, TODAY)
    papers = [d.name for case in catalogue["1.007859"].documents for d in case.documents]
    assert any("Phiếu xuất kho…" in name for name in papers)
    assert found.counts()["document_or_condition_cut"] == 0
    assert found.counts()["time_not_honest"] == 0
