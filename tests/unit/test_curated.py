"""Every curated record loads, validates and is internally consistent.

Curated records override the imported ones, so a broken or incomplete file would hide a
good crawl record behind a bad one. Linked codes are checked against the curated folder and
the raw crawl files directly.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from knowledge.config import get_settings
from knowledge.schema import Procedure

CURATED_DIR = get_settings().curated_dir
CURATED_FILES = sorted(CURATED_DIR.glob("*.yaml"))
MIN_CURATED = 60


def _load(path: Path) -> Procedure:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name}: top level is not a mapping"
    return Procedure.model_validate(data)


def _crawled_codes() -> set[str]:
    data_dir = get_settings().data_dir
    files = list((data_dir / "procedures-dvcqg" / "raw").glob("*/*.json"))
    files += list((data_dir / "procedures-bqp" / "raw").glob("*.json"))
    return {path.stem for path in files}


@pytest.fixture(scope="module")
def curated() -> dict[str, Procedure]:
    return {path.stem: _load(path) for path in CURATED_FILES}


def test_enough_curated_records() -> None:
    assert len(CURATED_FILES) >= MIN_CURATED, f"only {len(CURATED_FILES)} curated records"


@pytest.mark.parametrize("path", CURATED_FILES, ids=lambda p: p.stem)
def test_record_is_valid_and_complete(path: Path) -> None:
    record = _load(path)
    assert record.code == path.stem, "file name must equal the code"
    assert record.curated is True
    assert record.source.origin == "curated"
    # Verified (with a date) only when every fact was checked; otherwise the unchecked fields are named.
    assert (record.source.verified is None) == bool(record.unverified), "verified date xor unverified fields"
    known = {*Procedure.model_fields, "fees", "time_limit"}  # the two channel facts by their own name
    assert set(record.unverified) <= known, f"unknown fields {record.unverified}"
    assert record.source.url or record.legal_basis, "needs a source url or a legal basis"
    assert record.aliases, "aliases missing"
    assert all(alias.strip() for alias in record.aliases)
    assert record.name.strip() and record.agency
    assert record.channels, "no channel to file through"
    assert len({channel.kind for channel in record.channels}) == len(record.channels)
    assert record.documents or record.notes or record.editor_notes, "no document list and no note why"
    assert record.steps and record.result


@pytest.mark.parametrize("path", CURATED_FILES, ids=lambda p: p.stem)
def test_no_pre_reform_wording(path: Path) -> None:
    record = _load(path)
    texts = [record.agency or "", *record.steps]
    assert not [text for text in texts if "cấp huyện" in text.lower()]


@pytest.mark.parametrize("path", CURATED_FILES, ids=lambda p: p.stem)
def test_fees_are_consistent(path: Path) -> None:
    for channel in _load(path).channels:
        for fee in channel.fees:
            assert fee.amount is None or fee.amount >= 0
            assert fee.amount is not None or fee.note or fee.set_by_province, "unexplained empty fee"
            if fee.valid_from and fee.valid_to:
                assert fee.valid_from <= fee.valid_to
        limit = channel.time_limit
        assert limit is None or limit.value is None or limit.unit, f"{channel.kind.value}: time without unit"


def test_linked_codes_resolve(curated: dict[str, Procedure]) -> None:
    known = set(curated) | _crawled_codes()
    dangling = {
        code: [link for link in record.linked if link not in known] for code, record in curated.items()
    }
    assert not {code: links for code, links in dangling.items() if links}


def test_linked_codes_are_not_self_references(curated: dict[str, Procedure]) -> None:
    assert not [code for code, record in curated.items() if code in record.linked]


def test_loader_rejects_unknown_field(tmp_path: Path) -> None:
    bad = tmp_path / "9.999999.yaml"
    bad.write_text("code: '9.999999'\nname: x\nsource: {}\nsurprise: 1\n", encoding="utf-8")
    with pytest.raises(ValueError):
        _load(bad)


@pytest.mark.parametrize("path", CURATED_FILES, ids=lambda p: p.stem)
def test_notes_about_the_source_are_for_editors(path: Path) -> None:
    for note in _load(path).notes:
        lowered = note.lower()
        assert not any(word in lowered for word in ("cần kiểm tra", "nên kiểm tra", "bản ghi", "cột phí"))
