"""The catalogue ships with the project: the committed file is the rebuilt catalogue, byte for byte,
and the app loads it with no raw data beside the project."""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

import pytest

from knowledge.catalogue import (
    build_catalogue,
    export_bytes,
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
