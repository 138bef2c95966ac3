"""The catalogue ships with the project: the committed file is the rebuilt catalogue, byte for byte,
and the app loads it with no raw data beside the project."""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

import pytest

from knowledge.catalogue import (
    CatalogueError,
    build_catalogue,
    export_bytes,
    export_line,
    export_lines,
    load_catalogue,
    read_catalogue_file,
)
from knowledge.config import get_settings
from knowledge.diff import diff_catalogues
from knowledge.schema import Procedure, Source

SETTINGS = get_settings()
COMMITTED = SETTINGS.catalogue_file


def test_the_committed_catalogue_is_there_and_deterministic():
    assert COMMITTED.is_file(), "knowledge/data/catalogue.jsonl.gz is missing: run `tthc catalogue build`"
    data = COMMITTED.read_bytes()
    assert data[4:8] == b"\0\0\0\0", "gzip mtime must be 0"
    lines = gzip.decompress(data).decode("utf-8").splitlines()
    codes = [Procedure.model_validate_json(line).code for line in lines]
    assert codes == sorted(codes) and len(codes) == len(set(codes))
    assert export_bytes(read_catalogue_file(COMMITTED).values()) == data


def test_the_committed_catalogue_is_not_stale():
    if not SETTINGS.data_dir.is_dir():
        pytest.skip(f"no raw data at {SETTINGS.data_dir}: the committed catalogue is not checked against it")
    built = build_catalogue(SETTINGS).procedures
    committed = read_catalogue_file(COMMITTED)
    if built != committed:
        summary = diff_catalogues(committed, built).render(limit=3).splitlines()
        pytest.fail(
            "knowledge/data/catalogue.jsonl.gz is stale against the raw data, importers or curated records; "
            "run `tthc catalogue build`:\n" + "\n".join(summary[:30] + summary[-1:])
        )


def test_the_app_loads_the_committed_file_without_raw_data(tmp_path: Path):
    settings = dataclasses.replace(SETTINGS, shared_dir=tmp_path / "no-shared", var_dir=tmp_path)
    catalogue = load_catalogue(settings)
    assert len(catalogue) == len(read_catalogue_file(COMMITTED)) >= 2849
    assert catalogue.get("1.004222").curated
    assert catalogue.get("1.008904").channels


def test_a_catalogue_file_is_read_plain_or_gzipped_and_a_bad_one_names_its_line(tmp_path: Path):
    source = Source(url="https://dichvucong.gov.vn")
    records = [Procedure(code=f"1.00000{n}", name=f"Thủ tục {n}", source=source) for n in (1, 2)]
    text = "".join(line + "\n\n" for line in export_lines(records))
    plain, gzipped = tmp_path / "catalogue.jsonl", tmp_path / "catalogue.jsonl.gz"
    plain.write_text(text, encoding="utf-8")
    gzipped.write_bytes(export_bytes(records))
    assert read_catalogue_file(plain) == read_catalogue_file(gzipped) == {p.code: p for p in records}

    plain.write_text(text + '{"code": "1.000003"}\n', encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"catalogue.jsonl:5: invalid record"):
        read_catalogue_file(plain)
    gzipped.write_bytes(export_bytes(records)[:-12])
    with pytest.raises(CatalogueError, match="cannot read the catalogue file"):
        read_catalogue_file(gzipped)
    with pytest.raises(CatalogueError, match="cannot read the catalogue file"):
        read_catalogue_file(tmp_path / "missing.jsonl.gz")


def test_records_read_from_a_file_share_their_field_sets_and_texts_and_still_copy_apart():
    committed = read_catalogue_file(COMMITTED)
    shapes = {id(p.model_fields_set) for p in committed.values()}
    assert len(shapes) < 50 < len(committed)
    limits = [c.time_limit for p in committed.values() for c in p.channels if c.time_limit]
    notes = [limit.note for limit in limits if limit.note]
    assert len({id(note) for note in notes}) == len(set(notes)) < len(notes)
    first = next(iter(committed.values()))
    changed = first.model_copy(update={"summary": "Tóm tắt"})
    assert "summary" in changed.model_fields_set and changed.model_fields_set is not first.model_fields_set
    reparsed = Procedure.model_validate_json(export_line(first))
    assert first.model_dump(exclude_unset=True) == reparsed.model_dump(exclude_unset=True)


def test_diff_shows_each_changed_fact():
    source = Source(url="https://dichvucong.gov.vn")
    old = {"1.000001": Procedure(code="1.000001", name="A", agency="UBND cấp xã", source=source),
           "1.000002": Procedure(code="1.000002", name="B", source=source)}
    new = {"1.000001": old["1.000001"].model_copy(update={"agency": "Công an cấp xã", "steps": ["Nộp"]}),
           "1.000003": Procedure(code="1.000003", name="C", source=source)}
    diff = diff_catalogues(old, new)
    assert [p.code for p in diff.added] == ["1.000003"] and [p.code for p in diff.removed] == ["1.000002"]
    (change,) = diff.changed
    assert change.changed == [("agency", '"UBND cấp xã"', '"Công an cấp xã"')]
    assert ("steps[0]", '"Nộp"') in change.added
    assert diff.render().splitlines()[-1] == "1 added, 1 removed, 1 changed (3 facts)"
