"""knowledge.evalsets: which lines are train lines, and the train-only citizen set among them."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge import evalsets
from knowledge.evalsets import hashed_split, load_questions

SET = """questions:
  # topic: thử
  - {q: "lam can cuoc cho con", codes: ["1.014062"]}
  - {q: "gia vang hom nay", codes: []}
  - {q: "xin tro cap that nghiep", names: ["hưởng trợ cấp thất nghiệp"]}
"""


def _write(path: Path, text: str = SET) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_forced_split_overrides_the_hash(tmp_path: Path) -> None:
    path = _write(tmp_path / "set.yaml")
    hashed = load_questions(path)
    assert [q.split for q in hashed] == [hashed_split(q.q) for q in hashed]
    forced = load_questions(path, all_in_split="train")
    assert [q.split for q in forced] == ["train"] * 3
    assert forced[1].out_of_scope and not forced[2].out_of_scope
    assert forced[2].is_hit("TL.x", "Giải quyết hưởng trợ cấp thất nghiệp")


@pytest.fixture
def sets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    paths = {
        "SHORT_SET": _write(tmp_path / "short.yaml", "questions:\n" + "".join(
            f'  - {{q: "cau ngan so {n}", codes: ["1.000894"]}}\n' for n in range(12))),
        "NARRATIVE_SET": _write(tmp_path / "narrative.yaml", (
            "questions:\n"
            '  - {q: "mot cau train", codes: ["1.001193"], split: train}\n'
            '  - {q: "mot cau test", codes: ["1.001193"], split: test}\n')),
        "CITIZEN_TRAIN_SET": _write(tmp_path / "citizen.yaml"),
    }
    for name, path in paths.items():
        monkeypatch.setattr(evalsets, name, path)
    return paths


def test_training_questions_add_every_citizen_line_and_no_test_line(sets: dict[str, Path]) -> None:
    short = load_questions(sets["SHORT_SET"])
    questions = evalsets.training_questions()
    texts = [q.q for q in questions]
    assert all(q.split == "train" for q in questions)
    assert "mot cau train" in texts and "mot cau test" not in texts
    assert {q.split for q in short} == {"train", "test"}  # the hash put lines in both splits
    assert [q.q for q in short if q.split == "train"] == [t for t in texts if t.startswith("cau ngan")]
    assert texts[-3:] == [q.q for q in load_questions(sets["CITIZEN_TRAIN_SET"])]


def test_missing_citizen_set_trains_on_the_splits_alone(sets: dict[str, Path]) -> None:
    sets["CITIZEN_TRAIN_SET"].unlink()
    assert evalsets.citizen_train_questions() == []
    assert "gia vang hom nay" not in [q.q for q in evalsets.training_questions()]


def test_committed_citizen_set_is_all_train_and_shares_no_line_with_the_eval_sets() -> None:
    citizen = evalsets.citizen_train_questions()
    assert len(citizen) >= 400
    assert {q.split for q in citizen} == {"train"}
    key = lambda text: " ".join(text.lower().split())  # noqa: E731
    others = {key(q.q) for path in (evalsets.SHORT_SET, evalsets.NARRATIVE_SET) for q in load_questions(path)}
    assert not others & {key(q.q) for q in citizen}
